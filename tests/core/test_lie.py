"""Core Lie-algebra maths against closed forms (float64)."""

import numpy as np
import pytest
import scipy.linalg
import torch

from liegan import algebras
from liegan.lie import (
    act,
    bracket,
    channel_orthogonality,
    closure_error,
    data_cosine,
    exp_map,
    frobenius_cosine,
    generator_shares,
    identity_cosine,
    normalise,
    span_similarity,
    structure_constants,
)

NAMED = {
    "so3": algebras.so(3),
    "so13": algebras.so13(),
    "so4": algebras.so(4),
    "sl3": algebras.sl(3),
    "twobody": algebras.twobody_so2(),
}


def t64(a):
    return torch.as_tensor(a, dtype=torch.float64)


@pytest.mark.parametrize("name", NAMED)
def test_exp_map_matches_scipy_expm(name):
    L = t64(NAMED[name])
    z = torch.randn(5, L.shape[0], dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    g = exp_map(z, L)
    for b in range(5):
        ref = scipy.linalg.expm(np.einsum("c,cij->ij", z[b].numpy(), NAMED[name]))
        err = np.abs(g[b].numpy() - ref).max() / np.abs(ref).max()
        assert err < 1e-12, f"{name}: exp_map differs from scipy expm by {err:.2e}"


def test_exp_of_rotation_generator_is_rotation_matrix():
    theta = 0.7
    g = exp_map(t64([[theta]]), t64(algebras.so(2)))[0]  # so(2) basis: E_01 - E_10 = [[0, 1], [-1, 0]]
    expected = np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]])
    np.testing.assert_allclose(g.numpy(), expected, atol=1e-14)


def test_act_applies_the_same_g_to_every_component():
    g = exp_map(torch.randn(3, 1, dtype=torch.float64), t64(algebras.so(3)[:1]))
    x = torch.randn(3, 4, 3, dtype=torch.float64)
    gx = act(g, x)
    for b in range(3):
        np.testing.assert_allclose(gx[b].numpy(), (g[b] @ x[b].T).T.numpy(), atol=1e-14)
    # rotations preserve each component's norm
    np.testing.assert_allclose(gx.norm(dim=-1), x.norm(dim=-1), atol=1e-12)


def test_so3_brackets():
    """In the basis L0 = E01-E10, L1 = E02-E20, L2 = E12-E21 the brackets are [L0, L1] = -L2,
    [L0, L2] = L1, [L1, L2] = -L0 (so(3)'s epsilon tensor in this ordering), and [L_a, L_a] = 0."""
    L = t64(algebras.so(3))
    expected = {(0, 1): -L[2], (0, 2): L[1], (1, 2): -L[0]}
    for (a, b), C in expected.items():
        np.testing.assert_allclose(bracket(L[a], L[b]).numpy(), C.numpy(), atol=1e-15, err_msg=f"[L{a}, L{b}]")
        np.testing.assert_allclose(bracket(L[b], L[a]).numpy(), -C.numpy(), atol=1e-15, err_msg=f"[L{b}, L{a}]")
    for a in range(3):
        assert bracket(L[a], L[a]).abs().max() == 0


def test_so13_brackets_closed_form():
    K, J = algebras.so13()[:3], algebras.so13()[3:]
    Kx, Ky, Kz = (t64(m) for m in K)
    Jx, Jy, Jz = (t64(m) for m in J)
    # the Lorentz algebra in this basis: [J_x, J_y] = J_z, [K_x, K_y] = -J_z, [J_x, K_y] = K_z
    assert torch.allclose(bracket(Jx, Jy), Jz)
    assert torch.allclose(bracket(Kx, Ky), -Jz)
    assert torch.allclose(bracket(Jx, Ky), Kz)
    # and cyclically
    assert torch.allclose(bracket(Jy, Jz), Jx) and torch.allclose(bracket(Ky, Kz), -Jx)
    assert closure_error(algebras.so13()) < 1e-12


def test_bracket_antisymmetry_and_jacobi():
    A, B, C = torch.randn(3, 5, 5, dtype=torch.float64)
    assert torch.allclose(bracket(A, B), -bracket(B, A))
    jac = bracket(A, bracket(B, C)) + bracket(B, bracket(C, A)) + bracket(C, bracket(A, B))
    assert jac.abs().max() < 1e-12


def test_normalise_gives_unit_mean_square_scale():
    L = torch.randn(4, 6, 6, dtype=torch.float64) * torch.tensor([0.1, 1, 10, 100], dtype=torch.float64)[:, None, None]
    Lh = normalise(L)
    np.testing.assert_allclose(((Lh**2).sum(dim=(1, 2)) / 6).numpy(), 1.0, rtol=1e-9)


@pytest.mark.parametrize("form", ["frobenius", "killing"])
def test_channel_orthogonality_zero_for_orthogonal_and_positive_for_parallel(form):
    L = t64(algebras.so(3))
    assert channel_orthogonality(L, form) < 1e-12
    parallel = torch.stack([L[0], 2 * L[0]])
    assert channel_orthogonality(parallel, form) > 1.0, "negative control: parallel channels must be penalised"
    assert channel_orthogonality(L[:1], form) == 0


def test_killing_form_ignores_scaling_direction():
    I = torch.eye(3, dtype=torch.float64)
    A = t64(algebras.so(3)[0])
    assert channel_orthogonality(torch.stack([I, A]), "killing") < 1e-12


def test_identity_cosine():
    x = torch.randn(10, 2, 3, dtype=torch.float64)
    assert identity_cosine(x, x) == pytest.approx(1.0)
    # signed, so that shard means average to the batch mean; the trainer takes |.| of the global mean
    assert identity_cosine(-x, x) == pytest.approx(-1.0)
    perp = torch.stack([-x[..., 1], x[..., 0], torch.zeros_like(x[..., 0])], -1)
    x2 = torch.cat([x[..., :2], torch.zeros_like(x[..., :1])], -1)
    assert abs(identity_cosine(perp, x2)) < 1e-12


def test_frobenius_and_data_cosine():
    T = algebras.twobody_so2()[0]
    assert frobenius_cosine(T, T) == pytest.approx(1.0)
    assert frobenius_cosine(-T, T) == pytest.approx(-1.0)
    assert abs(frobenius_cosine(T, np.eye(8))) < 1e-15
    x = np.random.default_rng(0).normal(size=(50, 8))
    assert data_cosine(3 * T, T, x) == pytest.approx(1.0)
    # an entry that never touches the data (data on a subspace) does not change the data cosine
    x_sub = x.copy()
    x_sub[:, 7] = 0.0
    T_off = T.copy()
    T_off[0, 7] += 5.0
    assert data_cosine(T_off, T, x_sub) == pytest.approx(1.0)
    assert frobenius_cosine(T_off, T) < 0.6


@pytest.mark.parametrize("name", ["so3", "so13", "so4", "sl3"])
def test_span_similarity_is_basis_free(name):
    T = NAMED[name]
    d = T.shape[0]
    R = np.linalg.qr(np.random.default_rng(1).normal(size=(d, d)))[0] * np.random.default_rng(2).uniform(0.5, 3, d)
    mixed = np.einsum("ab,bij->aij", R, T)
    assert span_similarity(mixed, T) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(generator_shares(mixed, T), 1.0, atol=1e-12)


def test_span_similarity_below_one_for_a_different_algebra():
    assert span_similarity(algebras.so(4), algebras.so13()) < 0.75
    assert span_similarity(algebras.scaling(4), algebras.so13()) < 1e-12
    # containing the reference plus one redundant channel still scores 1
    extra = np.concatenate([algebras.so13(), algebras.scaling(4)])
    assert span_similarity(extra, algebras.so13()) == pytest.approx(1.0)
    shares = generator_shares(algebras.so(4), algebras.so13())
    np.testing.assert_allclose(shares, [0, 0, 0, 1, 1, 1], atol=1e-12)


def test_structure_constants_of_so3():
    f, residual = structure_constants(algebras.so(3))
    assert residual < 1e-12
    # totally antisymmetric with |f_abc| = 1 for distinct indices: epsilon_ijk up to the basis orientation
    for a in range(3):
        for b in range(3):
            for c in range(3):
                expected = 1.0 if len({a, b, c}) == 3 else 0.0
                assert abs(abs(f[a, b, c]) - expected) < 1e-12, (a, b, c, f[a, b, c])
    assert np.allclose(f, -np.transpose(f, (1, 0, 2)))


def test_closure_error_large_for_random_matrices():
    rng = np.random.default_rng(0)
    assert closure_error(rng.normal(size=(2, 4, 4))) > 0.3
