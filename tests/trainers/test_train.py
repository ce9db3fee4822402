"""The training loop end to end on small two-body data: run folder, discovery, reproducibility, resume,
and a non-finite loss stopping the run with its last good checkpoint intact."""

import os
import signal

import numpy as np
import pytest
import torch

from liegan import load_algebra
from liegan.io import TrainingError
from liegan.trainers import resume_config, train
from liegan.trainers.checkpoint import load_checkpoint
from liegan.verdict import window_steps


def test_run_folder_layout_and_export(tmp_path, small_cfg):
    result = train(small_cfg(), progress=False)
    run = tmp_path / "run"
    assert result.run_dir == run
    assert (run / "config.toml").exists() and (run / "checkpoints" / "last.pt").exists()
    assert list(run.glob("events.out.tfevents.*"))
    algebra = load_algebra(run)
    assert algebra.generators.shape == (1, 8, 8) and algebra.dataset == "twobody"
    assert algebra.config["data"]["dataset"] == "twobody" and "similarity_to_truth" in algebra.metrics
    assert (algebra.generators[0][algebra.mask[0] == 0] == 0).all(), "export holds the masked basis"
    assert len(result.history) == 2


@pytest.mark.slow
def test_default_preset_discovers_so2(tmp_path, small_cfg):
    result = train(small_cfg(**{"data.n_samples": None, "train.epochs": 2}), progress=False)
    assert result.metrics["similarity_to_truth"] >= 0.99, result.metrics


def test_same_seed_gives_identical_generators_on_cpu(tmp_path, small_cfg):
    a = train(small_cfg("a"), progress=False).algebra.generators
    b = train(small_cfg("b"), progress=False).algebra.generators
    c = train(small_cfg("c", **{"train.seed": 1}), progress=False).algebra.generators
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_stop_and_resume_equals_uninterrupted_run(tmp_path, small_cfg):
    full = train(small_cfg("full", **{"train.epochs": 3}), progress=False).algebra
    train(small_cfg("part", **{"train.epochs": 1}), progress=False)
    resumed = train(resume_config(tmp_path / "part", epochs=3), resume=tmp_path / "part", progress=False)
    np.testing.assert_array_equal(resumed.algebra.generators, full.generators)
    # the checkpoint carries the verdict's trend: the resumed run judges the same points
    assert (resumed.algebra.verdict["trend_at"], resumed.algebra.verdict["trend"]) == (
        full.verdict["trend_at"],
        full.verdict["trend"],
    )
    assert load_checkpoint(tmp_path / "part" / "checkpoints" / "last.pt")["epoch"] == 3


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path, small_cfg):
    def poison(trainer):
        if trainer.epoch == 1 and trainer.step_in_epoch == 3:
            with torch.no_grad():
                trainer.G.L.fill_(float("nan"))

    with pytest.raises(TrainingError, match="non-finite .* epoch 1.*last good checkpoint"):
        train(small_cfg(**{"train.epochs": 3, "train.checkpoint_every": 1}), progress=False, on_step=poison)
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert state["epoch"] == 1 and torch.isfinite(state["generator"]["L"]).all()
    assert not (tmp_path / "run" / "algebra.npz").exists(), "no algebra exported from a diverged run"


def test_cosine_learning_rate_schedule():
    from liegan.config import TrainConfig

    t = TrainConfig(epochs=10, lr_schedule="cosine", lr_floor=0.1)
    assert t.lr_factor(0) == 1.0 and t.lr_factor(5) == pytest.approx(0.55) and t.lr_factor(10) == pytest.approx(0.1)
    assert TrainConfig().lr_factor(7.3) == 1.0


def test_scheduled_run_resumes_exactly_and_applies_the_rates(tmp_path, small_cfg):
    over = {"train.epochs": 3, "train.lr_schedule": "cosine", "train.lr_floor": 0.2}
    full = train(small_cfg("full", **over), progress=False)
    steps = 3 * 16  # 3 epochs of 2000 samples at batch 128
    lr_g = small_cfg("x").train.lr_g
    last = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.pt")["opt_g"]["param_groups"][0]["lr"]
    expected = lr_g * (0.2 + 0.8 * 0.5 * (1 + np.cos(np.pi * (steps - 1) / steps)))  # the last step's rate
    assert last == pytest.approx(expected, rel=1e-9)

    def terminate(trainer):
        if trainer.global_step == 21:
            os.kill(os.getpid(), signal.SIGTERM)

    assert train(small_cfg("part", **over), progress=False, on_step=terminate).interrupted
    resumed = train(resume_config(tmp_path / "part"), resume=tmp_path / "part", progress=False)
    np.testing.assert_array_equal(resumed.algebra.generators, full.algebra.generators)
    constant = train(small_cfg("const", **{"train.epochs": 3}), progress=False)
    assert not np.array_equal(constant.algebra.generators, full.algebra.generators)  # the schedule acted


def test_stop_when_converged_ends_at_the_first_scoring_point_that_passes(tmp_path, small_cfg):
    """The run ends at the first scoring point where the verdict's test passes (after at least one window of
    steps), with a checkpoint at that step, the final scores of those generators and a verdict that says so;
    the uninterrupted run has the same generators at that step; with the generator frozen (lr 0: never the
    symmetry) it runs on."""
    over = {"data.n_samples": 4000, "train.epochs": 8, "train.stop_when_converged": True}
    early = train(small_cfg("early", **over), progress=False)
    step, planned = early.metrics.get("stopped_at_step"), 8 * 32
    assert step is not None and window_steps(planned) <= step < planned, early.metrics
    assert early.metrics["stopped_when_converged"] == 1.0 and early.metrics["converged"] == 1.0
    assert load_checkpoint(tmp_path / "early" / "checkpoints" / "last.pt")["global_step"] == step
    v = early.algebra.verdict
    assert v["converged"] and v["trend_unit"] == "step" and v["trend_at"][-1] == step
    assert f"Stopped early at step {step} of {planned}" in v["summary"], v["summary"]
    at_step = {}

    def keep(trainer):
        if trainer.global_step == step:
            at_step["L"] = trainer.G.effective().detach().double().numpy()

    train(small_cfg("full", **(over | {"train.stop_when_converged": False})), progress=False, on_step=keep)
    np.testing.assert_array_equal(early.algebra.generators, at_step["L"])
    frozen_over = over | {"train.lr_g": 0.0, "train.epochs": 3, "data.n_samples": 2000}
    frozen = train(small_cfg("frozen", **frozen_over), progress=False)
    assert frozen.metrics["epochs"] == 3 and "stopped_when_converged" not in frozen.metrics
    assert not frozen.algebra.verdict["converged"]


def test_averaged_export_is_the_mean_over_the_window_and_resumes_exactly(tmp_path, small_cfg):
    seen = []
    record = lambda t: seen.append(t.G.effective().detach().double().numpy().copy())  # noqa: E731
    opts = {"train.epochs": 3, "generator.average": 0.5, "train.stop_when_converged": False}
    res = train(small_cfg("avg", **opts), progress=False, on_step=record)
    steps = len(seen)
    window = np.mean(seen[steps - steps // 2 :], axis=0)  # steps above half of the run's
    np.testing.assert_allclose(res.algebra.generators, window, rtol=0, atol=1e-6)
    assert res.metrics["averaged_steps"] == steps // 2
    assert not np.allclose(res.algebra.generators, seen[-1], atol=1e-4), "the negative control: not the last step"
    plain = train(small_cfg("plain", **{**opts, "generator.average": 0.0}), progress=False)
    np.testing.assert_array_equal(plain.algebra.generators, seen[-1].astype(np.float32))
    assert "averaged_steps" not in plain.metrics

    # the running sum is in the checkpoint: a run stopped inside the window resumes to the same mean
    def stop_in_window(t):
        if t.global_step == steps - steps // 4:
            os.kill(os.getpid(), signal.SIGTERM)

    train(small_cfg("part", **opts), progress=False, on_step=stop_in_window)
    resumed = train(resume_config(tmp_path / "part"), resume=tmp_path / "part", progress=False)
    np.testing.assert_array_equal(resumed.algebra.generators, res.algebra.generators)
