"""The independent check: a classifier two-sample test of generators on the data they were learned from."""

from __future__ import annotations

import numpy as np
import pytest

from liegan.algebras import twobody_so2
from liegan.analysis.validation import sample_coefficients, two_sample_auc, validate
from liegan.config import DataConfig
from liegan.datasets import load_dataset
from liegan.datasets.twobody import SYMMETRY

NAMES = ["q1x", "q1y", "p1x", "p1y", "q2x", "q2y", "p2x", "p2y"]
MASK = np.kron(np.eye(4), np.ones((2, 2)))[None]


@pytest.fixture(scope="module")
def twobody():
    ds = load_dataset(DataConfig(dataset="twobody", n_samples=4000))
    return ds.x.numpy(), ds.y.numpy()


def test_two_sample_auc_on_same_and_different_samples():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((1500, 3)), rng.standard_normal((1500, 3))
    auc, se = two_sample_auc(a, b)
    assert abs(auc - 0.5) < 3 * se and 0.005 < se < 0.03
    auc, _ = two_sample_auc(a, b + [1.0, 0, 0])  # negative control: a shifted sample is told apart
    assert auc > 0.6


@pytest.mark.slow  # four classifier fits on 4,000 orbits: about 15 s on a loaded 2-core machine
def test_the_two_body_rotation_passes_and_a_random_generator_of_the_same_norm_fails(twobody):
    """The so(2) of two-body orbits (at the Frobenius norm a default run learns, ~8.4) is indistinguishable from the
    data (AUC <= 0.55); a random generator of the same norm in the same 2x2-block search space is not
    (AUC >= 0.7): the check can fail."""
    x, y = twobody
    L = 8.4 / np.linalg.norm(twobody_so2()) * twobody_so2()
    res = validate(
        L, x, y, "vector", {"distribution": "normal", "sigma": 1.0}, NAMES, truth=SYMMETRY, mask=MASK, max_samples=4000
    )
    by = {e["name"]: e for e in res}
    assert set(by) == {"L_0", "group", "so(2) R", "random"}
    assert by["L_0"]["auc"] <= 0.55 and by["so(2) R"]["auc"] <= 0.55, res
    assert by["random"]["auc"] >= 0.7 and by["random"]["kind"] == "control", res
    assert "rotating" in by["L_0"]["description"] and "indistinguishable" in by["L_0"]["message"]


def test_coefficients_follow_the_trained_distribution():
    rng = np.random.default_rng(0)
    assert set(np.unique(sample_coefficients({"distribution": "integer", "low": -2, "high": 1}, (500,), rng))) == {
        -2.0,
        -1.0,
        0.0,
        1.0,
    }
    z = sample_coefficients({"distribution": "normal", "sigma": 3.0}, (20000,), rng)
    assert z.std() == pytest.approx(3.0, rel=0.03)


@pytest.mark.slow  # a default two-body run (about 5 s) and two classifier fits on 40,000 samples
def test_a_default_two_body_run_passes_the_independent_check(tmp_path):
    """What `liegan train` then `liegan analyze` give a user: the default preset's exported generator (the
    mean over the run's last 40 % of steps) is indistinguishable from the data, AUC <= 0.55 (the last step
    alone, ~2 % off so(2), scored 0.60-0.70 on seeds 0-4); the random control of the same check fails."""
    from liegan.algebra import load_algebra
    from liegan.trainers.configure import resolve_config
    from liegan.trainers.loop import train

    cfg = resolve_config("twobody", overrides={"run.logdir": str(tmp_path), "run.name": "r"})
    assert cfg.generator.average == 0.4 and not cfg.train.stop_when_converged
    train(cfg, progress=False)
    algebra = load_algebra(tmp_path / "r")
    assert algebra.metrics["averaged_steps"] > 0
    ds = load_dataset(DataConfig(dataset="twobody"))
    x, y = ds.x.numpy(), ds.y.numpy()
    res = validate(algebra.generators, x, y, "vector", algebra.coefficients, NAMES, mask=MASK)
    by = {e["name"]: e for e in res}
    assert by["L_0"]["auc"] <= 0.55, res
    assert by["random"]["auc"] >= 0.7, res
