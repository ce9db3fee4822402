"""Lie-algebra maths as small pure functions over tensors.

Shapes follow one convention throughout: a basis of generators ``L`` is (c, n, n), coefficients ``z`` are
(batch, c), group elements ``g`` are (batch, n, n) and data ``x`` is (batch, k, n) with k components
(time steps, particles, bodies) that all transform with the same g.

Every function accepts torch tensors; the scoring functions also accept numpy arrays and return floats,
so that the trainer, the analysis scripts and the tests call the same code.
"""

from __future__ import annotations

import numpy as np
import torch


def _t(a, dtype=torch.float64) -> torch.Tensor:
    """A float64 tensor copy of ``a`` for scoring (scores are never on the autograd path)."""
    if isinstance(a, torch.Tensor):
        return a.detach().to("cpu", dtype)
    return torch.as_tensor(np.asarray(a), dtype=dtype)


# --------------------------------------------------------------------------------------------------------
# group action


def combine(z: torch.Tensor, L: torch.Tensor) -> torch.Tensor:
    """Algebra element sum_i z_i L_i.  z: (b, c), L: (c, n, n) -> (b, n, n)."""
    return torch.einsum("bc,cij->bij", z, L)


def exp_map(z: torch.Tensor, L: torch.Tensor) -> torch.Tensor:
    """Group elements g = exp(sum_i z_i L_i).  z: (b, c), L: (c, n, n) -> (b, n, n)."""
    return torch.linalg.matrix_exp(combine(z, L))


def act(g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Apply g to every component of x.  g: (b, n, n), x: (b, k, n) -> (b, k, n)."""
    return torch.einsum("bij,bkj->bki", g, x)


def bracket(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """Commutator [A, B] = AB - BA, broadcast over leading dimensions."""
    return A @ B - B @ A


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


def identity_cosine(gx: torch.Tensor, x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Mean over batch and components of cos(gx, x), cosine over the feature axis (signed, so that means
    of equal-sized shards average to the mean of the whole batch)."""
    return ((gx * x).sum(-1) / (gx.norm(dim=-1) * x.norm(dim=-1) + eps)).mean()


def identity_regulariser(gx: torch.Tensor, x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """|identity_cosine(gx, x)|.

    Small when the sampled transformations move points far from where they started, which keeps the
    generator from collapsing onto the identity (a trivially undetectable "symmetry").
    """
    return identity_cosine(gx, x, eps).abs()


# --------------------------------------------------------------------------------------------------------
# scores


def frobenius_cosine(A, B) -> float:
    """<A, B>_F / (||A|| ||B||) for two matrices (or two stacks flattened as one vector)."""
    a, b = _t(A).reshape(-1), _t(B).reshape(-1)
    den = a.norm() * b.norm()
    return float((a @ b) / den) if den > 0 else 0.0


def data_cosine(L, L_true, x) -> float:
    """Mean over data points of |cos(L x, L_true x)|.  L, L_true: (n, n); x: (N, n) or (N, k, n).

    The right score for a single generator when the data lie on a subspace, where entries of L that
    never touch the data are unconstrained and distort the Frobenius cosine.
    """
    A, B, X = _t(L), _t(L_true), _t(x).reshape(-1, _t(L).shape[-1])
    u, v = X @ A.T, X @ B.T
    den = u.norm(dim=-1) * v.norm(dim=-1)
    ok = den > 1e-12
    if not ok.any():
        return 0.0
    return float(((u * v).sum(-1)[ok] / den[ok]).abs().mean())


def orthonormal_span(L, rel_tol: float = 1e-8) -> torch.Tensor:
    """Orthonormal basis (r, n*n) of span{L_i}, dropping directions below rel_tol of the largest."""
    M = _t(L).reshape(_t(L).shape[0], -1)
    if M.numel() == 0:
        return M
    U, S, Vh = torch.linalg.svd(M, full_matrices=False)
    keep = S > rel_tol * S.max().clamp_min(1e-300)
    return Vh[keep]


def principal_cosines(L, T) -> torch.Tensor:
    """Cosines of the principal angles between span{L_i} and span{T_j}, descending."""
    A, B = orthonormal_span(L), orthonormal_span(T)
    if A.shape[0] == 0 or B.shape[0] == 0:
        return torch.zeros(0, dtype=torch.float64)
    return torch.linalg.svdvals(A @ B.T).clamp(0.0, 1.0)


def span_similarity(L, T) -> float:
    """Basis-free similarity of two spans: mean cos^2 of their principal angles (1 = same span).

    With c learned channels and a reference of dimension d, min(c, d) angles enter; a learned span that
    contains the whole reference therefore scores 1 even when c > d (a redundant extra channel).
    """
    cos = principal_cosines(L, T)
    return float((cos**2).mean()) if cos.numel() else 0.0


def generator_shares(L, T) -> np.ndarray:
    """Share of each reference generator T_j inside span{L}: ||P_L t_j||^2 / ||t_j||^2, shape (d,)."""
    A = orthonormal_span(L)
    Tm = _t(T).reshape(_t(T).shape[0], -1)
    proj = Tm @ A.T
    return ((proj**2).sum(-1) / (Tm**2).sum(-1).clamp_min(1e-300)).numpy()


def structure_constants(L) -> tuple[np.ndarray, float]:
    """Least-squares structure constants f (c, c, c) with [L_a, L_b] ~ sum_k f_abk L_k, and the closure
    residual: max over pairs of ||[L_a, L_b] - sum_k f_abk L_k|| / (||L_a|| ||L_b||).

    A residual near zero means span{L} is closed under the bracket, i.e. a Lie algebra.
    """
    A = _t(L)
    c = A.shape[0]
    basis = A.reshape(c, -1).T  # (n*n, c)
    f = np.zeros((c, c, c))
    worst = 0.0
    norms = A.reshape(c, -1).norm(dim=-1)
    for a in range(c):
        for b in range(a + 1, c):
            br = bracket(A[a], A[b]).reshape(-1)
            coef = torch.linalg.lstsq(basis, br[:, None]).solution[:, 0]
            f[a, b], f[b, a] = coef.numpy(), -coef.numpy()
            den = float(norms[a] * norms[b])
            if den > 0:
                worst = max(worst, float((br - basis @ coef).norm()) / den)
    return f, worst


def closure_error(L) -> float:
    """The closure residual of :func:`structure_constants` (0 for a Lie algebra)."""
    return structure_constants(L)[1]
