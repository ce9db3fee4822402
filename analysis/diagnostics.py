"""Algebra diagnostics: which reference algebra a learned basis spans, whether it closes under the
bracket, its structure constants and Killing form, and a recognisable basis of the learned span.

Run as ``python -m liegan.analysis.diagnostics FILE`` (a run folder, algebra.npz, .json or .pt export).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from liegan.algebras import named_references
from liegan.scores import generator_shares, principal_cosines, span_similarity, structure_constants


@dataclass
class ReferenceMatch:
    """How a learned span compares with one reference algebra.

    similarity: mean cos^2 of the principal angles (:func:`liegan.lie.span_similarity`), 1 when the smaller
        span lies inside the larger one.
    score: sum cos^2 / max(rank of the learned span, dim of the reference); 1 only when the spans are equal.
        It ranks the references, since every span lies inside gl(n) (similarity 1) but is not gl(n).
    shares: share of each reference generator inside the learned span, (d,).
    """

    name: str
    dim: int
    similarity: float
    score: float
    shares: np.ndarray
    names: list[str]
    generators: np.ndarray = field(repr=False)


def _rank(L: np.ndarray, rel_tol: float = 1e-8) -> int:
    M = np.asarray(L, dtype=np.float64).reshape(len(L), -1)
    s = np.linalg.svd(M, compute_uv=False)
    return int((s > rel_tol * s.max()).sum()) if s.size and s.max() > 0 else 0


def compare_references(L: np.ndarray) -> list[ReferenceMatch]:
    """Every shipped reference algebra acting on R^n, best first (by score, then the smaller algebra)."""
    L = np.asarray(L, dtype=np.float64)
    r = _rank(L)
    out = []
    for name, (T, names) in named_references(L.shape[-1]).items():
        cos = principal_cosines(L, T)
        score = float((cos**2).sum() / max(r, len(T), 1))
        sim = span_similarity(L, T)
        out.append(ReferenceMatch(name, len(T), sim, score, generator_shares(L, T), names, T))
    out.sort(key=lambda m: (-round(m.score, 9), m.dim))
    return out


def best_match(L: np.ndarray) -> ReferenceMatch:
    return compare_references(L)[0]


def killing_form(L: np.ndarray, f: np.ndarray | None = None) -> np.ndarray:
    """Killing form K_ab = tr(ad_a ad_b) of the learned basis, (c, c), from its structure constants
    ((ad_a)_{kb} = f_abk).  Meaningful when the closure residual is small."""
    if f is None:
        f, _ = structure_constants(L)
    ad = np.transpose(np.asarray(f), (0, 2, 1))  # ad[a][k, b] = f[a, b, k]
    return np.einsum("aij,bji->ab", ad, ad)


def form_signature(K: np.ndarray, rel_tol: float = 1e-6) -> tuple[int, int, int]:
    """(positive, negative, zero) eigenvalue counts of a symmetric form; zero = below rel_tol of the largest
    (a zero Killing form means an abelian or nilpotent algebra)."""
    ev = np.linalg.eigvalsh((K + K.T) / 2)
    big = np.abs(ev).max() if ev.size else 0.0
    if big < 1e-12:  # an absolute floor: the Killing form of an abelian algebra is exactly 0
        return 0, 0, len(ev)
    cut = rel_tol * big
    pos, neg = int((ev > cut).sum()), int((ev < -cut).sum())
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


def canonical_basis(L: np.ndarray, match: ReferenceMatch,
                    min_share: float = 0.5) -> tuple[np.ndarray, list[str]]:
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

    @property
    def best(self) -> ReferenceMatch:
        return self.references[0]


def diagnose(L: np.ndarray) -> Diagnostics:
    """All diagnostics of a learned basis L: (c, n, n)."""
    L = np.asarray(L, dtype=np.float64)
    refs = compare_references(L)
    f, res = structure_constants(L)
    K = killing_form(L, f)
    C, names = canonical_basis(L, refs[0])
    return Diagnostics(refs, res, f, K, form_signature(K), C, names)


def summary_lines(d: Diagnostics) -> list[str]:
    b = d.best
    lines = [f"best match: {b.name} (similarity {b.similarity:.4f}, score {b.score:.4f})"]
    lines += [f"  {m.name:<22} similarity {m.similarity:.4f}  score {m.score:.4f}" for m in d.references[1:]]
    lines.append(f"closure residual: {d.closure_residual:.3g}")
    p, q, z = d.killing_signature
    lines.append(f"Killing form signature: (+{p}, -{q}, 0x{z})")
    lines.append(f"canonical basis: {', '.join(d.canonical_names) or '(none)'}")
    return lines


def main(argv: list[str] | None = None) -> int:
    from liegan.analysis._script import run_script

    return run_script(argv, "Algebra diagnostics of an exported algebra",
                      lambda alg, args: "\n".join(summary_lines(diagnose(alg.generators))))


if __name__ == "__main__":
    raise SystemExit(main())
