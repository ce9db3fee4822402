"""Discrete order of exp(L) and the rotation7 dataset."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from liegan.algebras import so
from liegan.analysis.discrete import analyse_generator, discrete_analysis, order_errors
from liegan.config import DataConfig
from liegan.datasets import load_dataset
from liegan.datasets.rotation7 import rotation7_target

ROT_X3 = -so(3)[0]  # E_21 - E_12: the right-handed rotation about +x3


@pytest.mark.parametrize("m", [1, 2, 3, 4, 5, 6])
def test_order_seven_about_x3(m):
    rng = np.random.default_rng(m)
    L = 2 * np.pi * m / 7 * ROT_X3 + 0.01 * rng.standard_normal((3, 3))
    r = analyse_generator(L, feature_names=["x1", "x2", "x3"])
    assert r.order == 7, r.message
    assert r.axis_name == "x3" and abs(abs(r.axis[2]) - 1) < 1e-3
    assert abs(r.multiple - round(r.multiple)) < 0.05 and round(r.multiple) in (m, 7 - m)
    assert "order 7" in r.message and "x3" in r.message


def test_axis_orientation_follows_the_right_hand_rule():
    r = analyse_generator(2 * np.pi / 7 * ROT_X3)
    assert np.allclose(r.axis, [0, 0, 1]) and np.isclose(r.angle, 2 * np.pi / 7)
    r = analyse_generator(-2 * np.pi / 7 * ROT_X3)
    assert np.allclose(r.axis, [0, 0, -1]) and np.isclose(r.angle, 2 * np.pi / 7)


def test_log_branch_does_not_matter():
    # 2 pi (1 + 3/7): exp is the same rotation as 2 pi 3/7, order 7
    L = 2 * np.pi * (1 + 3 / 7) * so(3)[2]
    r = analyse_generator(L, feature_names=["a", "b", "c"])
    assert r.order == 7 and r.axis_name == "a"


def test_order_errors_match_scipy_powers():
    L = 0.3 * so(3)[1]
    errs = order_errors(L, 5)
    for k in range(1, 6):
        assert np.isclose(errs[k - 1], np.linalg.norm(scipy.linalg.expm(k * L) - np.eye(3)) / np.sqrt(3))


def test_negative_controls():
    assert analyse_generator(np.zeros((3, 3))).order == 1  # identity: trivial, reported as such
    r = analyse_generator(0.3 * np.eye(3))  # a dilation never returns to the identity
    assert r.order is None and "no order" in r.message
    r = analyse_generator(1.0 * ROT_X3)  # an irrational angle has no small order
    assert r.order is None
    r = analyse_generator(1.0 * ROT_X3, max_order=50)  # ... but 1 rad ~ 2 pi 7/44: a coincidence, said so
    assert r.order == 44 and r.chance > 0.05  # a random angle fits some order <= 50 this well 10 % of the time
    assert analyse_generator(2 * np.pi / 7 * ROT_X3).chance < 1e-6
    res = discrete_analysis(np.stack([2 * np.pi / 5 * ROT_X3, 2 * np.pi / 3 * so(3)[1]]))
    assert [d.order for d in res] == [5, 3]


def _skew(v: np.ndarray) -> np.ndarray:
    x, y, z = v.T
    S = np.zeros((len(v), 3, 3))
    S[:, 0, 1], S[:, 0, 2], S[:, 1, 0], S[:, 1, 2], S[:, 2, 0], S[:, 2, 1] = -z, y, z, -x, -y, x
    return S


@pytest.mark.parametrize("null", ["haar", "uniform_angle"])
def test_order_and_axis_chances_are_calibrated_for_random_rotations(null):
    """For random rotations P(reported chance <= a) <= a, for the order (searched over 2..12) and for the
    axis (searched over the coordinate axes): 20,000 Haar rotations, or uniform angles about uniform axes."""
    from scipy.spatial.transform import Rotation

    from liegan.analysis.discrete import rotation_scores

    rng = np.random.default_rng(11)
    N = 20_000
    if null == "haar":
        v = Rotation.random(N, random_state=rng).as_rotvec()
    else:
        axis = rng.standard_normal((N, 3))
        v = axis / np.linalg.norm(axis, axis=1, keepdims=True) * rng.uniform(0, np.pi, (N, 1))
    sc = rotation_scores(_skew(v))
    order_chance = np.nan_to_num(sc["chance"], nan=1.0)  # no order (or the identity): chance 1
    axis_chance = sc["axis_chance"]
    for a in (0.01, 0.05, 0.1, 0.2, 0.5):
        slack = 3 * np.sqrt(a * (1 - a) / N)  # Monte Carlo error
        assert (order_chance <= a).mean() <= a + slack, (null, a, (order_chance <= a).mean())
        assert (axis_chance <= a).mean() <= a + slack, (null, a, (axis_chance <= a).mean())
    assert (order_chance <= 0.1).mean() > 0.05  # not vacuous: the chance is not simply always 1


def test_a_declared_order_has_a_smaller_chance_than_a_searched_one():
    from liegan.analysis.discrete import angle_chance

    d = 0.005
    searched, declared = angle_chance(d), angle_chance(d, order=7)
    # closed form: the Haar measure (1 - cos t) / pi over [f - d, f + d] for f = 2 pi m / 7, m = 1, 2, 3
    haar = sum(2 * d - 2 * np.sin(d) * np.cos(2 * np.pi * m / 7) for m in (1, 2, 3)) / np.pi
    assert declared[0] == pytest.approx(max(haar, 6 * d / np.pi), rel=1e-9) and declared[0] < searched[0]


# ---------------------------------------------------------------------------------------- the dataset


def test_rotation7_dataset_shapes():
    ds = load_dataset(DataConfig(dataset="rotation7", n_samples=500, seed=3))
    assert ds.x.shape == (500, 1, 3) and ds.y.shape == (500, 1)
    sym = ds.info.symmetry
    assert ds.info.y_kind == "scalar" and sym.generators.shape == (1, 3, 3)
    assert sym.name == "C7 about x3" and sym.discrete.order == 7 and sym.discrete.axis == (0.0, 0.0, 1.0)
    full = load_dataset(DataConfig(dataset="rotation7"))
    assert len(full) == 20000
    again = load_dataset(DataConfig(dataset="rotation7", n_samples=500, seed=3))
    assert np.array_equal(ds.x.numpy(), again.x.numpy())


def test_rotation7_target_is_invariant_under_c7_only():
    x = np.random.default_rng(0).standard_normal((2000, 3))
    y = rotation7_target(x)
    for m in range(1, 7):
        R = scipy.linalg.expm(2 * np.pi * m / 7 * ROT_X3)
        # points on the sector boundary may wrap; they are measure zero but float rounding can hit them
        diff = np.abs(rotation7_target(x @ R.T) - y)
        assert np.quantile(diff, 0.99) < 1e-9, m
    R = scipy.linalg.expm(2 * np.pi / 9 * ROT_X3)  # negative control: not in C7
    assert np.median(np.abs(rotation7_target(x @ R.T) - y)) > 1e-2
