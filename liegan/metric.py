"""Invariant metric of a set of generators: symmetric J with L_i^T J + J L_i = 0 for every i.

The constraint is linear in J.  Over an orthonormal basis of symmetric matrices we stack the maps
J -> L_i^T J + J L_i for all i and take the right singular vectors with the smallest singular values.

One acceptance rule, used by training logs, algebra.json, analysis.json, reports and benchmarks: k
directions are accepted as invariant when they are

- well determined: the k-th smallest singular value (relative to the largest) is at most ``tol`` and the
  next one is at least ``min_gap`` times larger, and
- beyond chance: random generators of the same number, size and search-space mask rarely give a spectrum as
  extreme.  A nearly invariant form exists for many random single generators (a real matrix's eigenvalues
  nearly cancel in pairs, lambda_i + lambda_j ~ 0), so a small singular value alone proves nothing.  For each
  candidate k the observed k-th singular value is ranked among those of random generators (p_k); the
  statistic min_k p_k over the well-determined k is then itself ranked among the same random draws, which
  accounts for the search over k.  That second rank is ``chance``: the probability that random generators
  would look at least as invariant.  Accepted when chance <= ``alpha``.

The random spectra are computed once per (channels, n, mask, solve) and kept in memory and on disk under
the user's cache folder (:func:`calibration`; 4,000 draws for n <= 8, about 0.1-2 s to compute), and only
when a candidate is well determined: without one the chance is 1 whatever the draws say.  A trainer starts
them in the background (:func:`warm_calibrations`) so that the first well-determined candidate does not wait.

Strict versus conformal (:func:`solve_metric`): the strict solve first; when it accepts nothing, the
conformal solve (J invariant up to scale: every generator's trace part removed), under the same rule.  The
result names which one it is.  A conformal metric is not preserved by the generators with a trace part (a
dilation scales every J-length), so a report must say so.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ALPHA = 0.002  # accepted when random generators look at least as invariant this rarely
TOL = 0.1  # largest relative singular value of an accepted direction (its residual scale)
MIN_GAP = 3.0  # the next singular value at least this much larger: the null space is well separated
CALIBRATION_DRAWS = 4000
CALIBRATION_SEED = 20261201
# Part of the on-disk cache key: bump it whenever the calibration's computation changes, so that no file
# written by an older rule is ever read as this one's.
CALIBRATION_VERSION = 1


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
    a, b = np.asarray(A, np.float64).ravel(), np.asarray(B, np.float64).ravel()
    den = np.linalg.norm(a) * np.linalg.norm(b)
    return float(abs(a @ b) / den) if den > 0 else 0.0


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


# ------------------------------------------------------------------------------------------- the spectrum


def _prepare(L: np.ndarray, conformal: bool) -> np.ndarray:
    """Unit-norm generators (..., c, n, n); with ``conformal`` their trace parts removed afterwards (not
    renormalised: a channel that is mostly dilation weighs in only with its traceless remainder)."""
    n = L.shape[-1]
    nrm = np.linalg.norm(L, axis=(-2, -1), keepdims=True)
    L = L / np.where(nrm > 0, nrm, 1.0)
    if conformal:
        L = L - (np.trace(L, axis1=-2, axis2=-1) / n)[..., None, None] * np.eye(n)
    return L


def _relative_spectra(L: np.ndarray) -> np.ndarray:
    """Ascending singular values / the largest of the stacked constraint map, for prepared generators
    L: (R, c, n, n) -> (R, m).  From the Gram matrix's eigenvalues: fast in batches and exact enough for
    calibration (relative values below ~1e-7 read as ~1e-7)."""
    R, c, n = L.shape[0], L.shape[1], L.shape[-1]
    pairs = [(i, j) for i in range(n) for j in range(i, n)]  # the order of symmetric_basis
    C = np.zeros((R, c, len(pairs), n, n))
    # L^T E + E L for E = w (e_i e_j^T + e_j e_i^T): column j of L^T E is row i of L, row i of E L is row j
    # of L (and symmetrically); written by indexing, it is far cheaper than a batched product of tiny matrices
    for m, (i, j) in enumerate(pairs):
        if i == j:
            C[:, :, m, :, i] += L[:, :, i, :]
            C[:, :, m, i, :] += L[:, :, i, :]
            continue
        w = 1.0 / np.sqrt(2.0)
        C[:, :, m, :, j] += w * L[:, :, i, :]
        C[:, :, m, :, i] += w * L[:, :, j, :]
        C[:, :, m, i, :] += w * L[:, :, j, :]
        C[:, :, m, j, :] += w * L[:, :, i, :]
    Cm = np.moveaxis(C, 2, 1).reshape(R, len(pairs), c * n * n)
    G = Cm @ np.swapaxes(Cm, -1, -2)
    ev = np.sqrt(np.clip(np.linalg.eigvalsh(G), 0.0, None))
    top = ev[:, -1:]
    return ev / np.where(top > 0, top, 1.0)


ZERO = 1e-12  # relative singular values below this are exact zeros (rounding), for gaps


def _gaps(S: np.ndarray) -> np.ndarray:
    """s_k / s_{k-1} for k = 1..m-1, with rounding-level values counted as ZERO (so two exact zeros have
    gap 1, not inf)."""
    return np.maximum(S[..., 1:], ZERO) / np.maximum(S[..., :-1], ZERO)


def _eligible(S: np.ndarray, tol: float, min_gap: float) -> np.ndarray:
    """(..., m-1) bool: k = 1..m-1 directions are well determined (s_{k-1} <= tol, s_k >= min_gap s_{k-1})."""
    return (S[..., :-1] <= tol) & (_gaps(S) >= min_gap)


def _pvalues(S: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """p_k: the share of random draws whose k-th singular value is at most the observed one, with the
    observation counted among them.  S: (..., m), cols: (m, R) sorted -> (..., m)."""
    R = cols.shape[1]
    cnt = np.stack([np.searchsorted(cols[j], S[..., j], side="right") for j in range(cols.shape[0])], -1)
    return (1.0 + cnt) / (R + 1.0)


def _statistic(S: np.ndarray, cols: np.ndarray, tol: float, min_gap: float) -> tuple[np.ndarray, np.ndarray]:
    """min over well-determined k of p_k (1 when there is none), and the k attaining it (0 when none;
    ties go to the larger gap)."""
    p = _pvalues(S, cols)[..., :-1]
    ok = _eligible(S, tol, min_gap)
    p = np.where(ok, p, np.inf)
    best = p.min(axis=-1)
    gap = np.where(ok, _gaps(S), -1.0)
    key = np.where(p == best[..., None], gap, -2.0)
    k = np.argmax(key, axis=-1) + 1
    none = ~np.isfinite(best)
    return np.where(none, 1.0, best), np.where(none, 0, k)


@dataclass(frozen=True)
class Calibration:
    """Spectra of random generators of one shape: sorted columns (m, R) and the sorted statistic (R,)."""

    columns: np.ndarray
    statistic: np.ndarray

    def chance(self, t: float) -> float:
        R = len(self.statistic)
        return float((1 + np.searchsorted(self.statistic, t, side="right")) / (R + 1))


def _compute_calibration(c: int, n: int, mask_bytes: bytes, conformal: bool, tol: float, min_gap: float) -> Calibration:
    mask = np.frombuffer(mask_bytes, dtype=bool).reshape(c, n, n)
    m = n * (n + 1) // 2
    R = CALIBRATION_DRAWS if m <= 36 else max(500, int(CALIBRATION_DRAWS * (36 / m) ** 2))
    rng = np.random.default_rng([CALIBRATION_SEED, c, n, int(conformal)])
    chunk = max(1, int(4e6 // (c * m * n * n)))
    spectra = []
    for start in range(0, R, chunk):
        L = rng.standard_normal((min(chunk, R - start), c, n, n)) * mask
        spectra.append(_relative_spectra(_prepare(L, conformal)))
    S = np.concatenate(spectra)
    cols = np.sort(S.T, axis=1)
    # each draw ranked against the others (leave-one-out: exchangeable with a new random draw)
    stat, _ = _statistic(S, cols, tol, min_gap)
    stat = stat * (R + 1.0) / R - 1.0 / R  # remove the draw's own count from its p-values' numerators
    return Calibration(cols, np.sort(np.minimum(stat, 1.0)))


def cache_dir() -> Path:
    """Where calibrations are kept between processes: $LIEGAN_CACHE, else $XDG_CACHE_HOME/liegan, else
    ~/.cache/liegan; in its folder calibration/."""
    if os.environ.get("LIEGAN_CACHE"):
        return Path(os.environ["LIEGAN_CACHE"]).expanduser() / "calibration"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "liegan" / "calibration"


def _cache_file(key: tuple) -> tuple[Path, str]:
    """The file of one calibration and the text it must carry.  The key holds everything the draws depend
    on, numpy's version included (its generator streams may change between releases)."""
    text = repr((CALIBRATION_VERSION, CALIBRATION_DRAWS, CALIBRATION_SEED, np.__version__, *key))
    return cache_dir() / f"{hashlib.sha256(text.encode()).hexdigest()[:32]}.npz", text


def _read_cached(path: Path, text: str) -> Calibration | None:
    try:
        with np.load(path, allow_pickle=False) as f:
            if str(f["key"]) != text:
                return None
            cols, stat = f["columns"], f["statistic"]
    except (OSError, ValueError, KeyError, EOFError):  # missing, damaged or foreign: computed again
        return None
    if cols.ndim != 2 or stat.shape != (cols.shape[1],) or not (np.isfinite(cols).all() and np.isfinite(stat).all()):
        return None
    return Calibration(cols, stat)


def _write_cached(path: Path, text: str, cal: Calibration) -> None:
    """Written to a temporary file and renamed, so a reader never sees half a file; a read-only or full disk
    only costs the next process the computation."""
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp.npz")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(tmp, key=np.array(text), columns=cal.columns, statistic=cal.statistic)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)


_calibrations: dict[tuple, Calibration] = {}
_key_locks: dict[tuple, threading.Lock] = {}
_locks_guard = threading.Lock()


def _calibration(c: int, n: int, mask_bytes: bytes, conformal: bool, tol: float, min_gap: float) -> Calibration:
    """Memory, else the disk cache, else computed (and cached); one computation per key even when a
    background warm-up and a score ask for it at once (the second waits for the first)."""
    key = (c, n, mask_bytes, conformal, tol, min_gap)
    with _locks_guard:
        lock = _key_locks.setdefault(key, threading.Lock())
    with lock:
        if key not in _calibrations:
            path, text = _cache_file(key)
            cal = _read_cached(path, text)
            if cal is None:
                cal = _compute_calibration(*key)
                _write_cached(path, text, cal)
            _calibrations[key] = cal
        return _calibrations[key]


def _mask_bytes(c: int, n: int, mask) -> bytes:
    M = np.ones((c, n, n), bool) if mask is None else np.broadcast_to(np.asarray(mask) != 0, (c, n, n))
    return np.ascontiguousarray(M).tobytes()


def calibration(
    c: int, n: int, mask: np.ndarray | None = None, conformal: bool = False, tol: float = TOL, min_gap: float = MIN_GAP
) -> Calibration:
    """The random-generator spectra for c generators on R^n with search-space mask (c, n, n) (None: every
    entry free): seeded, so reproducible; computed once and then kept (see the module docstring)."""
    return _calibration(c, n, _mask_bytes(c, n, mask), bool(conformal), float(tol), float(min_gap))


def warm_calibrations(c: int, n: int, mask: np.ndarray | None = None) -> threading.Thread:
    """Start computing (or reading) the strict and conformal calibrations of this shape in a daemon thread,
    for a process that will score generators of it: numpy's batched eigensolver releases the GIL, so the
    work overlaps with training instead of stalling the first score that needs it.  The results are the
    same ones :func:`calibration` would compute."""

    def work() -> None:
        for conformal in (False, True):
            calibration(c, n, mask, conformal)

    thread = threading.Thread(target=work, name="liegan-calibration", daemon=True)
    thread.start()
    return thread


def metric_accepted(
    L: np.ndarray, mask=None, conformal: bool = False, tol: float = TOL, alpha: float = ALPHA, min_gap: float = MIN_GAP
) -> np.ndarray:
    """The acceptance of :func:`invariant_metric` for a batch of generator sets L: (R, c, n, n) at once
    (the same rule and calibration; spectra from the Gram matrix), (R,) bool.  For simulation studies."""
    L = np.asarray(L, dtype=np.float64)
    c, n = L.shape[1], L.shape[-1]
    cal = calibration(c, n, mask, conformal, tol, min_gap)
    stat, k = _statistic(_relative_spectra(_prepare(L, conformal)), cal.columns, tol, min_gap)
    chance = (1 + np.searchsorted(cal.statistic, stat, side="right")) / (len(cal.statistic) + 1)
    return (k > 0) & (chance <= alpha)


# ----------------------------------------------------------------------------------------------- results


@dataclass
class MetricResult:
    """Outcome of :func:`invariant_metric` / :func:`solve_metric`.

    accepted: the rule of the module docstring accepted ``null_dim`` >= 1 directions.
    metric: the accepted J (canonical form) when exactly one direction is accepted, else None (a family
        is not one metric; see ``null_space`` and ``family``).
    null_space: a basis of the accepted directions, (k, n, n) (k = 0 when nothing is accepted), each in
        canonical form, in the reproducible reduced form of ``_readable_basis``.
    singular_values: the whole spectrum, ascending, relative to the largest.
    candidate_dim: the most significant well-determined k (0 when none), accepted or not.
    gap: s_k / s_{k-1} at candidate_dim (at k = 1 when there is none).
    noise: s_{k-1} at candidate_dim: the residual scale of the accepted forms.
    chance: probability that random generators of this number, size and mask look at least as invariant.
    solve: 'strict' or 'conformal' (invariant up to scale, trace parts removed).
    residuals: per-generator residual of ``metric``.
    best: the best single candidate (canonical), accepted or not, for diagnostics only: never report it
        as the metric when ``accepted`` is False.
    """

    accepted: bool
    metric: np.ndarray | None
    null_space: np.ndarray
    singular_values: np.ndarray
    candidate_dim: int
    gap: float
    noise: float
    chance: float
    tolerance: float
    alpha: float
    solve: str
    residuals: np.ndarray
    signature: tuple[int, int] | None
    message: str
    best: np.ndarray = field(repr=False, default=None)

    @property
    def null_dim(self) -> int:
        return int(self.null_space.shape[0])

    @property
    def is_family(self) -> bool:
        return self.null_dim > 1


def _constraint_spectrum(L: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact SVD of the stacked constraint map: ascending relative singular values, right singular vectors
    in that order (rows), and the symmetric basis."""
    n = L.shape[-1]
    B = symmetric_basis(n)
    C = np.stack([(np.transpose(L, (0, 2, 1)) @ E + E @ L).reshape(-1) for E in B], axis=1)
    _, S, Vh = np.linalg.svd(C, full_matrices=True)
    S = np.concatenate([S, np.zeros(len(B) - len(S))]) if len(S) < len(B) else S
    order = np.argsort(S, kind="stable")
    S, Vh = S[order], Vh[order]
    smax = S.max() if S.max() > 0 else 1.0
    return S / smax, Vh, B


def invariant_metric(
    L, tol: float = TOL, conformal: bool = False, mask=None, alpha: float = ALPHA, min_gap: float = MIN_GAP
) -> MetricResult:
    """Solve L_i^T J + J L_i = 0 for symmetric J and judge the answer by the module's rule.

    L: (c, n, n); mask: the search-space mask (c, n, n) or (n, n) the generators were learned in (None:
    every entry free), which fixes the random generators the spectrum is compared with.  Each generator is
    scaled to unit Frobenius norm first, so singular values are relative and a channel's weight does not
    depend on how large the trainer made it.  Zero channels are dropped.

    ``conformal``: J invariant up to scale, L_i^T J + J L_i = 2 k_i J, solved by removing each unit-norm
    generator's trace part before stacking.  A pure dilation then drops out instead of ruling out every
    metric.  For traceless generators both solves are identical.
    """
    L = np.asarray(L, dtype=np.float64)
    if L.ndim == 2:
        L = L[None]
    n = L.shape[-1]
    keep = np.linalg.norm(L, axis=(1, 2)) > 0
    if not keep.any():
        raise ValueError("every generator is zero: an invariant metric is undefined")
    M = np.ones_like(L, dtype=bool) if mask is None else np.broadcast_to(np.asarray(mask) != 0, L.shape)
    L, M = _prepare(L[keep], conformal), M[keep]
    if conformal and np.linalg.norm(L, axis=(1, 2)).max() <= 1e-12:
        raise ValueError("every generator is a pure dilation: a conformal metric is undefined")
    S, Vh, B = _constraint_spectrum(L)
    k, chance = 0, 1.0  # what _statistic gives when no candidate is well determined
    if _eligible(S, tol, min_gap).any():  # only then do the random spectra matter
        cal = calibration(len(L), n, M, conformal, tol, min_gap)
        stat, k = _statistic(S, cal.columns, tol, min_gap)
        k = int(k)
        chance = cal.chance(float(stat)) if k else 1.0
    accepted = bool(k) and chance <= alpha
    gap = _gap(S, k or 1)
    noise = float(S[k - 1]) if k else float(S[0])
    best = canonical(np.einsum("m,mij->ij", Vh[0], B))
    solve = "conformal" if conformal else "strict"
    if not accepted:
        null = np.zeros((0, n, n))
        msg = _rejection(S, k, gap, chance, alpha, tol, L, conformal)
        return MetricResult(
            False, None, null, S, k, gap, noise, chance, tol, alpha, solve, np.zeros(0), None, msg, best
        )
    null = np.stack([canonical(J) for J in _readable_basis(Vh[:k], B)])
    J = canonical(np.einsum("m,mij->ij", Vh[0], B)) if k == 1 else None
    what = "one metric" if k == 1 else f"a {k}-dimensional family of invariant forms (no unique metric)"
    msg = f"{what}: residual {noise:.3g}, gap {gap:.3g}, chance {chance:.2g} (random generators of this shape)"
    if conformal:
        msg = "up to scale (conformal solve, trace parts removed): " + msg
    residuals, sig = np.zeros(0), None
    if J is not None:
        residuals = np.linalg.norm(np.transpose(L, (0, 2, 1)) @ J + J @ L, axis=(1, 2)) / np.linalg.norm(J)
        sig = signature(J, rel_tol=max(1e-6, 3 * noise))
    return MetricResult(True, J, null, S, k, gap, noise, chance, tol, alpha, solve, residuals, sig, msg, best)


def _gap(S: np.ndarray, k: int) -> float:
    return float(_gaps(S)[k - 1]) if k < len(S) else 1.0


def _rejection(S, k, gap, chance, alpha, tol, L, conformal) -> str:
    n = L.shape[-1]
    if k == 0:
        traces = np.abs(np.trace(L, axis1=1, axis2=2)) / np.sqrt(n)
        why = " (a generator has non-zero trace, e.g. a dilation)" if traces.max() > tol and not conformal else ""
        return (
            f"no invariant metric{why}: no well-determined null space (smallest singular value "
            f"{S[0]:.3g}, tol {tol}, next {S[1]:.3g})"
        )
    return (
        f"no invariant metric beyond chance: the best candidate ({k} direction(s), residual {S[k - 1]:.3g}, "
        f"gap {gap:.3g}) is matched by random generators of this shape with probability {chance:.2g} "
        f"> {alpha}"
    )


def solve_metric(L, mask=None, tol: float = TOL, alpha: float = ALPHA) -> MetricResult:
    """The one metric policy: the strict solve when it accepts a metric or family, else the conformal solve
    when that one does (``solve`` 'conformal', the message says the generators with a trace part do not
    preserve it), else the strict solve's rejection."""
    strict = invariant_metric(L, tol, mask=mask, alpha=alpha)
    if strict.accepted:
        return strict
    try:
        conf = invariant_metric(L, tol, conformal=True, mask=mask, alpha=alpha)
    except ValueError:  # every generator a pure dilation
        return strict
    if not conf.accepted:
        return strict
    conf.message = f"no strictly invariant metric; {conf.message}"
    return conf


# ---------------------------------------------------------------------------------------- families in words


def _pairs(names: list[str]) -> list[str] | None:
    """Names of consecutive feature pairs that form 2-vectors ('q1x', 'q1y' -> 'q1'), or None."""
    if len(names) % 2:
        return None
    out = []
    for a, b in zip(names[0::2], names[1::2], strict=True):
        stem = a[:-1]
        if not (len(a) > 1 and a[:-1] == b[:-1] and a[-1] != b[-1]):
            return None
        out.append(stem)
    return out


def describe_family(null_space: np.ndarray, feature_names: list[str] | None = None, tol: float = 0.05) -> str:
    """A family of invariant forms in words: its dimension, whether it is every form A (x) I2 + B (x) eps
    on 2-vectors (dot and cross products of the vectors), and whether it contains the Euclidean form (a
    form counts as inside when its distance to the family is below ``tol``, relative: the family of a
    learned algebra is only as exact as the algebra)."""
    k, n = null_space.shape[0], null_space.shape[-1]
    names = feature_names or [f"x{i}" for i in range(n)]
    N = null_space.reshape(k, -1)
    Q = np.linalg.qr(N.T)[0]  # orthonormal basis of the family (n*n, k)

    def inside(X: np.ndarray) -> bool:
        x = X.reshape(-1) / np.linalg.norm(X)
        return np.linalg.norm(x - Q @ (Q.T @ x)) < tol

    text = f"a {k}-dimensional family of invariant forms"
    stems = _pairs(names)
    if stems is not None and k == len(stems) ** 2:
        b = len(stems)
        eps = np.array([[0.0, 1.0], [-1.0, 0.0]])
        basis = [
            np.kron(np.outer(np.eye(b)[i], np.eye(b)[j]) + np.outer(np.eye(b)[j], np.eye(b)[i]), np.eye(2))
            for i in range(b)
            for j in range(i, b)
        ]
        basis += [
            np.kron(np.outer(np.eye(b)[i], np.eye(b)[j]) - np.outer(np.eye(b)[j], np.eye(b)[i]), eps)
            for i in range(b)
            for j in range(i + 1, b)
        ]
        if all(inside(X) for X in basis):
            text += (
                f": J = A (x) I2 + B (x) eps on the {b} 2-vectors ({', '.join(stems)}), A any symmetric and B "
                f"any antisymmetric {b}x{b} matrix, i.e. every combination of the vectors' dot and cross "
                "products"
            )
    if inside(np.eye(n)):
        text += "; it contains the Euclidean form I"
    return text
