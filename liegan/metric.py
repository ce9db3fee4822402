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

The random spectra are computed once per (channels, n, mask, solve, draws) and kept in memory and on disk
under the user's cache folder (:func:`calibration`; 4,000 draws for n <= 8, about 0.1-2 s to compute; fewer
for larger n, :func:`default_draws`, whose cap keeps the cost near CALIBRATION_WORK from n = 38 on and
states the chance's resolution 1/(R + 1) that leaves), and only when a candidate is well determined:
without one the chance is 1 whatever the draws say.  A trainer starts them in the background
(:func:`warm_calibrations`) so that the first well-determined candidate does not wait.

Strict versus conformal (:func:`solve_metric`): the strict solve first; when it accepts nothing, the
conformal solve (J invariant up to scale: every generator's trace part removed), under the same rule.  The
result names which one it is.  A conformal metric is not preserved by the generators with a trace part (a
dilation scales every J-length), so a report must say so.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

ALPHA = 0.002  # accepted when random generators look at least as invariant this rarely
TOL = 0.1  # largest relative singular value of an accepted direction (its residual scale)
MIN_GAP = 3.0  # the next singular value at least this much larger: the null space is well separated
CALIBRATION_DRAWS = 4000
CALIBRATION_SEED = 20261201
# Part of the on-disk cache key: bump it whenever the calibration's computation changes, so that no file
# written by an older rule is ever read as this one's (2: certified draws stored as ones, draws in the key).
CALIBRATION_VERSION = 2
CALIBRATION_WORK = 2e11  # sum of m^3 over the draws of one calibration at most (n = 60: 32 draws)
CERTIFY_M = 100  # above this many symmetric directions random sets are drawn one at a time and certified


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


@lru_cache(maxsize=2)
def _gram_index(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For every pair of symmetric_basis entries (i <= j, k <= l) and each of the four orderings (a, b) in
    {(i, j), (j, i)}, (c, d) in {(k, l), (l, k)}: the flat index of [a, c, d, b] in an (n, n, n, n) tensor,
    the flat index of [a, c] in an (n, n) one and whether b == d, each (4, m, m); and the basis weights
    (1/2 on the diagonal, 1/sqrt(2) off it), (m,)."""
    I, J = np.triu_indices(n)  # the order of symmetric_basis
    a, b = np.stack([I, J])[:, :, None], np.stack([J, I])[:, :, None]
    c, d = np.stack([I, J])[:, None, :], np.stack([J, I])[:, None, :]
    order = [(0, 0), (1, 0), (0, 1), (1, 1)]
    acdb = np.stack([((a[x] * n + c[y]) * n + d[y]) * n + b[x] for x, y in order])
    ac = np.stack([a[x] * n + c[y] for x, y in order])
    bd = np.stack([b[x] == d[y] for x, y in order])
    return acdb, ac, bd, np.where(I == J, 0.5, np.sqrt(0.5))


def _gram(L: np.ndarray) -> np.ndarray:
    """Gram matrices C^T C of the stacked constraint maps J -> L_i^T J + J L_i over the symmetric basis, for
    prepared generators L: (R, c, n, n) -> (R, m, m).

    In closed form, from vec(L^T J + J L) = (L^T (x) I + I (x) L^T) vec(J): on n x n matrices the Gram form is
    F[a, b, c, d] = sum_i (L_i L_i^T)[a, c] delta_bd + L_i[a, c] L_i[d, b], plus the same with the two factors
    of each Kronecker product swapped, which the symmetric basis folds into a factor 2.  It costs c n^4
    instead of the c n^2 m^2 of stacking the maps and multiplying."""
    R, c, n = L.shape[0], L.shape[1], L.shape[-1]
    Lf = L.reshape(R, c, n * n)
    X = (np.swapaxes(Lf, 1, 2) @ Lf).reshape(R, -1)  # L[a, c] L[d, b] summed over i, at [a, c, d, b]
    B = (L @ np.swapaxes(L, -1, -2)).sum(1).reshape(R, -1)
    acdb, ac, bd, w = _gram_index(n)
    G = sum(X[:, acdb[o]] + np.where(bd[o], B[:, ac[o]], 0.0) for o in range(4))
    return 2.0 * G * (w[:, None] * w)


def _relative_spectra(L: np.ndarray) -> np.ndarray:
    """Ascending singular values / the largest of the stacked constraint map, for prepared generators
    L: (R, c, n, n) -> (R, m).  From the Gram matrix's eigenvalues: fast in batches and exact enough for
    calibration (relative values below ~1e-7 read as ~1e-7)."""
    ev = np.sqrt(np.clip(np.linalg.eigvalsh(_gram(L)), 0.0, None))
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
    """Spectra of random generators of one shape: sorted columns (m, R) and the sorted statistic (R,).

    With R draws the chance is resolved down to 1/(R + 1) (``resolution``): a candidate that no random set
    matches gets exactly that, so nothing is accepted when it exceeds alpha."""

    columns: np.ndarray
    statistic: np.ndarray

    @property
    def draws(self) -> int:
        return len(self.statistic)

    @property
    def resolution(self) -> float:
        return 1.0 / (self.draws + 1)

    def chance(self, t: float) -> float:
        R = len(self.statistic)
        return float((1 + np.searchsorted(self.statistic, t, side="right")) / (R + 1))


@dataclass
class CalibrationSettings:
    """How calibrations run in this context (:func:`calibrating`).

    draws: the most random sets per shape above m = 36 (None: the default, ``default_draws``).
    progress: called as progress(total, description) before a calibration that draws one set at a time (m above
        CERTIFY_M); returns an object with update(k) and close() (a tqdm bar, say).  None: silent."""

    draws: int | None = None
    progress: Callable[[int, str], Any] | None = None


_SETTINGS: ContextVar[CalibrationSettings | None] = ContextVar("liegan_metric_calibration", default=None)


def _settings() -> CalibrationSettings:
    return _SETTINGS.get() or CalibrationSettings()


@contextmanager
def calibrating(draws: int | None = None, progress: Callable[[int, str], Any] | None = None) -> Iterator[None]:
    """Run the calibrations inside with at most ``draws`` random sets per shape and/or a progress display."""
    token = _SETTINGS.set(CalibrationSettings(draws, progress))
    try:
        yield
    finally:
        _SETTINGS.reset(token)


def default_draws(n: int) -> int:
    """Random sets per shape on R^n: 4,000 up to m = n(n+1)/2 = 36, then 4000 (36/m)^2 but at least 500 (the
    fewest that resolve chance 0.002), capped at CALIBRATION_WORK / m^3 (each draw costs ~m^3: the cost law of
    the calibration), so n = 60 stays within seconds; from n = 38 on the cap leaves fewer than 500 draws and
    the chance is then only resolved to 1/(R + 1), which the result states."""
    m = n * (n + 1) // 2
    if m <= 36:
        return CALIBRATION_DRAWS
    return max(1, min(max(500, int(CALIBRATION_DRAWS * (36 / m) ** 2)), int(CALIBRATION_WORK // m**3)))


def _certified_invariant_free(G: np.ndarray, tol: float, v0: np.ndarray) -> bool:
    """True when the Gram matrix G (m, m) certainly has no relative singular value s / s_max <= tol, i.e.
    lambda_min > tol^2 lambda_max: a Cholesky factorisation of G - tol^2 U I with U >= lambda_max succeeds.
    U is the largest Ritz value plus its residual (Lanczos from the seeded v0) with a margin; a Cholesky
    factorisation costs m^3 / 3, a quarter of an eigen-decomposition's arithmetic and a tenth of its time."""
    import scipy.linalg
    import scipy.sparse.linalg

    lam, vec = scipy.sparse.linalg.eigsh(G, k=1, which="LA", v0=v0, tol=1e-10)
    U = (lam[0] + np.linalg.norm(G @ vec[:, 0] - lam[0] * vec[:, 0])) * (1 + 1e-6)
    shifted = G - (tol**2 * U + 1e-12 * U) * np.eye(len(G))
    _, info = scipy.linalg.lapack.dpotrf(shifted, lower=1, clean=0, overwrite_a=1)
    return info == 0


def _draw_spectra(rng, mask: np.ndarray, conformal: bool, R: int, tol: float) -> np.ndarray:
    """Relative spectra (R, m) of R random generator sets (standard normal entries times the mask).

    Above CERTIFY_M one set at a time: a set certified to have no relative singular value <= tol has no
    well-determined direction, and its values only enter the ranks of candidates <= tol, so it is stored as
    all ones (exactly what the full spectrum would give the statistic); the others get the full spectrum."""
    c, n = mask.shape[0], mask.shape[-1]
    m = n * (n + 1) // 2
    if m <= CERTIFY_M:
        chunk = max(1, int(4e6 // (c * m * n * n)))
        out = []
        for start in range(0, R, chunk):
            L = rng.standard_normal((min(chunk, R - start), c, n, n)) * mask
            out.append(_relative_spectra(_prepare(L, conformal)))
        return np.concatenate(out)
    settings = _settings()
    bar = None if settings.progress is None else settings.progress(R, f"metric chance: {R} random sets {c}x{n}x{n}")
    out = np.ones((R, m))
    v0 = np.random.default_rng(CALIBRATION_SEED).standard_normal(m)
    for r in range(R):
        G = _gram(_prepare(rng.standard_normal((1, c, n, n)) * mask, conformal))[0]
        if tol >= 1 or not _certified_invariant_free(G.copy(), tol, v0):
            ev = np.sqrt(np.clip(np.linalg.eigvalsh(G), 0.0, None))
            out[r] = ev / (ev[-1] if ev[-1] > 0 else 1.0)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return out


def _compute_calibration(
    c: int, n: int, mask_bytes: bytes, conformal: bool, tol: float, min_gap: float, R: int
) -> Calibration:
    mask = np.frombuffer(mask_bytes, dtype=bool).reshape(c, n, n)
    rng = np.random.default_rng([CALIBRATION_SEED, c, n, int(conformal)])
    S = _draw_spectra(rng, mask, conformal, R, tol)
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
    text = repr((CALIBRATION_VERSION, CALIBRATION_DRAWS, CALIBRATION_SEED, CERTIFY_M, np.__version__, *key))
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


def _calibration(c: int, n: int, mask_bytes: bytes, conformal: bool, tol: float, min_gap: float, R: int) -> Calibration:
    """Memory, else the disk cache, else computed (and cached); one computation per key even when a
    background warm-up and a score ask for it at once (the second waits for the first)."""
    key = (c, n, mask_bytes, conformal, tol, min_gap, R)
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
    entry free): seeded, so reproducible; computed once and then kept (see the module docstring).  The
    number of draws is :func:`default_draws`, or that of the enclosing :func:`calibrating` above m = 36."""
    draws = _settings().draws
    R = default_draws(n) if draws is None or n * (n + 1) // 2 <= 36 else int(draws)
    return _calibration(c, n, _mask_bytes(c, n, mask), bool(conformal), float(tol), float(min_gap), R)


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
    draws: random generator sets the chance was calibrated with (0: no candidate, no calibration needed);
        the chance is resolved down to 1 / (draws + 1).
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
    draws: int = 0

    @property
    def null_dim(self) -> int:
        return int(self.null_space.shape[0])

    @property
    def is_family(self) -> bool:
        return self.null_dim > 1


def _constraint_spectrum(L: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact SVD of the stacked constraint map: ascending relative singular values, right singular vectors
    in that order (rows), and the symmetric basis.  The last few generator sets are remembered: an analysis
    asks for the same solve several times (its own, the scores', the independent check's), and at n = 60 one
    costs seconds."""
    L = np.ascontiguousarray(L, dtype=np.float64)
    S, Vh = _svd(L.tobytes(), L.shape)
    return S.copy(), Vh.copy(), symmetric_basis(L.shape[-1])


@lru_cache(maxsize=4)
def _svd(data: bytes, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    L = np.frombuffer(data, dtype=np.float64).reshape(shape)
    C = np.stack([(np.transpose(L, (0, 2, 1)) @ E + E @ L).reshape(-1) for E in symmetric_basis(shape[-1])], axis=1)
    # c n^2 rows >= m = n(n+1)/2 columns: the thin SVD's Vh is already square (the full one would add the
    # c n^2 x c n^2 U, most of the cost at large n)
    _, S, Vh = np.linalg.svd(C, full_matrices=False)
    order = np.argsort(S, kind="stable")
    S, Vh = S[order], Vh[order]
    return S / (S.max() if S.max() > 0 else 1.0), Vh


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
    k, chance, resolution, draws = 0, 1.0, 0.0, 0
    if _eligible(S, tol, min_gap).any():  # no well-determined direction: nothing for chance to judge
        cal = calibration(len(L), n, M, conformal, tol, min_gap)
        stat, k = _statistic(S, cal.columns, tol, min_gap)
        k, resolution, draws = int(k), cal.resolution, cal.draws
        chance = cal.chance(float(stat))
    accepted = bool(k) and chance <= alpha
    gap = _gap(S, k or 1)
    noise = float(S[k - 1]) if k else float(S[0])
    best = canonical(np.einsum("m,mij->ij", Vh[0], B))
    solve = "conformal" if conformal else "strict"
    if not accepted:
        null = np.zeros((0, n, n))
        msg = _rejection(S, k, gap, chance, alpha, tol, L, conformal, resolution)
        return MetricResult(
            False, None, null, S, k, gap, noise, chance, tol, alpha, solve, np.zeros(0), None, msg, best, draws
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
    return MetricResult(True, J, null, S, k, gap, noise, chance, tol, alpha, solve, residuals, sig, msg, best, draws)


def _gap(S: np.ndarray, k: int) -> float:
    return float(_gaps(S)[k - 1]) if k < len(S) else 1.0


def _rejection(S, k, gap, chance, alpha, tol, L, conformal, resolution) -> str:
    n = L.shape[-1]
    if k == 0:
        traces = np.abs(np.trace(L, axis1=1, axis2=2)) / np.sqrt(n)
        why = " (a generator has non-zero trace, e.g. a dilation)" if traces.max() > tol and not conformal else ""
        after = f", next {S[1]:.3g}" if len(S) > 1 else ", the only one"
        return (
            f"no invariant metric{why}: no well-determined null space (smallest singular value "
            f"{S[0]:.3g}, tol {tol}{after})"
        )
    best = f"the best candidate ({k} direction(s), residual {S[k - 1]:.3g}, gap {gap:.3g})"
    if chance <= resolution and resolution > alpha:
        draws = round(1 / resolution) - 1
        return (
            f"undecided, not accepted: {best} beats all {draws} random generator sets of this shape, but "
            f"{draws} sets resolve chance only down to {resolution:.2g} > {alpha} (the calibration's cap at "
            f"n = {n}; `liegan analyze --metric-draws {round(1 / alpha)}` decides it, at a cost ~ draws x m^3)"
        )
    return (
        f"no invariant metric beyond chance: {best} is matched by random generators of this shape with "
        f"probability {chance:.2g} > {alpha}"
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
