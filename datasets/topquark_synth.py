"""Synthetic top and QCD jets written in the exact on-disk format of the Top Quark Tagging Reference Dataset.

For tests, demos and users without the multi-GB download.  The files are what pandas + PyTables write
(``DataFrame.to_hdf(key='table', format='table')``), with the real columns ``E_i, PX_i, PY_i, PZ_i``
(i = 0..199, pT-ordered, zero-padded), ``truthE, truthPX, truthPY, truthPZ``, ``ttv`` and
``is_signal_new``, float32 momenta and int64 flags, so the reader cannot tell them from the real ones.

Physics (all in float64, vectorised over jets; every step is an exact two-body decay in the parent's rest
frame, so four-momentum is conserved exactly and every constituent is massless):

- Top jets: t -> b W, W -> q q'.  The top and W masses are drawn from Breit-Wigner distributions
  (m_t = 172.5 GeV, Gamma_t = 1.4 GeV; m_W = 80.4 GeV, Gamma_W = 2.1 GeV), truncated to +-15 widths.
  Each of the three quarks becomes a massive "prong" whose mass is drawn from a Sudakov-like spectrum;
  the prongs then shower (below).  The truth columns hold the top four-momentum (= the jet's).
- QCD jets: one massive object whose mass follows the leading-log Sudakov form
  P(rho < r) = exp(-a log^2 r), rho = m^2 / (pT R)^2, which gives the falling QCD jet-mass spectrum.
- Shower: every massive object splits in two with a soft- and collinear-enhanced energy fraction z
  (density proportional to 1/z on each side) and daughter masses m_i = M sqrt(z_i) rho_i, which keeps
  m_1 + m_2 < M; objects lighter than a cutoff, or at the depth limit, split into two massless particles.
  The depth limit keeps every jet at <= 200 constituents, so no truncation breaks conservation.
- Jets: pT uniform in [550, 650] GeV, |eta| < 2 uniform, phi uniform; the jet four-momentum is the top's
  (top jets) or the QCD object's.

Sanity checks (:func:`sanity_summary`, printed by ``liegan data synth`` and asserted in the tests): top jet
masses peak at 172.5 GeV; the QCD jet-mass spectrum falls above its peak; in top jets, re-clustered into
three exclusive-kT subjets, one subjet pair has a mass near the W mass (80.4 GeV).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from liegan.io import InputError, atomic_path

N_CONST = 200  # constituents stored per jet, as in the real files
M_TOP, G_TOP = 172.5, 1.4
M_W, G_W = 80.4, 2.1
PT_RANGE = (550.0, 650.0)
ETA_MAX = 2.0
JET_R = 0.8
SPLITS = ("train", "val", "test")
TTV = {"train": 0, "val": 1, "test": 2}  # the real files' ttv codes are undocumented; the reader ignores ttv

# shower parameters (chosen so that multiplicities look like the real jets: ~40 QCD, ~60-80 top)
_Z_MIN = 0.02  # smallest energy fraction of a splitting
_RHO_MAX = 0.7  # daughter mass / (M sqrt(z)) is at most this
_M_CUT = 0.5  # GeV: lighter objects split into two massless particles
_QCD_DEPTH = 6  # 2^(6+1) = 128 <= 200 constituents
_PRONG_DEPTH = 5  # 3 prongs x 2^(5+1) = 192 <= 200 constituents
_SUDAKOV_QCD = 0.06  # a in P(rho < r) = exp(-a log^2 r)
_SUDAKOV_PRONG = 0.12


def column_names() -> list[str]:
    """The real file's 806 columns, in the real file's order."""
    cols = [f"{c}_{i}" for i in range(N_CONST) for c in ("E", "PX", "PY", "PZ")]
    return cols + ["truthE", "truthPX", "truthPY", "truthPZ", "ttv", "is_signal_new"]


# ---------------------------------------------------------------- kinematics (float64, shapes (m, 4))


def minkowski_mass2(p: np.ndarray) -> np.ndarray:
    return p[..., 0] ** 2 - (p[..., 1:] ** 2).sum(-1)


def boost(p: np.ndarray, beta: np.ndarray, gamma: np.ndarray | None = None) -> np.ndarray:
    """Lorentz boost of four-vectors p (m, 4) by velocities beta (m, 3), |beta| < 1.

    gamma: the Lorentz factors when known exactly (E / M of the parent); computing them from beta loses
    all precision for light, fast parents, where 1 - |beta|^2 underflows.
    """
    if gamma is None:
        gamma = 1.0 / np.sqrt(1.0 - (beta**2).sum(-1))
    bp = (beta * p[:, 1:]).sum(-1)
    # (gamma - 1) / beta^2 written as gamma^2 / (gamma + 1): no 0/0 for a parent at rest
    g2 = gamma**2 / (gamma + 1.0)
    out = np.empty_like(p)
    out[:, 0] = gamma * (p[:, 0] + bp)
    out[:, 1:] = p[:, 1:] + ((g2 * bp + gamma * p[:, 0])[:, None]) * beta
    return out


def from_pt_eta_phi_m(pt, eta, phi, m) -> np.ndarray:
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px**2 + py**2 + pz**2 + m**2)
    return np.stack([e, px, py, pz], -1)


def _orthonormal_frame(n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors perpendicular to the unit vectors n (m, 3) and to each other."""
    helper = np.zeros_like(n)
    use_x = np.abs(n[:, 0]) < 0.9
    helper[use_x, 0] = 1.0
    helper[~use_x, 1] = 1.0
    e1 = np.cross(n, helper)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    return e1, np.cross(n, e1)


def two_body(
    P: np.ndarray, M: np.ndarray, m1: np.ndarray, m2: np.ndarray, cos_t: np.ndarray, phi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Decay parents P (m, 4) of mass M into masses m1, m2 at rest-frame polar angle acos(cos_t) to the
    parent's flight direction and azimuth phi.  The second daughter is P - p1, so the sum is exact."""
    pstar = np.sqrt(np.clip((M**2 - (m1 + m2) ** 2) * (M**2 - (m1 - m2) ** 2), 0.0, None)) / (2.0 * M)
    e1 = (M**2 + m1**2 - m2**2) / (2.0 * M)
    pvec = P[:, 1:]
    pnorm = np.linalg.norm(pvec, axis=1)
    n = pvec / np.where(pnorm > 0, pnorm, 1.0)[:, None]
    n[pnorm == 0] = (0.0, 0.0, 1.0)
    a, b = _orthonormal_frame(n)
    sin_t = np.sqrt(np.clip(1.0 - cos_t**2, 0.0, None))
    direction = cos_t[:, None] * n + (sin_t * np.cos(phi))[:, None] * a + (sin_t * np.sin(phi))[:, None] * b
    p1_rest = np.concatenate([e1[:, None], pstar[:, None] * direction], axis=1)
    p1 = boost(p1_rest, pvec / P[:, :1], P[:, 0] / M)
    return p1, P - p1


def _breit_wigner(rng: np.random.Generator, m0: float, gamma: float, size: int) -> np.ndarray:
    """Breit-Wigner (Cauchy, full width gamma) masses truncated to m0 +- 15 gamma, by inverse-CDF sampling."""
    lim = np.arctan(30.0)
    return m0 + 0.5 * gamma * np.tan(rng.uniform(-lim, lim, size))


def _sudakov_mass(rng: np.random.Generator, scale: np.ndarray, a: float, lo, hi) -> np.ndarray:
    """Masses m = scale sqrt(rho) in [lo, hi] with P(rho < r) proportional to exp(-a log^2 r) (the
    leading-log Sudakov form), by inverse-CDF sampling of the truncated distribution."""
    cdf = lambda m: np.exp(-a * np.log((np.asarray(m) / scale) ** 2) ** 2)  # noqa: E731
    u = rng.uniform(cdf(lo), cdf(hi))
    return scale * np.exp(-0.5 * np.sqrt(-np.log(u) / a))


def shower(P: np.ndarray, M: np.ndarray, owner: np.ndarray, max_depth: int, rng: np.random.Generator):
    """Split massive objects P (m, 4) of masses M (m,) until only massless particles are left.

    Returns (momenta (p, 4), owner (p,)): every final particle with the index (into ``owner``'s values)
    of the object it came from.  An object yields at most 2^(max_depth + 1) particles.
    """
    done_p, done_o = [], []
    depth = 0
    while len(P):
        massless_now = (M < _M_CUT) | (depth >= max_depth)
        m = len(P)
        # energy fraction of daughter 1 in the lab: log-uniform on [Z_MIN, 1/2], either side of 1/2
        s = _Z_MIN * (0.5 / _Z_MIN) ** rng.uniform(size=m)
        z = np.where(rng.uniform(size=m) < 0.5, s, 1.0 - s)
        rho1 = _RHO_MAX * np.sqrt(rng.uniform(size=m))
        rho2 = _RHO_MAX * np.sqrt(rng.uniform(size=m))
        m1 = np.where(massless_now, 0.0, M * np.sqrt(z) * rho1)
        m2 = np.where(massless_now, 0.0, M * np.sqrt(1.0 - z) * rho2)
        # the rest-frame angle that gives daughter 1 the lab energy z E (clipped where z is out of reach)
        pstar = np.sqrt(np.clip((M**2 - (m1 + m2) ** 2) * (M**2 - (m1 - m2) ** 2), 0.0, None)) / (2.0 * M)
        e1 = (M**2 + m1**2 - m2**2) / (2.0 * M)
        gamma = P[:, 0] / M
        beta = np.sqrt(np.clip(1.0 - 1.0 / gamma**2, 0.0, None))
        cos_t = np.clip((z * P[:, 0] / gamma - e1) / np.maximum(beta * pstar, 1e-300), -1.0, 1.0)
        p1, p2 = two_body(P, M, m1, m2, cos_t, rng.uniform(0.0, 2.0 * math.pi, m))
        kids_p = np.concatenate([p1, p2])
        kids_m = np.concatenate([m1, m2])
        kids_o = np.concatenate([owner, owner])
        final = kids_m == 0.0
        done_p.append(kids_p[final])
        done_o.append(kids_o[final])
        P, M, owner = kids_p[~final], kids_m[~final], kids_o[~final]
        depth += 1
    return np.concatenate(done_p), np.concatenate(done_o)


# ---------------------------------------------------------------- jets


def _jet_axes(rng: np.random.Generator, pt: np.ndarray, m: np.ndarray) -> np.ndarray:
    n = len(pt)
    eta = rng.uniform(-ETA_MAX, ETA_MAX, n)
    phi = rng.uniform(-math.pi, math.pi, n)
    return from_pt_eta_phi_m(pt, eta, phi, m)


def _top_prongs(rng: np.random.Generator, n: int):
    """t -> b W, W -> q q' with massive prongs; returns (top (n, 4), prongs (3n, 4), prong masses (3n,))."""
    m_t = _breit_wigner(rng, M_TOP, G_TOP, n)
    m_w = _breit_wigner(rng, M_W, G_W, n)
    top = _jet_axes(rng, rng.uniform(*PT_RANGE, n), m_t)
    # prong masses from a Sudakov spectrum on the quark energy scale (~ m_t / 3 in the top frame)
    mb = _sudakov_mass(rng, 60.0, _SUDAKOV_PRONG, _M_CUT, 0.3 * (m_t - m_w))
    mq = _sudakov_mass(rng, 40.0, _SUDAKOV_PRONG, _M_CUT, np.full(n, 0.3 * M_W))
    mq2 = _sudakov_mass(rng, 40.0, _SUDAKOV_PRONG, _M_CUT, np.full(n, 0.3 * M_W))
    iso = lambda: (rng.uniform(-1.0, 1.0, n), rng.uniform(0.0, 2.0 * math.pi, n))  # noqa: E731
    b, w = two_body(top, m_t, mb, m_w, *iso())
    q, q2 = two_body(w, m_w, mq, mq2, *iso())
    return top, np.concatenate([b, q, q2]), np.concatenate([mb, mq, mq2])


def _massive_showers(rng, P, M, owner, depth):
    """Shower the massive entries of P; massless ones (M == 0) are final already."""
    light = M == 0.0
    p, o = shower(P[~light], M[~light], owner[~light], depth, rng)
    return np.concatenate([p, P[light]]), np.concatenate([o, owner[light]])


def _pack(p: np.ndarray, jet: np.ndarray, n_jets: int) -> np.ndarray:
    """Constituents p (m, 4) of jets ``jet`` (m,) -> (n_jets, 200, 4), pT-ordered, zero-padded."""
    pt2 = p[:, 1] ** 2 + p[:, 2] ** 2
    order = np.lexsort((-pt2, jet))
    jet, p = jet[order], p[order]
    counts = np.bincount(jet, minlength=n_jets)
    if counts.max(initial=0) > N_CONST:
        raise AssertionError(f"a jet has {counts.max()} > {N_CONST} constituents (depth limits too large)")
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.arange(len(jet)) - start[jet]
    out = np.zeros((n_jets, N_CONST, 4))
    out[jet, slot] = p
    return out


def make_jets(n: int, rng: np.random.Generator, top_fraction: float = 0.5):
    """n jets, each a top jet with probability ``top_fraction``.

    Returns (constituents (n, 200, 4) float64, truth (n, 4) float64 (zero for QCD), is_top (n,) int64).
    """
    is_top = (rng.uniform(size=n) < top_fraction).astype(np.int64)
    tops = np.flatnonzero(is_top)
    qcds = np.flatnonzero(is_top == 0)
    parts_p, parts_j = [], []
    truth = np.zeros((n, 4))
    if len(tops):
        top, prongs, prong_m = _top_prongs(rng, len(tops))
        truth[tops] = top
        owner = np.tile(tops, 3)
        p, o = _massive_showers(rng, prongs, prong_m, owner, _PRONG_DEPTH)
        parts_p.append(p)
        parts_j.append(o)
    if len(qcds):
        nq = len(qcds)
        pt = rng.uniform(*PT_RANGE, nq)
        m = _sudakov_mass(rng, pt * JET_R, _SUDAKOV_QCD, 4.0, 0.45 * pt * JET_R)
        jet = _jet_axes(rng, pt, m)
        p, o = shower(jet, m, qcds, _QCD_DEPTH, rng)
        parts_p.append(p)
        parts_j.append(o)
    return _pack(np.concatenate(parts_p), np.concatenate(parts_j), n), truth, is_top


# ---------------------------------------------------------------- sanity checks


def jet_mass(constituents: np.ndarray) -> np.ndarray:
    """Invariant mass of the sum of constituents (n, k, 4) -> (n,)."""
    return np.sqrt(np.clip(minkowski_mass2(constituents.sum(1)), 0.0, None))


def exclusive_kt_subjets(constituents: np.ndarray, n_sub: int = 3) -> np.ndarray:
    """Re-cluster one jet's constituents (k, 4) (zero rows ignored) with the exclusive kT algorithm
    (E-scheme, R = JET_R) until ``n_sub`` pseudo-jets remain; returns (n_sub, 4), fewer if fewer particles."""
    p = constituents[np.any(constituents != 0, axis=1)].astype(np.float64)
    while len(p) > n_sub:
        pt2 = p[:, 1] ** 2 + p[:, 2] ** 2
        y = 0.5 * np.log((p[:, 0] + p[:, 3]) / np.maximum(p[:, 0] - p[:, 3], 1e-300))
        phi = np.arctan2(p[:, 2], p[:, 1])
        dphi = np.abs(phi[:, None] - phi[None, :])
        dphi = np.minimum(dphi, 2 * math.pi - dphi)
        dr2 = (y[:, None] - y[None, :]) ** 2 + dphi**2
        dij = np.minimum(pt2[:, None], pt2[None, :]) * dr2 / JET_R**2
        np.fill_diagonal(dij, np.inf)
        i, j = np.unravel_index(np.argmin(dij), dij.shape)
        diB = pt2.min()
        if diB < dij[i, j]:
            # exclusive clustering never drops a pseudo-jet to the beam: merge the softest into its nearest
            i = int(np.argmin(pt2))
            j = int(np.argmin(np.where(np.arange(len(p)) == i, np.inf, dr2[i])))
        p[i] = p[i] + p[j]
        p = np.delete(p, j, axis=0)
    return p


def sanity_summary(constituents: np.ndarray, is_top: np.ndarray, n_subjet_jets: int = 300) -> dict:
    """Figures that show the jets are physical; keys documented in the module docstring.

    top_mass_median: median top jet mass (GeV, expect ~172.5); qcd_mass_median and qcd_mass_falls (the QCD
    mass histogram peaks below 100 GeV and decreases above its peak); w_pair_fraction_top: share of top
    jets (the first n_subjet_jets) whose three kT subjets contain a pair with mass in [65, 95] GeV;
    w_pair_fraction_qcd: the same share for QCD jets (much lower).
    """
    m = jet_mass(constituents)
    top, qcd = m[is_top == 1], m[is_top == 0]
    hist, edges = np.histogram(qcd, bins=np.arange(0.0, 271.0, 30.0))
    peak = int(np.argmax(hist))
    tail = hist[peak:]
    # falling: the peak is at low mass (well below the top and W-pair masses) and no bin above it exceeds
    # its left neighbour by more than 2 sigma of counting noise; any one-peaked spectrum falls above its
    # peak, so the peak's position is part of the check
    falls = bool(
        edges[peak] < 100.0 and np.all(np.diff(tail) <= 2.0 * np.sqrt(tail[:-1] + 1.0)) and tail[-1] < tail[0] / 3.0
    )
    out = {
        "top_mass_median": float(np.median(top)) if len(top) else float("nan"),
        "qcd_mass_median": float(np.median(qcd)) if len(qcd) else float("nan"),
        "qcd_mass_peak_gev": float(edges[peak] + 15.0),
        "qcd_mass_falls": falls,
    }
    for name, sel in (("top", is_top == 1), ("qcd", is_top == 0)):
        idx = np.flatnonzero(sel)[:n_subjet_jets]
        hits = 0
        for i in idx:
            sj = exclusive_kt_subjets(constituents[i], 3)
            pairs = [sj[a] + sj[b] for a in range(len(sj)) for b in range(a + 1, len(sj))]
            masses = np.sqrt(np.clip([minkowski_mass2(q) for q in pairs], 0.0, None))
            hits += bool(np.any((masses > 65.0) & (masses < 95.0)))
        out[f"w_pair_fraction_{name}"] = hits / max(len(idx), 1)
    return out


# ---------------------------------------------------------------- files


def _require_pandas():
    try:
        import pandas as pd
        import tables  # noqa: F401  (pandas needs PyTables for format='table')
    except ImportError as e:
        raise InputError(
            f"writing top-tagging files needs pandas and PyTables ({e.name} is missing): pip install 'liegan[topquark]'"
        ) from None
    return pd


def write_split(
    path: str | os.PathLike, n: int, seed: int, ttv: int = 0, chunk: int = 20000, progress: bool = False
) -> dict:
    """Write n synthetic jets to ``path`` in the real file's layout; returns a sanity summary of the first
    chunk.  Written in chunks (bounded memory) with pandas' table-format append, atomically."""
    pd = _require_pandas()
    cols = column_names()
    rng = np.random.default_rng(seed)
    summary: dict = {}
    with atomic_path(path) as tmp:
        tmp.unlink()  # PyTables creates the file itself
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=n, unit="jet", desc=Path(path).name, leave=False)
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            consts, truth, is_top = make_jets(m, rng)
            if start == 0:
                summary = sanity_summary(consts, is_top, n_subjet_jets=min(100, m))
            flat = consts.reshape(m, N_CONST * 4).astype(np.float32)
            data = {c: flat[:, i] for i, c in enumerate(cols[: N_CONST * 4])}
            for i, c in enumerate(("truthE", "truthPX", "truthPY", "truthPZ")):
                data[c] = truth[:, i].astype(np.float32)
            data["ttv"] = np.full(m, ttv, dtype=np.int64)
            data["is_signal_new"] = is_top
            df = pd.DataFrame(data, columns=cols, index=pd.RangeIndex(start, start + m))
            df.to_hdf(tmp, key="table", format="table", append=start > 0, mode="a", index=False)
            if bar is not None:
                bar.update(m)
        if bar is not None:
            bar.close()
        _stamp_format_version(tmp)
    return summary


# pandas before 3.1 reads a table only when its group carries ``pandas_version`` (the format version,
# "0.15.2" ever since it was introduced); without it, older pandas takes the file for a pre-0.10.1 one and
# fails on the column attributes.  pandas 3.1 stopped writing it, so it is written here: the real files,
# and the original LieGAN code's pd.read_hdf in an older environment, have it.
PANDAS_FORMAT_VERSION = "0.15.2"


def _stamp_format_version(path: Path) -> None:
    import tables

    with tables.open_file(str(path), mode="a") as f:
        if "pandas_version" not in f.root.table._v_attrs:
            f.root.table._v_attrs.pandas_version = PANDAS_FORMAT_VERSION


def split_sizes(n_train: int) -> dict[str, int]:
    """train gets n_train jets; val and test each a third of that, as in the real 1.2M/400k/400k files."""
    return {"train": n_train, "val": max(1, n_train // 3), "test": max(1, n_train // 3)}


def synthesize(
    out_dir: str | os.PathLike, n_train: int, seed: int = 0, splits=SPLITS, progress: bool = False
) -> dict[str, dict]:
    """Write <out_dir>/{train,val,test}.h5; each split has its own seed stream.  Returns {split: summary}."""
    if n_train < 1:
        raise InputError(f"--jets must be at least 1, got {n_train}")
    out_dir = Path(out_dir)
    sizes = split_sizes(n_train)
    seeds = np.random.SeedSequence(seed).spawn(len(SPLITS))
    result = {}
    for split, ss in zip(SPLITS, seeds, strict=True):
        if split in splits:
            s = int(ss.generate_state(1)[0])
            path = out_dir / f"{split}.h5"
            result[split] = write_split(path, sizes[split], s, TTV[split], progress=progress)
    return result
