"""`liegan analyze` at large n: the fast paths give the answers of the slow ones, and a capped calibration says
what it cannot resolve instead of accepting or rejecting on too few random draws."""

from __future__ import annotations

import numpy as np
import pytest

from liegan.algebras import so13
from liegan.metric import (
    CALIBRATION_SEED,
    _draw_spectra,
    _gram,
    _prepare,
    _relative_spectra,
    _statistic,
    calibrating,
    default_draws,
    invariant_metric,
    solve_metric,
    symmetric_basis,
)
from liegan.scores import orthonormal_span
from liegan.symmetry import references


def _embedded(n: int) -> np.ndarray:
    L = np.zeros((6, n, n))
    L[:, :4, :4] = so13()
    return L


@pytest.mark.parametrize(("c", "n", "conformal"), [(1, 1, False), (3, 2, True), (2, 5, False), (1, 7, True)])
def test_gram_in_closed_form_is_the_stacked_maps_gram(c, n, conformal):
    L = _prepare(np.random.default_rng(n).standard_normal((2, c, n, n)), conformal)
    G = _gram(L)
    for r in range(2):
        C = np.stack([(np.swapaxes(L[r], 1, 2) @ E + E @ L[r]).reshape(-1) for E in symmetric_basis(n)], axis=1)
        assert np.abs(G[r] - C.T @ C).max() <= 1e-12 * max(1.0, np.abs(C.T @ C).max())


@pytest.mark.parametrize("c", [1, 2])
def test_certified_draws_give_the_full_spectra_statistic(c):
    """Above CERTIFY_M a draw certified free of relative singular values <= tol is stored as all ones: the
    calibration's statistic and every rank that can matter (values <= tol) equal those of the full spectra."""
    n, R, tol, gap = 15, 24, 0.1, 3.0  # m = 120 > CERTIFY_M
    mask = np.ones((c, n, n), bool)
    fast = _draw_spectra(np.random.default_rng([CALIBRATION_SEED, c, n, 0]), mask, False, R, tol)
    L = np.random.default_rng([CALIBRATION_SEED, c, n, 0]).standard_normal((R, c, n, n))
    full = _relative_spectra(_prepare(L, False))
    certified = (fast == 1.0).all(axis=1)
    assert (full[certified] > tol).all(), "a certified draw has a relative singular value <= tol"
    np.testing.assert_allclose(fast[~certified], full[~certified], atol=1e-12)
    small = full <= tol
    np.testing.assert_array_equal(fast[small], full[small])
    s_fast, _ = _statistic(fast, np.sort(fast.T, axis=1), tol, gap)
    s_full, _ = _statistic(full, np.sort(full.T, axis=1), tol, gap)
    np.testing.assert_array_equal(s_fast, s_full)
    if c == 2:
        assert certified.all()  # two random generators on R^15 never come near an invariant form


@pytest.mark.slow  # 2,560 random sets of six generators: a few seconds on a loaded machine
def test_capped_calibration_is_undecided_not_accepted_and_the_full_one_accepts():
    """so(1,3) on 4 axes of R^9: a 16-dimensional family.  50 random sets resolve chance only to 1/51, which
    cannot reach alpha: 'undecided', never a metric; the default calibration accepts the family."""
    L = _embedded(9)
    with calibrating(draws=50):
        capped = invariant_metric(L)
    assert not capped.accepted and capped.null_dim == 0 and capped.draws == 50
    assert capped.chance == pytest.approx(1 / 51) and "undecided, not accepted" in capped.message
    assert "--metric-draws 500" in capped.message
    full = invariant_metric(L)
    assert full.accepted and full.null_dim == 16 and full.draws == default_draws(9) and full.chance <= 0.002


def test_random_generators_at_large_n_skip_the_calibration():
    """No well-determined direction: nothing for chance to judge, so no random sets are drawn at all."""
    res = solve_metric(np.random.default_rng(0).standard_normal((2, 30, 30)))
    assert not res.accepted and res.draws == 0 and res.chance == 1.0


def test_default_draws_follow_the_stated_cost_law():
    assert default_draws(8) == 4000 and default_draws(20) == 500 and default_draws(37) == 500
    assert default_draws(38) < 500
    m60 = 60 * 61 // 2
    assert default_draws(60) == int(2e11 // m60**3) < 500  # capped: the chance resolution is then stated


def test_progress_is_reported_for_a_drawn_calibration():
    calls = []

    class Bar:
        def update(self, k):
            calls.append(k)

        def close(self):
            calls.append("closed")

    with calibrating(draws=7, progress=lambda total, desc: calls.append((total, desc)) or Bar()):
        invariant_metric(_embedded(15))
    assert calls[0][0] == 7 and "random sets 6x15x15" in calls[0][1]
    assert calls[1:] == [1] * 7 + ["closed"]


@pytest.mark.parametrize("n", [5, 9])
def test_orthonormal_span_of_references_by_groups_is_the_dense_span(n):
    for sym in references(n):
        M = sym.generators.reshape(len(sym.generators), -1)
        _, S, Vh = np.linalg.svd(M, full_matrices=False)
        dense = Vh[S > 1e-8 * S.max()]
        fast = orthonormal_span(sym.generators)
        assert fast.shape == dense.shape, sym.name
        np.testing.assert_allclose(fast.T @ fast, dense.T @ dense, atol=1e-12, err_msg=sym.name)


def test_orthonormal_span_negative_control_dependent_rows():
    """Many rows spanning only two directions: the grouping must not count them as 70."""
    rng = np.random.default_rng(1)
    M = rng.standard_normal((70, 2)) @ rng.standard_normal((2, 16))
    assert orthonormal_span(M.reshape(70, 4, 4)).shape == (2, 16)
