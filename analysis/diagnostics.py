"""Algebra diagnostics: which reference algebra a learned basis spans, whether it closes under the
bracket, its structure constants and Killing form, and a recognisable basis of the learned span.

Run as ``python -m liegan.analysis.diagnostics FILE`` (a run folder, algebra.npz, .json or .pt export).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from liegan.scores import structure_constants
from liegan.symmetry import ReferenceMatch, compare_references, noise_level

__all__ = [
    "Diagnostics",
    "ReferenceMatch",
    "best_match",
    "canonical_basis",
    "change_of_basis",
    "compare_references",
    "diagnose",
    "form_signature",
    "killing_form",
    "noise_level",
    "structure_constants_in_basis",
]


def best_match(L: np.ndarray) -> ReferenceMatch:
    return compare_references(L)[0]


def killing_form(L: np.ndarray, f: np.ndarray | None = None) -> np.ndarray:
    """Killing form K_ab = tr(ad_a ad_b) of the learned basis, (c, c), from its structure constants
    ((ad_a)_{kb} = f_abk).  Meaningful when the closure residual is small."""
    if f is None:
        f, _ = structure_constants(L)
    ad = np.transpose(np.asarray(f), (0, 2, 1))  # ad[a][k, b] = f[a, b, k]
    return np.einsum("aij,bji->ab", ad, ad)


def form_signature(K: np.ndarray, zero: float = 1e-9) -> tuple[int, int, int]:
    """(positive, negative, zero) eigenvalue counts of a symmetric form; |lambda| <= ``zero`` counts as 0.

    For the Killing form of unit-norm generators a genuine eigenvalue is O(1) (-1 for so(3), +-2 for
    so(1,3)) while noise eps in the structure constants gives O(eps) (O(eps^2) for an abelian algebra), so
    :func:`diagnose` passes zero = max(1e-9, 2 eps) with eps = :func:`noise_level`."""
    ev = np.linalg.eigvalsh((K + K.T) / 2)
    pos, neg = int((ev > zero).sum()), int((ev < -zero).sum())
    return pos, neg, len(ev) - pos - neg


def change_of_basis(L: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares A (c, d) with L_a ~ sum_j A_aj T_j, and the worst relative residual over a."""
    Lm = np.asarray(L, np.float64).reshape(len(L), -1)
    Tm = np.asarray(T, np.float64).reshape(len(T), -1)
    A = np.linalg.lstsq(Tm.T, Lm.T, rcond=None)[0].T
    res = np.linalg.norm(Lm - A @ Tm, axis=1) / np.maximum(np.linalg.norm(Lm, axis=1), 1e-300)
    return A, float(res.max())


def structure_constants_in_basis(f: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Transform structure constants f of a basis L = A T (A square, invertible) into those of T:
    f^T_ijm = sum (A^-1)_ia (A^-1)_jb f_abk A_km.  Lets a test compare a mixed basis with epsilon_ijk."""
    Ai = np.linalg.inv(A)
    return np.einsum("ia,jb,abk,km->ijm", Ai, Ai, f, A)


def canonical_basis(L: np.ndarray, match: ReferenceMatch, min_share: float = 0.5) -> tuple[np.ndarray, list[str]]:
    """A recognisable basis of span{L}: the projection of reference generators onto the learned span.

    Reference generators are taken by decreasing share (those with share >= min_share), skipping any whose
    projection is already spanned by the ones taken, until the learned span's rank is reached.  For a
    randomly mixed so(1,3) basis this returns K_x, K_y, K_z, J_x, J_y, J_z exactly.  Returns
    (generators (r, n, n), names).
    """
    L = np.asarray(L, dtype=np.float64)
    n = L.shape[-1]
    Lm = L.reshape(len(L), -1)
    U, s, Vh = np.linalg.svd(Lm, full_matrices=False)
    Q = Vh[s > 1e-8 * s.max()] if s.size and s.max() > 0 else Vh[:0]
    r = len(Q)
    taken, idx = [], []
    for j in np.argsort(-np.round(match.shares, 6), kind="stable"):
        if len(taken) == r or match.shares[j] < min_share:
            break
        t = match.generators[j].reshape(-1)
        p = Q.T @ (Q @ t)
        if taken:
            P = np.stack(taken)
            resid = p - P.T @ np.linalg.lstsq(P.T, p, rcond=None)[0]
            if np.linalg.norm(resid) < 0.3 * np.linalg.norm(p):
                continue
        taken.append(p)
        idx.append(int(j))
    if not taken:
        return np.zeros((0, n, n)), []
    order = np.argsort(idx)  # in the reference's own order (K_x, K_y, K_z, J_x, ...)
    return np.stack(taken)[order].reshape(-1, n, n), [match.names[idx[i]] for i in order]


@dataclass
class Diagnostics:
    references: list[ReferenceMatch]
    closure_residual: float
    structure_constants: np.ndarray  # (c, c, c)
    killing: np.ndarray  # (c, c)
    killing_signature: tuple[int, int, int]
    canonical: np.ndarray  # (r, n, n)
    canonical_names: list[str]
    noise: float = 0.0  # noise_level: the zero threshold of ranks and signatures

    @property
    def best(self) -> ReferenceMatch:
        return self.references[0]


def diagnose(L: np.ndarray, mask: np.ndarray | None = None) -> Diagnostics:
    """All diagnostics of a learned basis L: (c, n, n) (mask: its search space, for the chance levels).

    Zero thresholds follow the algebra's own noise (:func:`noise_level`): the rank of the learned span and
    the Killing signature (computed on unit-norm channels: the signature does not depend on their scale)."""
    L = np.asarray(L, dtype=np.float64)
    eps = noise_level(L)
    refs = compare_references(L, noise=eps, mask=mask)
    f, res = structure_constants(L)
    K = killing_form(L, f)
    nrm = np.linalg.norm(L, axis=(1, 2), keepdims=True)
    Ku = killing_form(L[nrm[:, 0, 0] > 0] / nrm[nrm[:, 0, 0] > 0])
    C, names = canonical_basis(L, refs[0])
    return Diagnostics(refs, res, f, K, form_signature(Ku, max(1e-9, 2 * eps)), C, names, eps)


def summary_lines(d: Diagnostics) -> list[str]:
    b = d.best
    lines = [f"best match: {b.name} (similarity {b.similarity:.4f}, chance {b.chance:.2g}, score {b.score:.4f})"]
    lines += [f"  {m.name:<22} similarity {m.similarity:.4f}  score {m.score:.4f}" for m in d.references[1:]]
    lines.append(f"closure residual: {d.closure_residual:.3g}")
    p, q, z = d.killing_signature
    lines.append(f"Killing form signature: (+{p}, -{q}, 0x{z})")
    lines.append(f"canonical basis: {', '.join(d.canonical_names) or '(none)'}")
    return lines


def main(argv: list[str] | None = None) -> int:
    from liegan.analysis._script import run_script

    return run_script(
        argv,
        "Algebra diagnostics of an exported algebra",
        lambda alg, args: "\n".join(summary_lines(diagnose(alg.generators))),
    )


if __name__ == "__main__":
    raise SystemExit(main())
