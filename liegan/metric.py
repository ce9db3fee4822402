"""Invariant metric of a set of generators: symmetric J with L_i^T J + J L_i = 0 for every i.

The constraint is linear in J.  Over an orthonormal basis of symmetric matrices we stack the maps
J -> L_i^T J + J L_i for all i and take the right singular vectors with the smallest singular values.
Nothing is thresholded silently: the result carries the whole spectrum, how many directions fall below the
tolerance, and the gap between the best candidate and the next one (how well determined J is).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from liegan.scores import frobenius_cosine


def symmetric_basis(n: int) -> np.ndarray:
    """Orthonormal (Frobenius) basis of symmetric n x n matrices, shape (n(n+1)/2, n, n)."""
    out = []
    for i in range(n):
        for j in range(i, n):
            E = np.zeros((n, n))
            if i == j:
                E[i, i] = 1.0
            else:
                E[i, j] = E[j, i] = 1.0 / np.sqrt(2.0)
            out.append(E)
    return np.stack(out)


def metric_residual(L: np.ndarray, J: np.ndarray) -> np.ndarray:
    """Per-generator residual ||L_i^T J + J L_i||_F / (||L_i||_F ||J||_F), shape (c,)."""
    L = np.asarray(L, dtype=np.float64)
    J = np.asarray(J, dtype=np.float64)
    R = np.transpose(L, (0, 2, 1)) @ J + J @ L
    den = np.linalg.norm(L, axis=(1, 2)) * np.linalg.norm(J)
    return np.linalg.norm(R, axis=(1, 2)) / np.where(den > 0, den, 1.0)


def signature(J: np.ndarray, rel_tol: float = 1e-6) -> tuple[int, int]:
    """(number of positive, number of negative) eigenvalues of symmetric J, ignoring |lambda| below
    rel_tol of the largest."""
    ev = np.linalg.eigvalsh((J + J.T) / 2)
    cut = rel_tol * np.abs(ev).max() if ev.size else 0.0
    return int((ev > cut).sum()), int((ev < -cut).sum())


def canonical(J: np.ndarray) -> np.ndarray:
    """Scale J to ||J||_F = sqrt(n) (so Minkowski and the identity have unit entries) and fix its sign so
    that the first diagonal entry that is not negligible is positive (Minkowski -> diag(1, -1, -1, -1))."""
    n = J.shape[0]
    nrm = np.linalg.norm(J)
    if nrm == 0:
        return J.copy()
    J = J * (np.sqrt(n) / nrm)
    d = np.diag(J)
    big = np.flatnonzero(np.abs(d) > 1e-6 * np.abs(d).max()) if np.abs(d).max() > 0 else []
    if len(big) and d[big[0]] < 0:
        J = -J
    return J + 0.0  # no negative zeros in reports


def cosine(A: np.ndarray, B: np.ndarray) -> float:
    """|<A, B>_F| / (||A|| ||B||): the sign of a metric is a convention, so it does not count."""
    return abs(frobenius_cosine(A, B))


def _readable_basis(V: np.ndarray, B: np.ndarray) -> np.ndarray:
    """A basis of the null space spanned by the rows of V (coordinates over the symmetric basis B) in
    reduced form: pivoted QR picks k coordinates and each basis element is 1 on its own pivot and 0 on the
    others.  The SVD's basis of a degenerate null space is an arbitrary rotation; this one is reproducible
    and readable (so(3) on the last three axes of R^4 gives diag(1,0,0,0) and diag(0,1,1,1))."""
    if V.shape[0] == 1:
        return np.einsum("km,mij->kij", V, B)
    import scipy.linalg

    _, _, piv = scipy.linalg.qr(V, pivoting=True)
    piv = np.sort(piv[: V.shape[0]])
    R = np.linalg.solve(V[:, piv], V)
    return np.einsum("km,mij->kij", R, B)


@dataclass
class MetricResult:
    """Outcome of :func:`invariant_metric`.

    metric: the best candidate J (canonical form), or None when no direction is below the tolerance.
        With a null space of dimension k > 1 it is one member of a family (see ``message``).
    null_space: a basis of every direction below the tolerance, (k, n, n) (k = 0: no invariant metric),
        each element in canonical form, in the reproducible reduced form of ``_readable_basis``.
    singular_values: the whole spectrum, ascending, relative to the generators' scale.
    gap: s_k / s_{k-1}, the first singular value above the null space over the largest inside it
         (inf for an exact null space; large = well determined).  With k = 0 it is s_1 / s_0.
    residuals: per-generator residual of ``metric``.
    """

    metric: np.ndarray | None
    null_space: np.ndarray
    singular_values: np.ndarray
    gap: float
    tolerance: float
    residuals: np.ndarray
    signature: tuple[int, int] | None
    message: str
    candidates: np.ndarray = field(repr=False, default=None)

    @property
    def null_dim(self) -> int:
        return int(self.null_space.shape[0])


def invariant_metric(L, tol: float = 0.05, conformal: bool = False) -> MetricResult:
    """Solve L_i^T J + J L_i = 0 for symmetric J.

    L: (c, n, n).  Each generator is scaled to unit Frobenius norm first, so a channel's weight in the
    solve does not depend on how large the trainer happened to make it, and singular values are relative.
    ``tol``: a direction counts as invariant when its singular value is below ``tol`` times the largest
    singular value (the default 0.05 accepts generators with percent-level noise and rejects a dilation,
    whose smallest singular value is of the order of the largest).

    ``conformal``: solve for J invariant up to scale, L_i^T J + J L_i = 2 k_i J, by removing each unit-norm
    generator's trace part, L_i - tr(L_i)/n I, before stacking (for a traceless solution the multiples k_i
    are exactly these trace parts).  A dilation then drops out instead of ruling out every metric, and a
    generator that is mostly dilation weighs in only with its traceless remainder (it is not renormalised).
    For traceless generators (e.g. a noisy so(1,3)) both solves are identical.  Residuals are then of the
    traceless parts, relative to each generator's whole norm.
    """
    L = np.asarray(L, dtype=np.float64)
    if L.ndim == 2:
        L = L[None]
    norms = np.linalg.norm(L, axis=(1, 2))
    L = L[norms > 0] / norms[norms > 0, None, None]
    n = L.shape[-1]
    if conformal and L.shape[0]:
        L = L - (np.trace(L, axis1=1, axis2=2) / n)[:, None, None] * np.eye(n)
        if np.linalg.norm(L, axis=(1, 2)).max() <= 1e-12:  # a pure dilation keeps a zero row: no constraint
            raise ValueError("every generator is a pure dilation: a conformal metric is undefined")
    B = symmetric_basis(n)
    if L.shape[0] == 0:
        raise ValueError("every generator is zero: an invariant metric is undefined")
    # column k: all constraints applied to basis element k
    C = np.stack([(np.transpose(L, (0, 2, 1)) @ E + E @ L).reshape(-1) for E in B], axis=1)
    _, S, Vh = np.linalg.svd(C, full_matrices=True)
    S = np.concatenate([S, np.zeros(len(B) - len(S))]) if len(S) < len(B) else S
    order = np.argsort(S)
    S, Vh = S[order], Vh[order]
    cands = np.einsum("km,mij->kij", Vh, B)
    smax = S.max() if S.max() > 0 else 1.0
    k = int((S <= tol * smax).sum())
    if k == 0:
        gap = float(S[1] / S[0]) if S[0] > 0 else np.inf
    elif k == len(S):
        gap = 1.0
    else:
        gap = float(S[k] / S[k - 1]) if S[k - 1] > 0 else np.inf
    null = np.stack([canonical(J) for J in _readable_basis(Vh[:k], B)]) if k else np.zeros((0, n, n))
    traces = np.abs(np.trace(L, axis1=1, axis2=2)) / np.sqrt(n)
    if k == 0:
        why = " (a generator has non-zero trace, e.g. a dilation)" if traces.max() > tol and not conformal else ""
        msg = f"no invariant metric{why}: smallest singular value {S[0] / smax:.3g} > tol {tol}"
        return MetricResult(None, null, S / smax, gap, tol, np.zeros(0), None, msg, cands)
    J = canonical(cands[0])
    msg = f"{k}-dimensional null space; gap {gap:.3g}" + ("" if k == 1 else " (metric not unique: a family)")
    if conformal:
        msg = "conformal solve (trace parts removed): " + msg
        R = np.transpose(L, (0, 2, 1)) @ J + J @ L  # L: traceless parts of unit-norm generators
        residuals = np.linalg.norm(R, axis=(1, 2)) / np.linalg.norm(J)
    else:
        residuals = metric_residual(L, J)
    return MetricResult(J, null, S / smax, gap, tol, residuals, signature(J), msg, cands)


def solve_metric(L, tol: float = 0.05) -> tuple[MetricResult, str]:
    """The strict solve, or, when it finds nothing but the conformal solve does, the conformal one.

    Returns (result, 'strict' | 'conformal').  A learned algebra such as so(1,3) plus a dilation channel
    (what LieGAN finds on massless jet constituents) preserves Minkowski's metric only up to scale; the
    fallback reports that metric and says so in its message instead of reporting no metric at all.
    """
    strict = invariant_metric(L, tol)
    if strict.metric is not None:
        return strict, "strict"
    try:
        conf = invariant_metric(L, tol, conformal=True)
    except ValueError:  # every generator a pure dilation
        return strict, "strict"
    if conf.metric is None:
        return strict, "strict"
    conf.message = f"no strictly invariant metric ({strict.message}); up to scale: {conf.message}"
    return conf, "conformal"
