"""The conserved quantity Q under common initialisations, against the range Q takes on the minimum.

    python benchmarks/teleport_q.py [--seeds 1000] [--out benchmarks/figures/q_distribution.png]

A two-layer linear network x -> U V x, U (m, h), V (h, n), has the symmetry (U, V) -> (U g^-1, g V) for every
g in GL_h, and gradient flow conserves Q = U^T U - V V^T; we follow its trace, tr Q = ||U||^2 - ||V||^2.  On
a minimum of a realisable regression loss (U V = A) the orbit of one point already reaches every value of
tr Q: g = c I gives tr Q = ||U||^2 / c^2 - c^2 ||V||^2.  Over ``--seeds`` initialisations, Xavier
(N(0, 2 / (fan_in + fan_out))) and Kaiming (N(0, 1 / fan_in), the linear gain) for (m, h, n) = (100, 100, 100)
and (100, 200, 100), the script prints the mean and spread of tr Q and the interval tr Q covers on the orbit of
the minimum for a rescaling by c within [1/2, 2], and draws the histograms with that interval.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from liegan.cli import Parser

SHAPES = [(100, 100, 100), (100, 200, 100)]


def init_std(scheme: str, fan_in: int, fan_out: int) -> float:
    return float(np.sqrt(2.0 / (fan_in + fan_out))) if scheme == "xavier" else float(np.sqrt(1.0 / fan_in))


def trace_q(scheme: str, m: int, h: int, n: int, seeds: int) -> np.ndarray:
    """tr(U^T U - V V^T) at ``seeds`` initialisations (U: fan_in h, fan_out m; V: fan_in n, fan_out h)."""
    out = np.empty(seeds)
    for s in range(seeds):
        rng = np.random.default_rng(s)
        U = rng.normal(0.0, init_std(scheme, h, m), size=(m, h))
        V = rng.normal(0.0, init_std(scheme, n, h), size=(h, n))
        out[s] = (U**2).sum() - (V**2).sum()
    return out


def orbit_range(scheme: str, m: int, h: int, n: int, c: float = 2.0) -> tuple[float, float]:
    """The interval tr Q covers over g = c' I, c' in [1/c, c], at a typical point (||U||^2 and ||V||^2 at
    their expectations): tr Q falls monotonically in c', so the ends are c' = 1/c and c' = c."""
    u2, v2 = m * h * init_std(scheme, h, m) ** 2, h * n * init_std(scheme, n, h) ** 2
    return u2 / c**2 - v2 * c**2, u2 * c**2 - v2 / c**2


def main() -> None:
    ap = Parser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=1000)
    ap.add_argument("--out", default="benchmarks/figures/q_distribution.png")
    args = ap.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(SHAPES), 2, figsize=(10, 6.5), constrained_layout=True)
    print(
        f"{'init':8s} {'(m, h, n)':16s} {'mean tr Q':>10s} {'std':>7s} {'min':>8s} {'max':>8s} "
        f"{'orbit of the minimum, c in [1/2, 2]':>36s} {'init spread / orbit':>20s}"
    )
    for row, shape in enumerate(SHAPES):
        for col, scheme in enumerate(("xavier", "kaiming")):
            q = trace_q(scheme, *shape, args.seeds)
            lo, hi = orbit_range(scheme, *shape)
            ratio = (q.max() - q.min()) / (hi - lo)
            print(
                f"{scheme:8s} {str(shape):16s} {q.mean():10.2f} {q.std():7.2f} {q.min():8.2f} {q.max():8.2f} "
                f"{f'[{lo:.0f}, {hi:.0f}]':>36s} {ratio:20.4f}"
            )
            ax = axes[row, col]
            ax.axvspan(lo, hi, color="tab:orange", alpha=0.2, label="tr Q on the minimum's orbit, c in [1/2, 2]")
            ax.hist(q, bins=40, color="tab:blue", label=f"tr Q at {args.seeds} initialisations")
            ax.set_xlim(lo * 1.05, hi * 1.05)
            ax.set_title(f"{scheme}, (m, h, n) = {shape}: std {q.std():.2f}, orbit width {hi - lo:.0f}", fontsize=9)
            ax.set_xlabel("tr Q = ||U||^2 - ||V||^2")
            ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(
        "Gradient flow keeps Q: from common initialisations it reaches only a sliver of the minimum", fontsize=10
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"figure: {args.out}")


if __name__ == "__main__":
    main()
