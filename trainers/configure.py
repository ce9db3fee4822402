"""Compose the training config: defaults < the dataset's preset < --config TOML < command-line overrides."""

from __future__ import annotations

from liegan.config import TrainCommandConfig, apply_overrides, load_toml
from liegan.datasets import get_spec
from liegan.io import InputError


def resolve_config(dataset: str | None = None, preset: str | None = None, toml_path: str | None = None,
                   overrides: dict | None = None) -> TrainCommandConfig:
    """overrides: {'section.field': value} from the command line (None values are ignored)."""
    file_cfg = load_toml(toml_path) if toml_path else {}
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    name = dataset or overrides.get("data.dataset") or file_cfg.get("data", {}).get("dataset") or "twobody"
    preset = preset or file_cfg.get("run", {}).get("preset") or "default"
    spec = get_spec(name)
    if preset not in spec.presets and not (preset == "default" and not spec.presets):
        raise InputError(f"dataset {name!r} has no preset {preset!r} (presets: {sorted(spec.presets)})")
    cfg = TrainCommandConfig()
    apply_overrides(cfg, spec.presets.get(preset, {}), source=f"preset {name}:{preset}")
    apply_overrides(cfg, file_cfg, source=str(toml_path))
    apply_overrides(cfg, overrides, source="command line")
    cfg.data.dataset, cfg.run.preset = name, preset
    return cfg
