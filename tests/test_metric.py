"""Invariant-metric solver against closed forms over a registry of named algebras (`pytest -k so13`)."""

from __future__ import annotations

import numpy as np
import pytest

from liegan.algebras import MINKOWSKI, scaling, so, so13, so_pq
from liegan.metric import canonical, cosine, invariant_metric, metric_residual, signature


def _on_last3_of_r4() -> np.ndarray:
    L = np.zeros((3, 4, 4))
    L[:, 1:, 1:] = so(3)
    return L


def _mixed(L: np.ndarray, seed: int = 0) -> np.ndarray:
    A = np.random.default_rng(seed).standard_normal((len(L), len(L)))
    return np.einsum("ab,bij->aij", A, L)


# name -> (generators, expected null-space dimension, expected metric up to scale or None, signature)
CASES = {
    "so13": (so13(), 1, MINKOWSKI, (1, 3)),
    "so13_mixed_basis": (_mixed(so13()), 1, MINKOWSKI, (1, 3)),
    "so3": (so(3), 1, np.eye(3), (3, 0)),
    "so4": (so(4), 1, np.eye(4), (4, 0)),
    "so22": (so_pq(2, 2), 1, np.diag([1.0, 1, -1, -1]), (2, 2)),
    "so12": (so_pq(1, 2), 1, np.diag([1.0, -1, -1]), (1, 2)),
    "so3_on_last3_of_r4": (_on_last3_of_r4(), 2, None, None),
    "dilation": (scaling(4), 0, None, None),
}


@pytest.mark.parametrize("name", list(CASES))
def test_metric_recovery(name):
    L, k, expected, sig = CASES[name]
    res = invariant_metric(L)
    assert res.null_dim == k, f"{name}: null dim {res.null_dim} != {k} ({res.message})"
    if expected is not None:
        err = np.linalg.norm(res.metric - canonical(expected)) / np.linalg.norm(expected)
        assert err < 1e-10, f"{name}: relative error {err:.3g}"
        assert res.signature == sig
        assert res.residuals.max() < 1e-12
        assert res.gap > 1e10, f"{name}: exact algebra but gap {res.gap}"


def test_so13_canonical_is_minkowski_exactly():
    res = invariant_metric(so13())
    assert np.abs(res.metric - MINKOWSKI).max() < 1e-12
    assert res.message.startswith("one metric") and "gap" in res.message and "chance" in res.message


def test_two_dimensional_null_space_is_reported_as_a_family():
    res = invariant_metric(_on_last3_of_r4())
    assert res.accepted and res.is_family and res.metric is None  # a family is not one metric
    assert "2-dimensional family" in res.message and "no unique metric" in res.message
    # the readable basis: one element is diag(1,0,0,0), the other diag(0,1,1,1), both up to scale
    N = res.null_space / np.linalg.norm(res.null_space, axis=(1, 2), keepdims=True)
    targets = [np.diag([1.0, 0, 0, 0]), np.diag([0.0, 1, 1, 1]) / np.sqrt(3)]
    for T in targets:
        assert max(abs(np.sum(n * T)) for n in N) > 1 - 1e-10
    for J in res.null_space:  # every element of the family is invariant
        assert metric_residual(_on_last3_of_r4(), J).max() < 1e-12


def test_dilation_has_no_invariant_metric():
    res = invariant_metric(scaling(3))
    assert res.metric is None and res.null_dim == 0
    assert res.message.startswith("no invariant metric") and "trace" in res.message
    # a dilation mixed into so(1,3) also destroys the metric
    res = invariant_metric(np.concatenate([so13(), scaling(4)]))
    assert res.metric is None


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_so13_with_relative_noise_1e2(seed):
    rng = np.random.default_rng(seed)
    L = _mixed(so13(), seed)
    noise = rng.standard_normal(L.shape)
    size = np.linalg.norm(L, axis=(1, 2), keepdims=True) / np.linalg.norm(noise, axis=(1, 2), keepdims=True)
    noise *= 1e-2 * size
    res = invariant_metric(L + noise)
    assert res.null_dim == 1
    assert cosine(res.metric, MINKOWSKI) >= 0.99, res.message
    assert res.signature == (1, 3)
    assert np.isfinite(res.gap) and res.gap > 5 and f"gap {res.gap:.3g}" in res.message


def test_tolerance_is_a_parameter():
    rng = np.random.default_rng(0)
    L = so13() + 0.1 * rng.standard_normal((6, 4, 4))  # heavy noise: only a loose tolerance accepts it
    assert invariant_metric(L, tol=1e-3).metric is None
    assert invariant_metric(L, tol=0.5).metric is not None


def test_metric_residual_negative_control():
    assert metric_residual(so13(), MINKOWSKI).max() < 1e-15
    assert metric_residual(so13(), np.eye(4)).max() > 0.3  # rotations pass, boosts do not
    assert metric_residual(so(3), np.diag([1.0, 2.0, 3.0])).max() > 0.1


def test_signature_and_canonical_sign_rule():
    assert signature(-MINKOWSKI) == (3, 1)
    assert np.allclose(canonical(-3 * MINKOWSKI), MINKOWSKI)
    assert np.allclose(canonical(np.diag([0.0, -2.0, 2.0])), np.diag([0.0, 1.0, -1.0]) * np.sqrt(3 / 2))


def test_conformal_solve_ignores_a_dilation_channel():
    L = np.concatenate([so13(), scaling(4).reshape(-1, 4, 4)])
    assert invariant_metric(L).metric is None  # strict: a dilation rules out every metric
    res = invariant_metric(L, conformal=True)
    assert res.null_dim == 1 and res.signature == (1, 3)
    assert cosine(res.metric, MINKOWSKI) == pytest.approx(1.0, abs=1e-12)
    assert np.allclose(res.residuals, 0.0, atol=1e-12)
    # a channel that is mostly dilation enters with its traceless remainder only (not renormalised)
    mostly = np.eye(4)[None] + 0.01 * so13()[:1]
    mixed = invariant_metric(np.concatenate([so13(), mostly]), conformal=True)
    assert cosine(mixed.metric, MINKOWSKI) == pytest.approx(1.0, abs=1e-12)


def test_conformal_solve_is_the_strict_one_for_traceless_generators_and_still_rejects_gl():
    for L in (so13(), _mixed(so13(), seed=3), so(3)):
        a, b = invariant_metric(L), invariant_metric(L, conformal=True)
        assert cosine(a.metric, b.metric) == pytest.approx(1.0, abs=1e-12) and a.null_dim == b.null_dim
    # negative control: sl(4) (traceless, but no common conformal class) has no conformal metric either
    from liegan.algebras import sl

    assert invariant_metric(sl(4), conformal=True).metric is None


def test_solve_metric_falls_back_to_conformal_only_when_the_strict_solve_fails():
    from liegan.algebras import gl
    from liegan.metric import solve_metric

    res = solve_metric(so13())
    assert res.solve == "strict" and res.signature == (1, 3)
    with_dilation = np.concatenate([so13(), np.eye(4)[None]])
    res = solve_metric(with_dilation)
    assert res.solve == "conformal" and "no strictly invariant metric" in res.message
    assert np.allclose(res.metric, MINKOWSKI, atol=1e-10)
    res = solve_metric(gl(4))  # negative control: nothing is preserved even up to scale
    assert res.solve == "strict" and res.metric is None and not res.accepted


# ------------------------------------------------------------------- the acceptance rule against chance


def _relative_noise(L: np.ndarray, level: float, rng: np.random.Generator, draws: int) -> np.ndarray:
    """draws copies of L (c, n, n) plus Gaussian noise of Frobenius norm ~ level * ||L_i|| per channel."""
    n = L.shape[-1]
    scale = level * np.linalg.norm(L, axis=(1, 2))[:, None, None] / n
    return L[None] + scale * rng.standard_normal((draws, *L.shape))


@pytest.mark.parametrize("n", [3, 4, 8])
def test_random_single_generators_rarely_get_a_metric(n):
    """1,000 random Gaussian single generators: a metric (or family) is reported for at most 1 % (a nearly
    invariant form exists for many of them: eigenvalues nearly cancelling in pairs)."""
    from liegan.metric import metric_accepted

    L = np.random.default_rng(100 + n).standard_normal((1000, 1, n, n))
    rate = metric_accepted(L).mean()
    assert rate <= 0.01, f"n={n}: {rate:.1%} of random generators got a metric"
    # the batch rule is the one invariant_metric applies
    assert [invariant_metric(x).accepted for x in L[:40]] == list(metric_accepted(L[:40]))


def test_random_generators_in_the_two_body_mask_rarely_get_a_family():
    from liegan.metric import metric_accepted

    mask = np.kron(np.eye(4), np.ones((2, 2)))[None]
    L = np.random.default_rng(7).standard_normal((500, 1, 8, 8)) * mask
    assert metric_accepted(L, mask=mask).mean() <= 0.01


@pytest.mark.slow  # 400 solves: about 10 s on a loaded 2-core machine
@pytest.mark.parametrize(("level", "need"), [(0.02, 200), (0.04, 190)])
def test_noisy_so13_is_accepted_with_minkowski(level, need):
    rng = np.random.default_rng(int(level * 1000))
    good = 0
    for L in _relative_noise(so13(), level, rng, 200):
        res = invariant_metric(L)
        good += res.accepted and res.metric is not None and cosine(res.metric, MINKOWSKI) >= 0.999
    assert good >= need, f"noise {level}: {good}/200 accepted with |cos| >= 0.999"


def test_noisy_so13_negative_controls():
    """A heavily perturbed so(1,3), and so(1,3) plus a random seventh channel, are rejected (strictly and
    up to scale): no metric from noise."""
    from liegan.metric import metric_accepted, solve_metric

    rng = np.random.default_rng(5)
    assert metric_accepted(_relative_noise(so13(), 0.5, rng, 200)).mean() <= 0.02
    for _ in range(10):
        res = solve_metric(np.concatenate([so13(), rng.standard_normal((1, 4, 4))]))
        assert not res.accepted and res.metric is None, res.message


def test_exact_so3_on_r4_is_a_two_dimensional_family():
    res = invariant_metric(_on_last3_of_r4())
    assert res.accepted and res.null_dim == 2 and res.metric is None
    assert res.chance <= 0.002


def test_learned_two_body_rotation_is_a_16_dimensional_family_in_words():
    from liegan.algebras import twobody_so2
    from liegan.metric import describe_family

    mask = np.kron(np.eye(4), np.ones((2, 2)))[None]
    L = twobody_so2() + 1e-3 * np.random.default_rng(0).standard_normal((1, 8, 8)) * mask
    res = invariant_metric(L, mask=mask)
    assert res.accepted and res.null_dim == 16 and res.metric is None
    text = describe_family(res.null_space, ["q1x", "q1y", "p1x", "p1y", "q2x", "q2y", "p2x", "p2y"])
    assert "A (x) I2 + B (x) eps" in text and "(q1, p1, q2, p2)" in text and "Euclidean" in text
    # negative control: a family that is not built from 2-vectors is not described as one
    other = describe_family(invariant_metric(_on_last3_of_r4()).null_space)
    assert "2-vectors" not in other and other.startswith("a 2-dimensional family")


# ------------------------------------------------------------------------ calibration: lazy, cached, warmed


def _no_computation(*args):
    raise AssertionError("the calibration was computed, not taken from the cache")


def test_no_calibration_without_a_well_determined_candidate(monkeypatch):
    """A dilation's spectrum is flat (no candidate), so its chance is 1 without any random draws."""
    import liegan.metric as metric

    monkeypatch.setattr(metric, "calibration", _no_computation)
    res = invariant_metric(scaling(3))
    assert (res.accepted, res.candidate_dim, res.chance) == (False, 0, 1.0)
    with pytest.raises(AssertionError, match="computed"):  # negative control: so(1,3) has a candidate
        invariant_metric(so13())


def test_calibration_disk_cache_round_trip_and_damaged_files(monkeypatch, tmp_path):
    import liegan.metric as metric

    monkeypatch.setenv("LIEGAN_CACHE", str(tmp_path))
    monkeypatch.setattr(metric, "_calibrations", {})
    fresh = metric.calibration(1, 3)
    (path,) = (tmp_path / "calibration").glob("*.npz")
    compute = metric._compute_calibration
    monkeypatch.setattr(metric, "_calibrations", {})
    monkeypatch.setattr(metric, "_compute_calibration", _no_computation)
    read = metric.calibration(1, 3)  # from the file alone
    assert np.array_equal(read.columns, fresh.columns) and np.array_equal(read.statistic, fresh.statistic)
    for damage in (b"not an npz file", None):
        if damage is None:  # a well-formed file written under another key is not this calibration
            np.savez(path, key=np.array("another key"), columns=fresh.columns, statistic=fresh.statistic)
        else:
            path.write_bytes(damage)
        monkeypatch.setattr(metric, "_calibrations", {})
        monkeypatch.setattr(metric, "_compute_calibration", compute)
        again = metric.calibration(1, 3)  # computed again, and the file rewritten
        assert np.array_equal(again.statistic, fresh.statistic), damage
        monkeypatch.setattr(metric, "_calibrations", {})
        monkeypatch.setattr(metric, "_compute_calibration", _no_computation)
        assert np.array_equal(metric.calibration(1, 3).columns, fresh.columns), damage


def test_warmed_calibrations_are_the_ones_a_score_uses(monkeypatch, tmp_path):
    import liegan.metric as metric

    monkeypatch.setenv("LIEGAN_CACHE", str(tmp_path))
    monkeypatch.setattr(metric, "_calibrations", {})
    mask = np.ones((1, 4, 4))
    metric.warm_calibrations(1, 4, mask).join()
    monkeypatch.setattr(metric, "_compute_calibration", _no_computation)
    monkeypatch.setattr(metric, "_read_cached", _no_computation)
    res = invariant_metric(so13()[:1], mask=mask)  # one boost: its strict solve needs the warmed (1, 4) shape
    assert res.candidate_dim > 0
