"""Algebra diagnostics over a registry of named algebras (`pytest -k so13`)."""

from __future__ import annotations

import numpy as np
import pytest

from liegan.algebras import scaling, so, so13, twobody_so2
from liegan.analysis.diagnostics import (
    best_match,
    canonical_basis,
    change_of_basis,
    diagnose,
    form_signature,
    killing_form,
    structure_constants_in_basis,
)
from liegan.lie import structure_constants


def _mixed(L, seed=0):
    A = np.random.default_rng(seed).standard_normal((len(L), len(L)))
    return np.einsum("ab,bij->aij", A, L)


def so3_physics() -> np.ndarray:
    """(L_i)_jk = -epsilon_ijk, so that [L_i, L_j] = epsilon_ijk L_k."""
    eps = np.zeros((3, 3, 3))
    for i, j, k in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
        eps[i, j, k], eps[j, i, k] = 1, -1
    return -eps


def epsilon() -> np.ndarray:
    return -so3_physics()


# name -> (generators, best reference, closure ~ 0, Killing signature (+, -, 0))
ALGEBRAS = {
    "so3": (so(3), "so(3)", True, (0, 3, 0)),
    "so3_mixed": (_mixed(so(3)), "so(3)", True, (0, 3, 0)),
    "so13": (so13(), "so(1,3)", True, (3, 3, 0)),
    "so13_mixed": (_mixed(so13(), 3), "so(1,3)", True, (3, 3, 0)),
    "so13_plus_dilation": (np.concatenate([so13(), scaling(4)]), "so(1,3)", True, (3, 3, 1)),
    "twobody_so2": (twobody_so2(), "so(2) x 4 (two-body)", True, (0, 0, 1)),
    "random_pair": (np.random.default_rng(7).standard_normal((2, 4, 4)), None, False, None),
}


@pytest.mark.parametrize("name", list(ALGEBRAS))
def test_closure_best_match_and_killing(name):
    L, ref, closed, sig = ALGEBRAS[name]
    d = diagnose(L)
    if closed:
        assert d.closure_residual < 1e-12, f"{name}: closure residual {d.closure_residual:.3g}"
        assert d.best.name == ref and d.best.similarity > 1 - 1e-12
        assert d.killing_signature == sig
    else:
        assert d.closure_residual > 0.1, f"{name}: random pair closes ({d.closure_residual:.3g})"


def test_so3_structure_constants_are_epsilon_up_to_change_of_basis():
    M = _mixed(so3_physics(), 5)
    f, res = structure_constants(M)
    assert res < 1e-12
    A, fit = change_of_basis(M, so3_physics())
    assert fit < 1e-12
    f_std = structure_constants_in_basis(f, A)
    assert np.abs(f_std - epsilon()).max() < 1e-10
    # the Killing form of so(3) is -2 delta in the epsilon basis (negative definite in any basis)
    K = killing_form(so3_physics())
    assert np.allclose(K, -2 * np.eye(3))
    # negative control: constants of so(1,3) are not those of three copies of so(3)
    f13, _ = structure_constants(so13())
    assert np.abs(f13[:3, :3, :3]).max() < 1e-12  # boosts alone: [K, K] lies outside the boosts


def test_canonical_basis_recovers_boosts_and_rotations_from_a_mixed_basis():
    M = _mixed(so13(), 11)
    m = best_match(M)
    C, names = canonical_basis(M, m)
    assert names == ["K_x", "K_y", "K_z", "J_x", "J_y", "J_z"]
    assert np.abs(C - so13()).max() < 1e-10


def test_canonical_basis_of_a_noisy_single_generator_names_it():
    rng = np.random.default_rng(0)
    L = 0.4 * twobody_so2() + 0.01 * rng.standard_normal((1, 8, 8))
    d = diagnose(L)
    assert d.best.name.startswith("so(2)") and d.best.similarity >= 0.99
    assert d.canonical_names == ["R(q1,p1,q2,p2)"]
    assert np.abs(d.canonical[0] - twobody_so2()[0]).max() < 0.1


def test_gl_does_not_win_by_containing_everything():
    rng = np.random.default_rng(1)
    L = so13() + 0.01 * rng.standard_normal((6, 4, 4))
    d = diagnose(L)
    assert d.best.name == "so(1,3)"
    gl = next(r for r in d.references if r.name == "gl(4)")
    assert gl.similarity > d.best.similarity  # every span lies in gl(4) ...
    assert gl.score < 0.5  # ... but the score ranks it far below


def test_form_signature_of_abelian_algebra_is_zero():
    L = np.stack([np.diag([1.0, -1, 0, 0]), np.diag([0.0, 0, 1, -1])])
    assert form_signature(killing_form(L)) == (0, 0, 2)


@pytest.mark.parametrize(
    ("name", "expected"), [("two_commuting_rotations", (0, 0, 2)), ("so3", (0, 3, 0)), ("so13", (3, 3, 0))]
)
def test_killing_signature_is_judged_against_the_algebras_noise(name, expected):
    """With 1e-3 noise an abelian algebra's Killing form is O(1e-6), not zero: a 1e-6-relative cut called
    two commuting rotations (1, 0, 1); the noise-level cut keeps (0, 0, 2) and the semisimple signatures."""
    two = np.zeros((2, 4, 4))
    two[0, 0, 1], two[0, 1, 0], two[1, 2, 3], two[1, 3, 2] = 1, -1, 1, -1
    L = {"two_commuting_rotations": two, "so3": so(3), "so13": so13()}[name]
    rng = np.random.default_rng(0)
    for _ in range(5):
        d = diagnose(L + 1e-3 * rng.standard_normal(L.shape))
        assert d.killing_signature == expected, (name, d.killing_signature, d.noise)
