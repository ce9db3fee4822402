"""Lie-algebra maths as small pure functions over tensors.

Shapes follow one convention throughout: a basis of generators ``L`` is (c, n, n), coefficients ``z`` are
(batch, c), group elements ``g`` are (batch, n, n) and data ``x`` is (batch, k, n) with k components
(time steps, particles, bodies) that all transform with the same g.

Every function accepts torch tensors.  The scoring functions (cosines, span similarity, shares, structure
constants) live in :mod:`liegan.scores`, in numpy so that reading and scoring an algebra file never imports
torch; they are re-exported here, so that the trainer, the analysis scripts and the tests call the same code.
"""

from __future__ import annotations

import math

import torch

from liegan.scores import (  # noqa: F401  (re-exported: the one place callers look for the maths)
    bracket,
    closure_error,
    data_cosine,
    frobenius_cosine,
    generator_shares,
    orthonormal_span,
    principal_cosines,
    span_similarity,
    structure_constants,
)

# --------------------------------------------------------------------------------------------------------
# group action


def combine(z: torch.Tensor, L: torch.Tensor) -> torch.Tensor:
    """Algebra element sum_i z_i L_i.  z: (b, c), L: (c, n, n) -> (b, n, n)."""
    return torch.einsum("bc,cij->bij", z, L)


def exp_map(z: torch.Tensor, L: torch.Tensor) -> torch.Tensor:
    """Group elements g = exp(sum_i z_i L_i).  z: (b, c), L: (c, n, n) -> (b, n, n)."""
    return matrix_exp(combine(z, L))


# Scaling and squaring with a degree-12 Taylor polynomial, for the small matrices (n <= 16) of every built-in
# dataset.  Why not torch.linalg.matrix_exp: on a batch of 512 4 x 4 matrices its forward and backward took
# a third of a top-quark step (it picks a Pade degree per matrix and differentiates through the exponential
# of a 2n x 2n block matrix); this is 5 batched products plus the squarings, differentiated by autograd.
# After scaling, ||X||_1 <= theta, so the truncation error is below theta^13 / 13! * e^theta relative:
# 3e-14 at theta 0.5 (float32, eps 6e-8) and 3e-18 at theta 0.25 (float64, eps 1.1e-16).
_TAYLOR_THETA = {torch.float32: 0.5, torch.float64: 0.25}
_TAYLOR = [1.0 / math.factorial(k) for k in range(13)]
SMALL_N = 16


def matrix_exp(A: torch.Tensor) -> torch.Tensor:
    """exp(A) for a batch A: (..., n, n).  Real float32/float64 with n <= SMALL_N and finite entries take the
    Taylor path above; anything else is torch.linalg.matrix_exp."""
    theta = _TAYLOR_THETA.get(A.dtype)
    if theta is None or A.shape[-1] > SMALL_N or A.numel() == 0:
        return torch.linalg.matrix_exp(A)
    norm = float(A.detach().abs().sum(-2).amax())  # the largest 1-norm in the batch: one scale for all
    if not math.isfinite(norm):
        return torch.linalg.matrix_exp(A)  # NaN/inf in, NaN/inf out, as matrix_exp gives them
    s = max(0, math.ceil(math.log2(norm / theta))) if norm > theta else 0
    X = A * 0.5**s
    eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
    X2 = X @ X
    X3, X4 = X2 @ X, X2 @ X2
    # Paterson-Stockmeyer: sum_k X^k / k! = B0 + X4 (B1 + X4 B2), each B_j a cubic in X (3 products fewer
    # than Horner's rule)
    f = _TAYLOR
    B = [f[j] * eye + f[j + 1] * X + f[j + 2] * X2 + f[j + 3] * X3 for j in (0, 4, 8)]
    E = B[0] + X4 @ (B[1] + X4 @ (B[2] + f[12] * X4))
    for _ in range(s):
        E = E @ E
    return E


def act(g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Apply g to every component of x.  g: (b, n, n), x: (b, k, n) -> (b, k, n)."""
    return torch.einsum("bij,bkj->bki", g, x)


# --------------------------------------------------------------------------------------------------------
# normalisation and regularisers


def normalise(L: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """L_i / sqrt(||L_i||_F^2 / n): a channel of unit mean squared eigenvalue scale.  L: (c, n, n)."""
    n = L.shape[-1]
    scale = torch.sqrt((L**2).sum(dim=(-2, -1), keepdim=True) / n + eps)
    return L / scale


def killing_inner(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """tr(AB) - tr(A) tr(B) / n: the trace form of gl(n) with the scaling direction removed."""
    n = A.shape[-1]
    trAB = torch.einsum("...ij,...ji->...", A, B)
    return trAB - torch.diagonal(A, dim1=-2, dim2=-1).sum(-1) * torch.diagonal(B, dim1=-2, dim2=-1).sum(-1) / n


def channel_orthogonality(L: torch.Tensor, form: str = "frobenius") -> torch.Tensor:
    """sum_{a<b} |<Lhat_a, Lhat_b>| with Lhat = normalise(L); ``form`` is 'frobenius' or 'killing'.

    Keeps the c channels from collapsing onto one generator.  Returns a scalar tensor (0 when c = 1).
    """
    c = L.shape[0]
    if c < 2:
        return L.new_zeros(())
    Lh = normalise(L)
    if form == "frobenius":
        G = torch.einsum("aij,bij->ab", Lh, Lh)
    elif form == "killing":
        G = killing_inner(Lh[:, None], Lh[None, :])
    else:
        raise ValueError(f"unknown orthogonality form {form!r} (use 'frobenius' or 'killing')")
    iu = torch.triu_indices(c, c, offset=1, device=L.device)
    return G[iu[0], iu[1]].abs().sum()


IDENTITY_SPACES = ("data", "fourier")


def identity_cosine(gx: torch.Tensor, x: torch.Tensor, eps: float = 1e-8, space: str = "data") -> torch.Tensor:
    """Mean over batch and components of cos(gx, x), the cosine taken over each component's features: the n
    coordinates of a vector (x: (b, k, n)) or the pixels of an image channel (x: (b, C, H, W)).  Signed, so
    that means of equal-sized shards average to the mean of the whole batch.

    space 'fourier' (images only) compares |FFT2| of the images instead of their pixels: blind to
    translations, which change only the transforms' phases.
    """
    if space == "fourier":
        if x.ndim != 4:
            raise ValueError(f"the Fourier identity cosine needs images (b, C, H, W), got {tuple(x.shape)}")
        gx, x = torch.fft.rfft2(gx).abs(), torch.fft.rfft2(x).abs()
    elif space != "data":
        raise ValueError(f"unknown identity space {space!r} (use one of {list(IDENTITY_SPACES)})")
    gx, x = gx.flatten(2), x.flatten(2)
    return ((gx * x).sum(-1) / (gx.norm(dim=-1) * x.norm(dim=-1) + eps)).mean()
