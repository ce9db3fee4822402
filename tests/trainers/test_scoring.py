"""Scores the trainer logs, from the one scoring function: the metric of noisy so(1,3) + a dilation channel
(what top-tagging runs learn), a rejected candidate never logged, rotation7 scored as C7, and the
convergence test at the scoring points with its negative controls."""

import numpy as np
import pytest

from liegan.algebras import so, so_pq
from liegan.datasets.base import DatasetInfo
from liegan.datasets.rotation7 import SYMMETRY as C7
from liegan.datasets.twobody import SYMMETRY as SO2
from liegan.symmetry import LORENTZ, score
from liegan.trainers.scoring import Scorer, flat_items, scalar_items

NAMES = ["q1x", "q1y", "p1x", "p1y", "q2x", "q2y", "p2x", "p2y"]
MASK = np.kron(np.eye(4), np.ones((2, 2)))[None]


def _flat(L, sym=LORENTZ):
    return flat_items(score(L, sym), sym)


@pytest.mark.parametrize("seed", range(4))
def test_noisy_lorentz_plus_dilation_gives_minkowski_up_to_scale(seed):
    noise = 0.02 * np.random.default_rng(seed).normal(size=(7, 4, 4))
    m = _flat(np.concatenate([LORENTZ.generators, np.eye(4)[None]]) + noise)
    assert m["metric_accepted"] == 1.0 and m["metric_solve"] == "conformal", m
    assert m["metric_signature"] == [1, 3] and m["metric_cosine_minkowski"] > 0.99
    assert m["so13_span_similarity"] > 0.99 and m["span_chance"] == pytest.approx(7 / 16)
    s = score(np.concatenate([LORENTZ.generators, np.eye(4)[None]]) + noise, LORENTZ)
    assert s["metric"]["trace_shares"][6] > 0.9  # the dilation channel is named


def test_a_different_algebra_gives_a_different_metric():
    m = _flat(so_pq(2, 2))  # negative control: so(2,2) preserves diag(1,1,-1,-1)
    assert m["metric_signature"] == [2, 2] and m["metric_cosine_minkowski"] == pytest.approx(0.5)


def test_a_rejected_candidate_is_never_logged_as_the_metric():
    rng = np.random.default_rng(0)
    for _ in range(20):
        m = _flat(rng.standard_normal((1, 4, 4)))
        assert "metric_cosine_minkowski" not in m or m["metric_accepted"] == 1.0
        assert "metric_signature" not in m or m["metric_accepted"] == 1.0
    m = _flat(LORENTZ.generators[:1] + 0.3 * rng.standard_normal((1, 4, 4)))
    assert m["metric_accepted"] == 0.0 and "metric_cosine_minkowski" not in m


def test_rotation7_is_scored_as_c7():
    L = 2 * np.pi * 3 / 7 * so(3)[:1] + 0.003 * np.random.default_rng(1).standard_normal((1, 3, 3))
    m = _flat(L, C7)
    assert m["discrete_order"] == 7 and m["discrete_angle_error"] < 0.01 and m["discrete_axis_error"] < 0.01
    assert m["discrete_chance"] < 0.05 and m["discrete_axis_chance"] < 1e-3
    assert not any(k.endswith("span_similarity") for k in m)  # not an so(2) span: C7 is discrete
    off = _flat(2 * np.pi / 6.5 * so(3)[:1], C7)  # negative control: a rotation by 2 pi / 6.5
    assert off["discrete_order"] != 7 and off["discrete_chance"] > 0.05
    assert all(isinstance(v, float) for v in scalar_items(m).values())


def _twobody_scorer(total_steps, symmetry=SO2):
    info = DatasetInfo("twobody", 8, 1, "vector", NAMES, symmetry)
    return Scorer(info, MASK, total_steps)


def test_the_scorer_passes_only_after_a_steady_window_and_rejects_a_transient():
    """A run of 500 planned steps (window 100, a point every 10 steps): generators on the symmetry for one
    point among far-off ones never pass (negative control); held there, they pass once the window is covered;
    a rewind forgets the points it goes back over."""
    rng = np.random.default_rng(0)
    good = 3 * SO2.generators
    bad = lambda: 3 * SO2.generators + 2.0 * rng.standard_normal((1, 8, 8)) * MASK  # noqa: E731
    s = _twobody_scorer(500)
    assert s.trend.window == 100
    for step in range(10, 200, 10):
        flat = s(good if step == 150 else bad(), step)
        assert flat["converged"] == 0.0 and not s.passed, step
    passed = [step for step in range(200, 400, 10) if s(good, step)["converged"]]
    assert passed and passed[0] == 300 and s.converged_at == 300, passed  # 150 steps held: one window of them
    s.rewind(250)
    assert s.trend.at[-1] == 250 and s.converged_at is None and not s.passed


def test_without_a_known_symmetry_the_span_must_hold_still_for_a_window():
    rng = np.random.default_rng(1)
    s = _twobody_scorer(500, symmetry=None)
    L = 3 * SO2.generators
    for step in range(10, 200, 10):  # a span that keeps turning: never steady (negative control)
        s(L + 0.5 * rng.standard_normal((1, 8, 8)) * MASK, step)
        assert not s.passed
    for step in range(200, 420, 10):
        s(L, step)
    assert s.passed and s.last["stability"] == pytest.approx(1.0)
