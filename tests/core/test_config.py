import pytest

from liegan.config import TrainCommandConfig, apply_overrides, config_from_dict, load_toml, to_toml
from liegan.io import InputError
from liegan.trainers import resolve_config


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
