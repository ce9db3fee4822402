"""Faults during training: the monitor's rules on hand-made health values (with healthy controls), then
real runs where a hook breaks the generator: non-finite values, an exploding norm, a discriminator that
separates everything.  Each ends in a recovery (learning rates halved, last epoch boundary reloaded) or a
clear TrainingError, and the run folder is always consistent."""

import functools
import math

import pytest
import torch

from liegan import load_algebra
from liegan.algebras import twobody_so2
from liegan.config import TrainConfig
from liegan.io import TrainingError
from liegan.trainers import train
from liegan.trainers.checkpoint import load_checkpoint
from liegan.trainers.faults import FaultMonitor, health

HEALTHY = [0.0, 8.0, 0.5, 0.5, 0.0]  # [non-finite, norm, real prob, fake prob, stop]


@pytest.fixture
def small_cfg(small_cfg):
    """Three epochs with a checkpoint after each: a recovery has an epoch boundary to go back to."""
    return functools.partial(small_cfg, **{"train.epochs": 3, "train.checkpoint_every": 1})


def assert_consistent(run):
    """Every file in the run folder is complete and readable; nothing half-written is left."""
    assert not [p for p in run.rglob("*") if p.name.endswith(".tmp")]
    import tomllib

    tomllib.loads((run / "config.toml").read_text())
    for p in (run / "checkpoints").glob("*.pt"):
        load_checkpoint(p)
    if (run / "algebra.npz").exists():
        load_algebra(run)


# ---------------------------------------------------------------------------------------------- monitor


def test_monitor_rules_and_healthy_control():
    m = FaultMonitor(TrainConfig(max_generator_norm=100, collapse_prob=0.01, collapse_steps=3))
    assert all(m.check(HEALTHY) is None for _ in range(100))
    assert m.check([1.0, 8.0, 0.5, 0.5, 0.0])[0] == "non-finite"
    kind, detail = m.check([0.0, 101.0, 0.5, 0.5, 0.0])
    assert kind == "exploding generator" and "101" in detail
    assert m.check([0.0, 99.0, 0.5, 0.5, 0.0]) is None
    saturated = [0.0, 8.0, 0.999, 0.001, 0.0]
    assert m.check(saturated) is None and m.check(saturated) is None
    assert m.check(HEALTHY) is None, "a healthy step resets the count"
    assert m.check(saturated) is None and m.check(saturated) is None
    kind, detail = m.check(saturated)
    assert kind == "collapsed discriminator" and "3 steps" in detail
    off = FaultMonitor(TrainConfig(max_generator_norm=0, collapse_steps=0))
    assert all(off.check([0.0, 1e9, 1.0, 0.0, 0.0]) is None for _ in range(10)), "0 disables a check"


def test_health_vector():
    stats = {
        "loss/generator": torch.tensor(1.0),
        "disc/real_prob": torch.tensor(0.7),
        "disc/fake_prob": torch.tensor(0.2),
    }
    L = torch.zeros(2, 3, 3)
    L[1, 0, 1] = 3.0
    L[1, 1, 0] = -4.0
    h = health(stats, L, stop=True).tolist()
    assert h == pytest.approx([0.0, 5.0, 0.7, 0.2, 1.0])
    assert health({**stats, "loss/generator": torch.tensor(math.inf)}, L, False)[0] == 1.0
    L[0, 0, 0] = math.nan
    assert health(stats, L, False)[0] == 1.0


# ----------------------------------------------------------------------------------------------- in runs


def _huge_rotation(norm: float) -> torch.Tensor:
    """so(2) of the two-body problem scaled to Frobenius norm ``norm``: exp(z L) stays a finite rotation, so
    only the norm check can notice (a real explosion grows step by step and is caught the same way)."""
    J = torch.as_tensor(twobody_so2()[0], dtype=torch.float32)
    return norm * J / J.norm()


def test_exploding_generator_stops_with_a_clear_message(tmp_path, small_cfg):
    def explode(trainer):
        if trainer.global_step == 20:
            with torch.no_grad():
                trainer.G.L.copy_(_huge_rotation(2000.0).expand_as(trainer.G.L))

    with pytest.raises(
        TrainingError,
        match=r"exploding generator at epoch 1, step 20: .*norm 2000 > "
        r"max_generator_norm 1000.*last good checkpoint.*lower learning rate",
    ):
        train(small_cfg(**{"train.fault_retries": 0}), progress=False, on_step=explode)
    run = tmp_path / "run"
    assert_consistent(run)
    assert not (run / "algebra.npz").exists(), "no algebra exported from a failed run"
    assert load_checkpoint(run / "checkpoints" / "last.pt")["epoch"] == 1


def test_one_non_finite_step_is_recovered_with_halved_learning_rates(tmp_path, capsys, small_cfg):
    fired = []

    def poison_once(trainer):
        if trainer.global_step == 20 and not fired:
            fired.append(True)
            with torch.no_grad():
                trainer.G.L.fill_(math.nan)

    cfg = small_cfg()
    result = train(cfg, progress=False, on_step=poison_once)
    err = capsys.readouterr().err
    assert "non-finite loss/generator" in err and ", generator at epoch 1, step 20" in err
    assert "recovery 1/2" in err and "halved" in err
    assert not result.interrupted and result.metrics["epochs"] == 3
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert state["recoveries"] == 1
    assert state["opt_g"]["param_groups"][0]["lr"] == cfg.train.lr_g / 2
    assert state["opt_d"]["param_groups"][0]["lr"] == cfg.train.lr_d / 2
    assert torch.isfinite(state["generator"]["L"]).all()
    assert_consistent(tmp_path / "run")


def test_recoveries_are_bounded(tmp_path, capsys, small_cfg):
    def always_explode(trainer):
        if trainer.step_in_epoch == 5:
            with torch.no_grad():
                trainer.G.L.copy_(_huge_rotation(5000.0).expand_as(trainer.G.L))

    with pytest.raises(
        TrainingError,
        match=r"exploding generator at epoch 0.*after 1 recoveries.*"
        r"no checkpoint had been written yet, so .*run is not kept",
    ):
        train(small_cfg(**{"train.fault_retries": 1}), progress=False, on_step=always_explode)
    assert capsys.readouterr().err.count("recovery") == 1
    assert not (tmp_path / "run").exists(), "nothing to resume: the folder goes, and the same command can run again"
    train(small_cfg(**{"train.epochs": 1}), progress=False)


def test_collapsed_discriminator_is_detected(tmp_path, small_cfg):
    """A generator pinned to a fixed scaling by e^2 (z = 1, L = 2 I): no symmetry, and D learns to tell
    every transformed sample apart; the run must say so instead of training on."""

    def pin(trainer):
        with torch.no_grad():
            trainer.G.L.copy_(2.0 * torch.eye(8).expand_as(trainer.G.L))

    cfg = small_cfg(
        **{
            "generator.coefficients": "integer",
            "generator.int_low": 1,
            "generator.int_high": 1,
            "train.lr_g": 0.0,
            "train.lr_d": 1e-2,
            "train.epochs": 10,
            "train.checkpoint_every": 100,
            "train.collapse_steps": 20,
            "train.collapse_prob": 0.01,
            "train.fault_retries": 0,
        },
    )
    with pytest.raises(
        TrainingError,
        match=r"collapsed discriminator at epoch \d+, step \d+: D has separated real "
        r"from transformed samples for 20 steps.*lower discriminator learning",
    ):
        train(cfg, progress=False, on_step=pin)
    assert not (tmp_path / "run").exists(), "stopped before its first checkpoint: nothing kept"


def test_healthy_default_run_raises_no_fault(tmp_path, capsys, small_cfg):
    """Negative control: the default thresholds leave a normal run alone."""
    result = train(small_cfg(**{"train.epochs": 2}), progress=False)
    assert "warning" not in capsys.readouterr().err
    assert result.metrics["epochs"] == 2
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["recoveries"] == 0
