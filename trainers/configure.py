"""The one place a training config is composed, for every caller (train, resume, torchrun workers, bridge,
benchmarks): defaults < the dataset's preset < a TOML file < command-line options; on resume, the run's own
saved config with the few options that may change.  Every value is checked as it is applied (its type and
limits, liegan.config) and the result as a whole (:meth:`TrainCommandConfig.check`), so a bad value stops
the command with one line naming it before anything is loaded or created."""

from __future__ import annotations

import copy
from pathlib import Path

from liegan.algebra import subgroup_basis
from liegan.config import TrainCommandConfig, apply_overrides, config_from_dict, load_toml
from liegan.datasets import get_spec
from liegan.io import InputError
from liegan.trainers.checkpoint import CHECKPOINT_DIR, LAST, PREV, load_latest

# what may differ on --resume: how long, where and how often to save; none of it changes the trajectory
RESUMABLE = (
    "train.epochs",
    "train.device",
    "train.threads",
    "train.checkpoint_every",
    "train.log_every",
    "data.data_dir",
)


def set_options(items: list[str]) -> tuple[dict, dict[str, str]]:
    """``--set SECTION.KEY=VALUE`` items as overrides, with their labels for errors."""
    overrides, labels = {}, {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq:
            raise InputError(f"--set {item!r}: expected SECTION.KEY=VALUE")
        overrides[key.strip()], labels[key.strip()] = value.strip(), f"--set {key.strip()}"
    return overrides, labels


def resolve_config(
    dataset: str | None = None,
    preset: str | None = None,
    toml_path: str | None = None,
    overrides: dict | None = None,
    labels: dict[str, str] | None = None,
) -> TrainCommandConfig:
    """overrides: {'section.field': value} from the command line (None values mean 'not given'); labels name
    each key's option in errors (e.g. 'train.batch_size' -> '--batch-size')."""
    file_cfg = load_toml(toml_path) if toml_path else {}
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    given |= {k: v for k, v in (("data.dataset", dataset), ("run.preset", preset)) if v is not None}
    # the dataset and preset are values like any other: read them from the file and options composed
    probe = apply_overrides(TrainCommandConfig(), file_cfg, source=str(toml_path))
    probe = apply_overrides(probe, given, source="command line", labels=labels)
    name, preset = probe.data.dataset, probe.run.preset
    spec = get_spec(name)
    if preset not in spec.presets and not (preset == "default" and not spec.presets):
        raise InputError(f"dataset {name!r} has no preset {preset!r} (presets: {sorted(spec.presets)})")
    cfg = TrainCommandConfig()
    apply_overrides(cfg, spec.presets.get(preset, {}), source=f"preset {name}:{preset}")
    apply_overrides(cfg, file_cfg, source=str(toml_path))
    apply_overrides(cfg, given, source="command line", labels=labels)
    chosen = {f"{s}.{k}" for s, body in file_cfg.items() if isinstance(body, dict) for k in body} | set(given)
    return _subgroup_mode(cfg, chosen).check()


# what subgroup mode sets: the file's generators as they are (no mask, no rescaling)
SUBGROUP_SETS = {"generator.mask": "none", "generator.fixed_norm": 0.0}


def _subgroup_mode(cfg: TrainCommandConfig, chosen: set[str]) -> TrainCommandConfig:
    """With generator.subgroup_from: the algebra file read (one line naming it if it is not one), subgroup
    mode on, and the generator shaped to the file's basis (its channel count, no mask, no rescaling).  A value
    the file or options chose that contradicts the basis is refused rather than silently replaced.  Whether
    the basis acts on the data's dimension is known once the data are loaded (the trainer checks it)."""
    g = cfg.generator
    if g.subgroup_from is None:
        return cfg
    where = cfg._where("generator.subgroup_from")
    path = Path(g.subgroup_from).expanduser()
    basis = subgroup_basis(str(path))
    sets = SUBGROUP_SETS | {"generator.channels": int(basis.shape[0]), "generator.subgroup": True}
    for key, value in sets.items():
        if key in chosen and _value(cfg, key) != value:
            raise InputError(
                f"{cfg._where(key)}: {_value(cfg, key)!r} contradicts {where} (subgroup mode uses the file's "
                f"{basis.shape[0]} generator(s) as they are: {key} = {value!r}); drop one of the two"
            )
    apply_overrides(cfg, sets, source=where)
    g.subgroup_from = str(path.resolve())  # a resumed run or a torchrun worker may start in another folder
    return cfg


def resume_config(
    run_dir: str | Path,
    epochs: int | None = None,
    device: str | None = None,
    overrides: dict | None = None,
    labels: dict[str, str] | None = None,
) -> TrainCommandConfig:
    """The config saved in a run's checkpoint, with the options given now applied where they may change
    (RESUMABLE) and refused where they would not continue the same run.
    A config.toml edited since the run wrote it is refused too: the checkpoint's config is the run's."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(f"{run_dir}: no such run folder")
    if not any((run_dir / CHECKPOINT_DIR / name).exists() for name in (LAST, PREV)):
        raise InputError(
            f"{run_dir}: no checkpoint to resume from (the run stopped before its first one); "
            f"start it again with --name {run_dir.name}"
        )
    state, used = load_latest(run_dir / CHECKPOINT_DIR, warn=False)
    cfg = config_from_dict(state["config"], source=f"{used} (its stored config)")
    _check_config_file(run_dir / "config.toml", cfg)
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    given |= {k: v for k, v in (("train.epochs", epochs), ("train.device", device)) if v is not None}
    labels = labels or {}
    new = apply_overrides(copy.deepcopy(cfg), given, source="command line", labels=labels)
    for key in given:
        before, after = _value(cfg, key), _value(new, key)
        if before == after:
            continue
        if key not in RESUMABLE:
            raise InputError(
                f"{labels.get(key, key)}: cannot change on --resume (the run has {key} = {before!r}; "
                f"what may change: {', '.join(RESUMABLE)}); start a new run to use {after!r}"
            )
    if new.train.epochs < state["epoch"]:
        raise InputError(
            f"{labels.get('train.epochs', 'train.epochs')}: the run has already trained "
            f"{state['epoch']} epochs; allowed: at least {state['epoch']}"
        )
    return new.check()  # the run folder says what changed once the run starts (run_folder.RunFolder.resume)


def _value(cfg: TrainCommandConfig, key: str):
    section, _, name = key.partition(".")
    return getattr(getattr(cfg, section), name)


def _check_config_file(path: Path, cfg: TrainCommandConfig) -> None:
    """config.toml says what the run is; an edit there would be ignored (and left wrong) by a resume."""
    if not path.exists():
        return
    written = config_from_dict(load_toml(path), source=str(path)).to_dict()
    for section, body in cfg.to_dict().items():
        for key, value in body.items():
            if written[section][key] != value:
                raise InputError(
                    f"{path}: {section}.{key} = {written[section][key]!r} differs from the run's "
                    f"checkpoint ({value!r}); undo the edit, or start a new run with --config {path}"
                )
