"""Equivariant linear maps, invariant vectors and invariant bilinear forms as the null space of a stacked
linear constraint, with a tolerance that looks for the gap.

A learned algebra is only approximately what it should be (the four 2x2 blocks of a two-body generator
differ by a percent, say), so maps that should commute with it do so only up to that noise, while a few
(the identity, L itself) commute exactly.  An absolute threshold either keeps only the exact ones (a model
that cannot couple q with p) or lets in whatever lies below it.  Here the singular values of the stacked
constraint are scanned from the bottom: the cut goes at the highest well-separated gap (ratio >= min_gap)
whose lower side is still below ``tol`` (relative to the largest singular value), so a noise level of a few
percent is accepted while the directions above the gap are not.  Every solve reports the spectrum, the cut,
the gap at the cut and the largest singular value kept (the residual of the worst basis element), so a
caller can say how well determined the space is.

Vectorisation is row-major: vec(W)[i * d_in + j] = W[i, j].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from liegan.metric import symmetric_basis

TOL = 0.05  # largest relative singular value still counted as "constraint satisfied up to noise"
MIN_GAP = 3.0  # a cut needs the next singular value at least this many times the last one kept
EXACT = 1e-9  # relative singular values below this are exact zeros (float64 round-off)


@dataclass
class NullSpace:
    """basis: (r, *shape) orthonormal (Frobenius) elements; singular_values: ascending, relative to the
    largest; kept: the largest relative singular value inside the space (0 for an exact one); gap:
    s_r / s_{r-1} at the cut (inf: exact space, next value non-zero; 1.0: no gap, empty or everything)."""

    basis: torch.Tensor
    singular_values: np.ndarray
    kept: float
    gap: float
    tol: float

    @property
    def dim(self) -> int:
        return int(self.basis.shape[0])

    def summary(self) -> dict:
        return {
            "dim": self.dim,
            "gap": self.gap,
            "kept": self.kept,
            "tol": self.tol,
            "next": float(self.singular_values[self.dim]) if self.dim < len(self.singular_values) else None,
        }

    def describe(self) -> str:
        if self.dim == 0:
            return f"empty (smallest singular value {self.singular_values[0]:.3g} > tol {self.tol})"
        where = "exact" if self.kept <= EXACT else f"satisfied to {self.kept:.2g}"
        return f"{self.dim}-dimensional, {where}, gap {self.gap:.3g}"


def choose_cut(s: np.ndarray, tol: float = TOL, min_gap: float = MIN_GAP) -> int:
    """How many of the ascending relative singular values ``s`` form the null space (see module doc)."""
    exact = int((s <= EXACT).sum())
    cut = exact
    for k in range(max(exact, 1), len(s)):
        if s[k - 1] > tol:
            break
        if s[k] >= min_gap * max(s[k - 1], EXACT):
            cut = k
    return cut


def null_space(
    C: torch.Tensor,
    shape: tuple[int, ...],
    tol: float = TOL,
    min_gap: float = MIN_GAP,
    basis: torch.Tensor | None = None,
) -> NullSpace:
    """Null space of the stacked constraint C (m, p) acting on coordinates over ``basis`` (p, *shape)
    (default: the standard basis of R^shape, p = prod(shape))."""
    C = C.to(torch.float64)
    if C.shape[0] < C.shape[1]:  # zero rows, so that the SVD returns a full basis of the coordinates
        C = torch.cat([C, C.new_zeros(C.shape[1] - C.shape[0], C.shape[1])])
    _, s, Vh = torch.linalg.svd(C, full_matrices=False)  # not eigh of C^T C: that squares the round-off
    s, V = s.flip(0).numpy(), Vh.flip(0).T  # ascending
    smax = s.max() if s.size and s.max() > 0 else 1.0
    s = s / smax
    r = choose_cut(s, tol, min_gap) if s.max() > 0 else len(s)  # no constraint at all: everything
    gap = float(s[r] / s[r - 1]) if 0 < r < len(s) and s[r - 1] > 0 else (np.inf if 0 < r < len(s) else 1.0)
    coords = V[:, :r].T  # (r, p), orthonormal
    elems = coords if basis is None else coords @ basis.reshape(basis.shape[0], -1).to(torch.float64)
    return NullSpace(elems.reshape(r, *shape), s, float(s[r - 1]) if r else 0.0, gap, tol)


def _unit_norm(M: torch.Tensor) -> torch.Tensor:
    """Each constraint matrix scaled to unit Frobenius norm, so no generator outweighs another."""
    return M / M.norm(dim=(-2, -1), keepdim=True).clamp_min(1e-300)


def commutant(kind: str, A: torch.Tensor, B: torch.Tensor | None = None, **kw) -> NullSpace:
    """Linear maps W: V_in -> V_out with A_out W = W A_in ('lie': A are algebra elements) or A_out W A_in^-1
    = W ('group': A are group elements), for every constraint pair.  A: (c, d_in, d_in) acts on the input;
    B: (c, d_out, d_out) on the output (default A).  Returns a NullSpace of (d_out, d_in) matrices."""
    A = A.to(torch.float64)
    B = A if B is None else B.to(torch.float64)
    d_in, d_out = A.shape[-1], B.shape[-1]
    I_in, I_out = torch.eye(d_in, dtype=torch.float64), torch.eye(d_out, dtype=torch.float64)
    rows = []
    for a, b in zip(A, B, strict=True):
        if kind == "lie":
            rows.append(torch.kron(b, I_in) - torch.kron(I_out, a.T.contiguous()))
        else:
            rows.append(torch.kron(b, torch.linalg.inv(a).T.contiguous()) - torch.kron(I_out, I_in))
    C = torch.cat([_unit_norm(R) for R in rows])
    return null_space(C, (d_out, d_in), **kw)


def invariant_vectors(kind: str, A: torch.Tensor, **kw) -> NullSpace:
    """Vectors v with A v = 0 ('lie') or A v = v ('group'): the biases an equivariant layer may carry."""
    A = A.to(torch.float64)
    M = A if kind == "lie" else A - torch.eye(A.shape[-1], dtype=torch.float64)
    return null_space(torch.cat(list(_unit_norm(M))), (A.shape[-1],), **kw)


def invariant_forms(kind: str, A: torch.Tensor, **kw) -> NullSpace:
    """Symmetric bilinear forms S with A^T S + S A = 0 ('lie') or A^T S A = S ('group'): the quadratic
    invariants x^T S x of the group (the invariant metric's null space, for gating and invariant features)."""
    A = _unit_norm(A.to(torch.float64)) if kind == "lie" else A.to(torch.float64)
    n = A.shape[-1]
    E = torch.as_tensor(symmetric_basis(n))  # (p, n, n), orthonormal
    cols = []
    for S in E:
        R = A.transpose(-1, -2) @ S + S @ A if kind == "lie" else A.transpose(-1, -2) @ S @ A - S
        cols.append(R.reshape(-1))
    return null_space(torch.stack(cols, 1), (n, n), basis=E, **kw)


def merged_generator(L: torch.Tensor, tol: float = TOL, max_cond: float = 1e8) -> torch.Tensor | None:
    """The generator with L's (n, n) eigenvectors whose eigenvalues are L's with every cluster of nearly
    equal ones (within ``tol`` of the largest |eigenvalue|, chained) replaced by the cluster's mean, and real
    or imaginary parts below that set to zero.  A learned rotation of four 2-vectors whose blocks turn at
    rates a percent apart, with a trace of dilation, becomes one rotation of a single rate in the learned
    (slightly sheared) planes: the generator whose exact commutant is the large space the gap-aware solve
    keeps for L, so the algebra an EMLP built from L is nearly exactly equivariant to.  None when L is zero
    or not diagonalisable to working precision (eigenvector matrix of condition number above max_cond)."""
    A = L.to(torch.float64).numpy()
    w, V = np.linalg.eig(A)
    scale = np.abs(w).max()
    if scale == 0 or np.linalg.cond(V) > max_cond:
        return None
    label = np.arange(len(w))
    for i in range(len(w)):  # single linkage: relabel the whole cluster of j into i's
        for j in range(i):
            if abs(w[i] - w[j]) <= tol * scale and label[i] != label[j]:
                label[label == label[i]] = label[j]
    merged = np.array([w[label == label[i]].mean() for i in range(len(w))])
    merged = np.where(np.abs(merged.real) <= tol * scale, 0, merged.real) + 1j * np.where(
        np.abs(merged.imag) <= tol * scale, 0, merged.imag
    )
    return torch.as_tensor((V @ np.diag(merged) @ np.linalg.inv(V)).real)
