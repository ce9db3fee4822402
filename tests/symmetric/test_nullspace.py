"""Equivariant maps, invariant vectors and forms as null spaces, against closed-form dimensions (float64)."""

import math

import numpy as np
import pytest
import torch

from liegan import algebras
from liegan.symmetric import EMLP, Group, GroupSpaces, equivariance_error
from liegan.symmetric.nullspace import (
    EXACT,
    choose_cut,
    commutant,
    invariant_forms,
    invariant_vectors,
    merged_generator,
)


def t64(a):
    return torch.as_tensor(np.asarray(a), dtype=torch.float64)


def rotation7():
    c, s = math.cos(2 * math.pi / 7), math.sin(2 * math.pi / 7)
    return t64([[[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]])


# name -> (kind, A, dim of maps V -> V, dim of invariant vectors, dim of invariant symmetric forms)
CASES = {
    "so2": ("lie", t64(algebras.so(2)), 2, 0, 1),
    "twobody": ("lie", t64(algebras.twobody_so2()), 32, 0, 16),
    "so3": ("lie", t64(algebras.so(3)), 1, 0, 1),
    "so13": ("lie", t64(algebras.so13()), 1, 0, 1),
    "c7": ("group", rotation7(), 3, 1, 2),
}


@pytest.mark.parametrize("name", CASES)
def test_dimensions_match_closed_forms_and_are_exact(name):
    kind, A, d_maps, d_vec, d_forms = CASES[name]
    for ns, d in (
        (commutant(kind, A), d_maps),
        (invariant_vectors(kind, A), d_vec),
        (invariant_forms(kind, A), d_forms),
    ):
        assert ns.dim == d, f"{name}: {ns.describe()}, expected {d}"
        assert ns.kept < 1e-9, f"{name}: {ns.describe()}"
        assert ns.dim == 0 or ns.gap > 1e6, f"{name}: {ns.describe()}"


@pytest.mark.parametrize("name", ["twobody", "so13"])
def test_the_maps_commute(name):
    kind, A, *_ = CASES[name]
    B = commutant(kind, A).basis
    res = torch.einsum("cij,rjk->crik", A, B) - torch.einsum("rij,cjk->crik", B, A)
    assert res.abs().max() < 1e-10, f"{name}: commutator {res.abs().max():.3g}"
    S = invariant_forms(kind, A).basis
    assert (A.transpose(-1, -2)[:, None] @ S[None] + S[None] @ A[:, None]).abs().max() < 1e-10


def test_so13_form_is_minkowski():
    S = invariant_forms("lie", t64(algebras.so13())).basis[0].numpy()
    assert abs(np.sum(S * algebras.MINKOWSKI)) / (np.linalg.norm(S) * 2) > 1 - 1e-12


def test_a_noisy_generator_keeps_the_whole_space_and_reports_its_noise():
    """Blocks of a learned two-body generator differ by ~1 %: the maps that couple them commute only to
    that level, and the gap above them says the space is still well determined."""
    J = np.array([[0.0, 1.0], [-1.0, 0.0]])
    rng = np.random.default_rng(0)
    blocks = [(1 + 0.01 * rng.standard_normal()) * J + 0.005 * rng.standard_normal((2, 2)) for _ in range(4)]
    L = np.zeros((1, 8, 8))
    for i, b in enumerate(blocks):
        L[0, 2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = b
    ns = commutant("lie", t64(L))
    assert ns.dim == 32, ns.describe()
    assert 1e-4 < ns.kept < 0.05 and ns.gap > 5, ns.describe()


def _noisy_twobody(seed=0):
    """A learned-looking two-body generator: blocks turning at rates ~1 % apart, with shear and dilation."""
    J = np.array([[0.0, 1.0], [-1.0, 0.0]])
    rng = np.random.default_rng(seed)
    L = np.zeros((1, 8, 8))
    for i in range(4):
        block = (1 + 0.01 * rng.standard_normal()) * J + 0.005 * rng.standard_normal((2, 2))
        L[0, 2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = block
    return t64(L)


def test_merged_generator_has_the_kept_commutant_exactly_and_the_emlp_nearly_follows_it():
    L = _noisy_twobody()
    M = merged_generator(L[0])
    exact_so2 = merged_generator(t64(algebras.twobody_so2())[0])
    assert torch.equal(exact_so2, t64(algebras.twobody_so2())[0]), "an exact rotation is left as it is"
    assert commutant("lie", L, tol=EXACT).dim == 8  # L's own exact commutant couples no 2-vectors
    assert commutant("lie", M[None], tol=EXACT).dim == commutant("lie", L).dim == 32
    assert 1e-3 < float((M - L[0]).norm() / L[0].norm()) < 0.02
    own, merged = Group(L, "normal", 3.0), Group(M[None], "normal", 3.0)
    torch.manual_seed(0)
    model = EMLP(GroupSpaces(own), 2, 2, [8]).eval()
    x = torch.randn(256, 2, 8, generator=torch.Generator().manual_seed(0))
    e_own, e_merged = (equivariance_error(model, x, g, True) for g in (own, merged))
    assert e_merged < 1e-2 * e_own, (e_merged, e_own)


def test_negative_control_merging_invents_no_symmetry_and_refuses_a_defective_matrix():
    G = t64(np.random.default_rng(1).standard_normal((8, 8)))  # distinct eigenvalues: nothing to merge
    assert commutant("lie", merged_generator(G)[None], tol=EXACT).dim == 8
    assert merged_generator(t64([[0.0, 1.0], [0.0, 0.0]])) is None  # a Jordan block: no eigenbasis
    assert merged_generator(t64(np.zeros((3, 3)))) is None


def test_negative_control_a_dilation_has_no_invariant_form_and_a_generic_matrix_a_small_commutant():
    assert invariant_forms("lie", t64(np.eye(3)[None])).dim == 0
    A = t64(np.random.default_rng(1).standard_normal((1, 4, 4)))
    ns = commutant("lie", A)  # only the polynomials in A: I, A, A^2, A^3
    assert ns.dim == 4 and ns.kept < 1e-9, ns.describe()


@pytest.mark.parametrize(
    "s, cut",
    [
        ([0.0, 0.0, 1e-3, 1e-3, 0.2, 1.0], 4),  # exact zeros, then noise, then the gap
        ([1e-16, 0.02, 0.03, 0.04, 0.06, 1.0], 1),  # noise spreads up to tol without a gap: exact part only
        ([0.1, 0.5, 1.0], 0),  # nothing below tol
        ([1e-3, 0.01, 0.3, 1.0], 2),  # two gaps below tol: the highest one
    ],
)
def test_choose_cut(s, cut):
    assert choose_cut(np.array(s)) == cut
