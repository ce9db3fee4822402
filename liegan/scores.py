"""Scores of a learned basis: cosines, span similarity, generator shares, structure constants.

They take numpy arrays or torch tensors (any dtype, any device) and compute in float64 numpy, so that
scoring an algebra file (``liegan analyze``, ``liegan export``, user scripts) never imports torch.
:mod:`liegan.lie` re-exports them beside the group-action maths.
"""

from __future__ import annotations

import numpy as np


def _a(a) -> np.ndarray:
    """A float64 numpy copy of ``a`` (scores are never on the autograd path)."""
    if hasattr(a, "detach") and hasattr(a, "cpu"):  # a torch tensor, recognised without importing torch
        a = a.detach().cpu().double().numpy()
    return np.array(a, dtype=np.float64)


def bracket(A, B):
    """Commutator [A, B] = AB - BA, broadcast over leading dimensions (numpy arrays or torch tensors)."""
    return A @ B - B @ A


def frobenius_cosine(A, B) -> float:
    """<A, B>_F / (||A|| ||B||) for two matrices (or two stacks flattened as one vector)."""
    a, b = _a(A).reshape(-1), _a(B).reshape(-1)
    den = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / den) if den > 0 else 0.0


def data_cosine(L, L_true, x) -> float:
    """Mean over data points of |cos(L x, L_true x)|.  L, L_true: (n, n); x: (N, n) or (N, k, n).

    The right score for a single generator when the data lie on a subspace, where entries of L that
    never touch the data are unconstrained and distort the Frobenius cosine.
    """
    A, B = _a(L), _a(L_true)
    X = _a(x).reshape(-1, A.shape[-1])
    u, v = X @ A.T, X @ B.T
    den = np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1)
    ok = den > 1e-12
    if not ok.any():
        return 0.0
    return float(np.abs((u * v).sum(-1)[ok] / den[ok]).mean())


SPARSE_ROWS = 64  # from this many generators on, look for mutually orthogonal groups first


def _orthogonal_groups(M: np.ndarray) -> list[np.ndarray]:
    """Row indices of M grouped so that rows of different groups are orthogonal: the connected components
    of the Gram matrix's non-zero pattern, from a sparse product.  Reference algebras (gl(n), sl(n), so(p,q)
    with up to n^2 generators) are sparse and mostly orthogonal already, so their spans then cost a few small
    decompositions instead of one dense SVD of (d, n^2), O(d^2 n^2)."""
    import scipy.sparse
    import scipy.sparse.csgraph

    S = scipy.sparse.csr_matrix(M)
    _, label = scipy.sparse.csgraph.connected_components(abs(S) @ abs(S).T, directed=False)
    order = np.argsort(label, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(label[order])) + 1)


def orthonormal_span(L, rel_tol: float = 1e-8) -> np.ndarray:
    """Orthonormal basis (r, n*n) of span{L_i}, dropping directions below rel_tol of the largest.

    Many generators are split into mutually orthogonal groups first (:func:`_orthogonal_groups`); the span is
    the union of the groups' spans and its singular values the union of theirs, so the result is the same
    span with the same cut."""
    A = _a(L)
    M = A.reshape(A.shape[0], -1)
    if M.size == 0:
        return M
    groups = _orthogonal_groups(M) if len(M) >= SPARSE_ROWS else [np.arange(len(M))]
    parts = []
    for g in groups:
        if len(g) == 1:  # one row: its own direction
            nrm = float(np.linalg.norm(M[g[0]]))
            parts.append((np.array([nrm]), M[g] / (nrm if nrm > 0 else 1.0)))
        else:
            parts.append(np.linalg.svd(M[g], full_matrices=False)[1:])
    top = max(float(S.max()) for S, _ in parts)
    return np.concatenate([Vh[S > rel_tol * max(top, 1e-300)] for S, Vh in parts])


def principal_cosines(L, T) -> np.ndarray:
    """Cosines of the principal angles between span{L_i} and span{T_j}, descending."""
    A, B = orthonormal_span(L), orthonormal_span(T)
    if A.shape[0] == 0 or B.shape[0] == 0:
        return np.zeros(0)
    return np.clip(np.linalg.svd(A @ B.T, compute_uv=False), 0.0, 1.0)


def span_similarity(L, T) -> float:
    """Basis-free similarity of two spans: mean cos^2 of their principal angles (1 = same span).

    With c learned channels and a reference of dimension d, min(c, d) angles enter; a learned span that
    contains the whole reference therefore scores 1 even when c > d (a redundant extra channel).
    """
    cos = principal_cosines(L, T)
    return float((cos**2).mean()) if cos.size else 0.0


def generator_shares(L, T) -> np.ndarray:
    """Share of each reference generator T_j inside span{L}: ||P_L t_j||^2 / ||t_j||^2, shape (d,)."""
    A = orthonormal_span(L)
    Tm = _a(T)
    Tm = Tm.reshape(Tm.shape[0], -1)
    proj = Tm @ A.T
    return (proj**2).sum(-1) / np.maximum((Tm**2).sum(-1), 1e-300)


def structure_constants(L) -> tuple[np.ndarray, float]:
    """Least-squares structure constants f (c, c, c) with [L_a, L_b] ~ sum_k f_abk L_k, and the closure
    residual: max over pairs of ||[L_a, L_b] - sum_k f_abk L_k|| / (||L_a|| ||L_b||).

    A residual near zero means span{L} is closed under the bracket, i.e. a Lie algebra.
    """
    A = _a(L)
    c = A.shape[0]
    basis = A.reshape(c, -1).T  # (n*n, c)
    f = np.zeros((c, c, c))
    worst = 0.0
    norms = np.linalg.norm(A.reshape(c, -1), axis=-1)
    for a in range(c):
        for b in range(a + 1, c):
            br = bracket(A[a], A[b]).reshape(-1)
            coef = np.linalg.lstsq(basis, br, rcond=None)[0]
            f[a, b], f[b, a] = coef, -coef
            den = float(norms[a] * norms[b])
            if den > 0:
                worst = max(worst, float(np.linalg.norm(br - basis @ coef)) / den)
    return f, worst


def closure_error(L) -> float:
    """The closure residual of :func:`structure_constants` (0 for a Lie algebra)."""
    return structure_constants(L)[1]
