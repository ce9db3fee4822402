from typing import get_args

import pytest

from liegan.config import TrainCommandConfig, _field_types, apply_overrides, config_from_dict, load_toml, to_toml
from liegan.datasets import REGISTRY
from liegan.io import InputError
from liegan.trainers import resolve_config
from liegan.trainers.configure import set_options


def test_toml_round_trip(tmp_path):
    cfg = TrainCommandConfig()
    apply_overrides(
        cfg,
        {
            "train.lr_g": "0.01",
            "discriminator.hidden": "64,32",
            "generator.subgroup": "true",
            "generator.subgroup_from": "so2/algebra.npz",
        },
    )
    (tmp_path / "c.toml").write_text(to_toml(cfg.to_dict()))
    back = config_from_dict(load_toml(tmp_path / "c.toml"))
    assert back == cfg
    assert back.train.lr_g == 0.01 and back.discriminator.hidden == [64, 32] and back.generator.subgroup is True


def test_subgroup_mode_needs_the_basis_it_keeps():
    cfg = apply_overrides(TrainCommandConfig(), {"generator.subgroup": "true"}, labels={"generator.subgroup": "--set"})
    with pytest.raises(InputError, match="--subgroup-from"):
        cfg.check()


def test_unknown_keys_and_bad_values_are_errors():
    with pytest.raises(InputError, match="unknown option 'train.lr'"):
        apply_overrides(TrainCommandConfig(), {"train.lr": 1})
    with pytest.raises(InputError, match="unknown config section"):
        apply_overrides(TrainCommandConfig(), {"nope.x": 1})
    with pytest.raises(InputError, match=r"train.epochs: got 'abc'; allowed: an integer"):
        apply_overrides(TrainCommandConfig(), {"train.epochs": "abc"})


def test_list_options_from_the_command_line():
    for text in ("64,64", "[64, 64]", " [64,64] "):
        assert apply_overrides(TrainCommandConfig(), {"discriminator.hidden": text}).discriminator.hidden == [64, 64]
    assert apply_overrides(TrainCommandConfig(), {"discriminator.hidden": "[]"}).discriminator.hidden == []
    assert apply_overrides(TrainCommandConfig(), {"train.betas_g": "[0.9, 0.99]"}).train.betas_g == [0.9, 0.99]
    with pytest.raises(InputError, match=r"discriminator.hidden: got '\[64; 64\]'"):
        apply_overrides(TrainCommandConfig(), {"discriminator.hidden": "[64; 64]"})


def test_resolution_order_defaults_preset_file_cli(tmp_path):
    (tmp_path / "c.toml").write_text("[train]\nepochs = 7\nbatch_size = 32\n[generator]\nchannels = 2\n")
    cfg = resolve_config("twobody", "paper", str(tmp_path / "c.toml"), {"train.batch_size": "16", "train.seed": None})
    assert cfg.generator.mask == "blocks:2,2,2,2"  # from the paper preset
    assert cfg.train.epochs == 7 and cfg.generator.channels == 2  # the file overrides the preset
    assert cfg.train.batch_size == 16  # the command line overrides the file
    assert cfg.train.seed == 0  # None means "not given"


PRESETS = [(name, preset) for name, spec in sorted(REGISTRY.items()) for preset in sorted(spec.presets)]


def _as_option(value) -> str:
    """A value as `--set` spells it."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def _another(key: str, value):
    """A valid value other than ``value`` for the field ``key``."""
    section, _, name = key.partition(".")
    typ, _ = _field_types(type(getattr(TrainCommandConfig(), section)))[name]
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value - 1 if name == "int_low" else value + 1  # int_low stays <= int_high
    if isinstance(value, float):
        return value / 2 if value else 0.5
    if isinstance(value, list):
        return [v + 1 for v in value]
    choices = [a for a in get_args(typ) if isinstance(a, str)]  # a Literal (inside X | None or not)
    choices = choices or [a for t in get_args(typ) for a in get_args(t) if isinstance(a, str)]
    return next(c for c in choices or ["none", "affine"] if c != value)


@pytest.mark.parametrize("name,preset", PRESETS, ids=[f"{n}-{p}" for n, p in PRESETS])
def test_every_preset_value_is_composed_and_set_overrides_it(name, preset):
    body = REGISTRY[name].presets[preset]
    resolved = resolve_config(name, preset)
    for key, value in ((f"{section}.{k}", v) for section, fields in body.items() for k, v in fields.items()):
        section, _, field = key.partition(".")
        assert getattr(getattr(resolved, section), field) == value, key
        other = _another(key, value)
        overrides, labels = set_options([f"{key}={_as_option(other)}"])
        got = getattr(getattr(resolve_config(name, preset, overrides=overrides, labels=labels), section), field)
        assert got == other and got != value, (key, got)


def test_unknown_dataset_and_preset():
    with pytest.raises(InputError, match="unknown dataset 'nope'"):
        resolve_config("nope")
    with pytest.raises(InputError, match="no preset 'nope'"):
        resolve_config("twobody", "nope")


def test_missing_or_invalid_toml(tmp_path):
    with pytest.raises(InputError, match="config file not found"):
        load_toml(tmp_path / "none.toml")
    (tmp_path / "bad.toml").write_text("[train\n")
    with pytest.raises(InputError, match="not a valid TOML"):
        load_toml(tmp_path / "bad.toml")
