"""liegan.lie.matrix_exp (scaling and squaring with a Taylor polynomial) against torch.linalg.matrix_exp:
values and gradients, float32 and float64, over the sizes and norms the trainer meets and beyond."""

import pytest
import torch

from liegan.lie import SMALL_N, exp_map, matrix_exp

# relative tolerances: a few ulps of each dtype, scaled by the conditioning the squarings bring
TOL = {torch.float32: 2e-5, torch.float64: 1e-12}
CASES = [(n, scale) for n in (2, 4, 8, 12) for scale in (1e-3, 0.7, 20.0)]


def batch(n, scale, dtype, b=16, seed=0):
    g = torch.Generator().manual_seed(seed + 97 * n)
    return (torch.randn(b, n, n, generator=g, dtype=torch.float64) * scale / n**0.5).to(dtype)


def rel(a, b):
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize(("n", "scale"), CASES, ids=[f"n{n}-s{s:g}" for n, s in CASES])
def test_values_match_torch(n, scale, dtype):
    A = batch(n, scale, dtype)
    err = rel(matrix_exp(A), torch.linalg.matrix_exp(A.double()))
    assert err < TOL[dtype] * max(1.0, scale), f"n={n} scale={scale} {dtype}: relative error {err:.3g}"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize(("n", "scale"), CASES, ids=[f"n{n}-s{s:g}" for n, s in CASES])
def test_gradients_match_torch(n, scale, dtype):
    A = batch(n, scale, dtype).requires_grad_()
    W = batch(n, 1.0, dtype, seed=1)
    (g_ours,) = torch.autograd.grad((matrix_exp(A) * W).sum(), A)
    A64 = A.detach().double().requires_grad_()
    (g_ref,) = torch.autograd.grad((torch.linalg.matrix_exp(A64) * W.double()).sum(), A64)
    err = rel(g_ours.double(), g_ref)
    assert err < 5 * TOL[dtype] * max(1.0, scale), f"n={n} scale={scale} {dtype}: gradient error {err:.3g}"


def test_closed_forms():
    """A rotation generator gives the rotation by the angle; a nilpotent one gives I + N exactly."""
    t = torch.tensor([0.1, 1.0, 2.5, 7.0], dtype=torch.float64)
    J = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=torch.float64)
    R = matrix_exp(t[:, None, None] * J)
    c, s = torch.cos(t), torch.sin(t)
    expected = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
    assert torch.allclose(R, expected, atol=1e-14, rtol=0)
    N = torch.zeros(1, 3, 3, dtype=torch.float64)
    N[0, 0, 2] = 5.0
    assert torch.equal(matrix_exp(N), torch.eye(3, dtype=torch.float64)[None] + N)


def test_negative_control_a_wrong_exponential_is_caught():
    """The tolerance above separates: a Taylor series cut one degree short of what it needs fails it."""
    A = batch(4, 0.3, torch.float64)
    short = sum(torch.linalg.matrix_power(A, k) / float(torch.tensor(k + 1.0).lgamma().exp()) for k in range(6))
    assert rel(short, torch.linalg.matrix_exp(A)) > 100 * TOL[torch.float64]


def test_falls_back_outside_its_range():
    """Larger matrices, other dtypes and non-finite input take torch.linalg.matrix_exp (NaN stays NaN)."""
    big = batch(SMALL_N + 1, 0.3, torch.float64, b=2)
    assert torch.equal(matrix_exp(big), torch.linalg.matrix_exp(big))
    half = batch(3, 0.3, torch.float64, b=2).to(torch.complex128)
    assert torch.equal(matrix_exp(half), torch.linalg.matrix_exp(half))
    bad = batch(3, 0.3, torch.float64, b=2)
    bad[0, 0, 0] = float("nan")
    assert torch.isnan(matrix_exp(bad)[0]).any()


def test_exp_map_uses_it():
    L = batch(4, 0.5, torch.float64, b=7)
    z = torch.randn(5, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    ref = torch.linalg.matrix_exp(torch.einsum("bc,cij->bij", z, L))
    assert rel(exp_map(z, L), ref) < TOL[torch.float64]
