"""The verdict in words: converged or not, against chance, with what to try; its negative controls."""

from __future__ import annotations

import numpy as np

from liegan.datasets.rotation7 import SYMMETRY as C7
from liegan.datasets.twobody import SYMMETRY as SO2
from liegan.symmetry import LORENTZ, best_reference, score
from liegan.verdict import make_verdict

NAMES = ["q1x", "q1y", "p1x", "p1y", "q2x", "q2y", "p2x", "p2y"]
MASK = np.kron(np.eye(4), np.ones((2, 2)))[None]


def _verdict(L, sym, trend, names, mask=None, **context):
    return make_verdict(score(L, sym, mask, names), sym, L, names, best_reference(L, mask), trend, context)


def test_a_learned_two_body_rotation_converged_in_its_features():
    L = 3 * SO2.generators + 1e-3 * np.random.default_rng(0).standard_normal((1, 8, 8)) * MASK
    v = _verdict(L, SO2, [0.9990, 0.9996, 0.9999], NAMES, MASK, epochs=5)
    assert v.converged and v.metric == "family" and v.best_match.startswith("so(2) x 4")
    assert "(q1x, q1y)" in v.summary and "random span of this size: 0.06" in v.summary
    assert "Converged" in v.summary and not v.advice


def test_a_poor_or_still_rising_run_is_not_converged_and_says_what_to_try():
    rng = np.random.default_rng(1)
    L = LORENTZ.generators[:6] + 0.4 * rng.standard_normal((6, 4, 4))  # negative control: far from so(1,3)
    v = _verdict(
        np.concatenate([L, np.eye(4)[None]]),
        LORENTZ,
        [0.60, 0.70, 0.79],
        ["E", "px", "py", "pz"],
        epochs=5,
        steps=195,
        n_samples=20_000,
        default_samples=200_000,
        run_dir="runs/x",
    )
    assert not v.converged and "Not converged" in v.summary
    assert any("--resume runs/x --epochs 10" in a for a in v.advice)
    assert any("200,000" in a for a in v.advice) and any("195 optimiser steps" in a for a in v.advice)
    good = 0.25 * LORENTZ.generators
    v = _verdict(good, LORENTZ, [0.95, 0.99, 0.9999], ["E", "px", "py", "pz"], epochs=5)
    assert not v.converged and "still changing" in v.summary  # a good end score that is still moving


def test_c7_verdict_and_a_wrong_order():
    L = 2 * np.pi * 2 / 7 * C7.generators
    v = _verdict(L, C7, [0.001, 0.001, 0.001], ["x1", "x2", "x3"], epochs=60)
    assert v.converged and "Found C7 about x3" in v.summary and "chance" in v.summary
    v = _verdict(2 * np.pi / 6.5 * C7.generators, C7, [0.02, 0.02, 0.02], ["x1", "x2", "x3"], epochs=60)
    assert not v.converged and v.summary.startswith("Not C7")


def test_no_trend_no_convergence_claim():
    v = _verdict(3 * SO2.generators, SO2, None, NAMES, MASK)
    assert not v.converged and "no training trend" in v.summary
