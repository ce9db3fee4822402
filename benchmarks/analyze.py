"""How long `liegan analyze` takes as n grows, and its cost law.

For each n: an algebra file of two random Gaussian generators (no invariant metric: nothing to calibrate) and
one of so(1,3) on the first four axes of R^n (a large family of invariant forms: the chance is calibrated
against random sets of six generators on R^n), analysed without figures (`write_report(figures=False)`).
Prints a table (seconds, what the metric policy said, calibration draws) and a least-squares fit
seconds ~ a n^p over n >= 20 for each kind.

    python benchmarks/analyze.py                 # n = 10, 20, 30, 50, 60
    python benchmarks/analyze.py --n 10 20 --metric-draws 500
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from liegan.algebra import Algebra, load_algebra
from liegan.algebras import so13
from liegan.analysis.report import write_report
from liegan.metric import calibrating


def algebras(n: int) -> dict[str, np.ndarray]:
    embedded = np.zeros((6, n, n))
    embedded[:, :4, :4] = so13()
    return {"random c=2": np.random.default_rng(n).standard_normal((2, n, n)), "so(1,3) on 4 axes": embedded}


def time_one(L: np.ndarray, folder: Path, draws: int | None) -> tuple[float, dict]:
    Algebra(L, dataset="custom").save(folder)
    algebra = load_algebra(folder / "algebra.npz")  # read as analyze reads it, outside the timing
    assert algebra.n_dim == L.shape[-1]
    t0 = time.perf_counter()
    with calibrating(draws):
        res = write_report(folder / "algebra.npz", figures=False)
    return time.perf_counter() - t0, res


def fit(ns: list[int], secs: list[float]) -> str:
    keep = [(n, s) for n, s in zip(ns, secs, strict=True) if n >= 20]
    if len(keep) < 2:
        return "too few points"
    x, y = np.log([n for n, _ in keep]), np.log([s for _, s in keep])
    p, a = np.polyfit(x, y, 1)
    return f"seconds ~ {np.exp(a):.3g} n^{p:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[10, 20, 30, 50, 60])
    ap.add_argument("--metric-draws", type=int, default=None, help="as liegan analyze --metric-draws")
    args = ap.parse_args()
    rows: dict[str, list[tuple[int, float]]] = {}
    print(f"{'kind':<20} {'n':>3} {'seconds':>8}  {'draws':>5}  metric")
    for n in args.n:
        for kind, L in algebras(n).items():
            with tempfile.TemporaryDirectory() as tmp:
                sec, res = time_one(L, Path(tmp), args.metric_draws)
            what = "accepted" if res["metric_accepted"] else res["metric_message"].split(":")[0]
            print(f"{kind:<20} {n:>3} {sec:>8.2f}  {res['metric_calibration_draws']:>5}  {what}", flush=True)
            rows.setdefault(kind, []).append((n, sec))
    for kind, r in rows.items():
        print(f"{kind}: {fit([n for n, _ in r], [s for _, s in r])}")


if __name__ == "__main__":
    main()
