"""The verdict in words: converged or not, against chance, with what to try; its negative controls; the trend
at the scalar cadence and the per-epoch one of older algebra files."""

from __future__ import annotations

import numpy as np

from liegan.datasets.rotation7 import SYMMETRY as C7
from liegan.datasets.twobody import SYMMETRY as SO2
from liegan.symmetry import LORENTZ, best_reference, score
from liegan.verdict import Trend, converged, make_verdict, window_steps

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


def _steps(values, every=10, window=100):
    return Trend(list(values), [every * (i + 1) for i in range(len(values))], "step", window)


def test_a_steady_trend_over_the_step_window_converges_and_round_trips_through_the_file():
    L = 3 * SO2.generators
    v = _verdict(L, SO2, _steps([0.9990] * 5 + [0.9995] * 10), NAMES, MASK, converged_at=120)
    assert v.converged and "over the last 100 steps (11 points)" in v.summary, v.summary
    assert "since step 120" in v.summary and v.trend_unit == "step" and v.trend_at[0] == 50
    again = _verdict(L, SO2, Trend.stored(v.as_dict()), NAMES, MASK, converged_at=120)
    assert again.lines == v.lines  # what `liegan analyze` judges from algebra.json


def test_a_transient_pass_does_not_count():
    """Negative controls: the latest score meets the targets, but the window holds a rise through them or a
    dip that the window's two ends hide; and a trend shorter than its window."""
    L = 3 * SO2.generators
    rising = _verdict(L, SO2, _steps(np.linspace(0.90, 0.9995, 15)), NAMES, MASK)
    assert not rising.converged and "still changing" in rising.summary, rising.summary
    dip = _verdict(L, SO2, _steps([0.9995] * 8 + [0.95] + [0.9995] * 6), NAMES, MASK)
    assert not dip.converged and "range 0.0495" in dip.summary, dip.summary
    short = _verdict(L, SO2, _steps([0.9995] * 9), NAMES, MASK)  # steps 10-90 of a 100-step window
    assert not short.converged and "too short" in short.summary, short.summary
    assert converged(score(L, SO2, MASK, NAMES), SO2, _steps([0.9995] * 11))  # one more point: it covers it


def test_an_algebra_file_from_before_the_scalar_cadence_is_judged_per_epoch_and_says_so():
    stored = {"trend": [0.9990, 0.9996, 0.9999], "converged": True}  # no trend_unit: one value per epoch
    trend = Trend.stored(stored)
    assert trend.unit == "epoch"
    v = _verdict(3 * SO2.generators, SO2, trend, NAMES, MASK, epochs=5)
    assert v.converged and "over the last 3 epochs" in v.summary and "Judged per epoch" in v.summary
    moving = _verdict(3 * SO2.generators, SO2, Trend.stored({"trend": [0.95, 0.97, 0.9999]}), NAMES, MASK)
    assert not moving.converged and "epochs" in moving.summary


def test_window_steps():
    assert window_steps(745) == 149 and window_steps(1950) == 390  # a fifth of the run ...
    assert window_steps(300) == 100 and window_steps(64) == 100  # ... at least 100 steps
