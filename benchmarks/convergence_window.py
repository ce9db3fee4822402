"""How long a window the verdict's convergence test needs at the scalar cadence: full default runs (no early
stop), the primary score and the targets recorded at every scoring point, then for each candidate window the
step at which the test would first pass and what happened after it.

    python benchmarks/convergence_window.py [--dataset twobody] [--seeds 0 1 2 3 4] [--shares 0 0.05 0.1 0.2 0.3]
                                            [--min-steps 100] [--jets 200000] [--cache FILE]

Per seed and window (a share of the planned steps, at least --min-steps, at most half the run): the first
step where the targets hold and the primary score stays within the verdict's tolerance over the window,
the primary score there and at the end of the run, and "undone": how many later scoring points fail the
targets (a pass followed by failures is the transient the window is there to reject).  Share 0 is no
window at all: the first point that meets the targets.  The trajectories are cached in --cache (JSON) so
that other windows can be tried without training again.
"""

from __future__ import annotations

import json
from pathlib import Path

from liegan.cli import Parser


def trajectory(dataset: str, seed: int, jets: int) -> dict:
    """One full default run: (step, primary score, targets met) at every scoring point, and the planned steps."""
    import tempfile

    from liegan.symmetry import score
    from liegan.trainers import resolve_config, train
    from liegan.trainers.writer import cadence
    from liegan.verdict import primary_score, target_problems

    points: list = []
    with tempfile.TemporaryDirectory() as logdir:
        over = {"train.seed": seed, "run.logdir": logdir, "run.name": "r", "train.stop_when_converged": False}
        if dataset == "topquark":
            over["data.data_dir"] = _jets(jets)
        cfg = resolve_config(dataset, overrides=over)
        planned: dict = {}

        def on_step(t) -> None:
            planned.setdefault("steps", cfg.train.epochs * t.n_batches)
            if t.global_step % cadence(planned["steps"], cfg.train.log_every):
                return
            sym = t.data.info.symmetry
            L = t.G.effective().detach().cpu().double().numpy()
            s = score(L, sym, t.G.mask.detach().cpu().numpy(), list(t.data.info.feature_names))
            name, v = primary_score(s, sym)
            planned["primary"] = name
            points.append((t.global_step, v, not target_problems(s, sym, v)))

        train(cfg, progress=False, on_step=on_step)
    return {"points": points, "planned": planned["steps"], "primary": planned["primary"]}


def _jets(n: int) -> str:
    root = Path(f"/tmp/liegan-bench/topquark-synth-{n}")
    if not (root / "topquark" / "train.h5").exists():
        from liegan.datasets.topquark_synth import synthesize

        synthesize(root / "topquark", n, seed=0, splits=("train",))
    return str(root)


def first_pass(points: list, window: int, tol: float) -> int | None:
    """Index of the first point where the targets hold and the score stays within tol over the window."""
    for i, (step, _, ok) in enumerate(points):
        if not ok or points[0][0] > step - window:
            continue
        vals = [v for s, v, _ in points[: i + 1] if s >= step - window and v is not None]
        if len(vals) > 1 and max(vals) - min(vals) <= tol:
            return i
    return None


def main() -> int:
    from liegan.verdict import TREND_TOL

    ap = Parser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="twobody")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--shares", type=float, nargs="+", default=[0.0, 0.05, 0.1, 0.2, 0.3])
    ap.add_argument("--min-steps", type=int, default=100)
    ap.add_argument("--jets", type=int, default=200_000, help="synthetic training jets for topquark")
    ap.add_argument("--cache", help="JSON file of trajectories (read when present, extended otherwise)")
    args = ap.parse_args()
    cache = Path(args.cache) if args.cache else None
    runs = json.loads(cache.read_text()) if cache and cache.exists() else {}
    for seed in args.seeds:
        key = f"{args.dataset}/{seed}"
        if key not in runs:
            runs[key] = trajectory(args.dataset, seed, args.jets)
            if cache:
                cache.write_text(json.dumps(runs))
    print(f"{args.dataset}: the test's first pass per window (share of the planned steps, >= {args.min_steps})")
    print(f"{'share':>5} {'window':>6} {'seed':>4} {'pass at':>8} {'score there':>11} {'at the end':>10} {'undone':>6}")
    for share in args.shares:
        for seed in args.seeds:
            r = runs[f"{args.dataset}/{seed}"]
            pts, planned = r["points"], r["planned"]
            window = 0 if share == 0 else min(max(args.min_steps, round(share * planned)), planned // 2)
            i = first_pass(pts, window, TREND_TOL) if window else next((k for k, p in enumerate(pts) if p[2]), None)
            end = pts[-1][1]
            if i is None:
                print(f"{share:>5} {window:>6} {seed:>4} {'never':>8} {'':>11} {end:>10.4f}")
                continue
            undone = sum(not ok for _, _, ok in pts[i + 1 :])
            print(f"{share:>5} {window:>6} {seed:>4} {pts[i][0]:>8} {pts[i][1]:>11.4f} {end:>10.4f} {undone:>6}")
    print(f"planned steps {planned}; primary score {r['primary']}; tolerance {TREND_TOL}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
