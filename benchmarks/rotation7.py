"""rotation7 (C7 about x3): for each seed, a whole default run's wall time, the order exp(L) was found to
have, its angle error from a multiple of 2 pi / 7 (the verdict's primary score; tolerance 0.1 rad) and axis
error, and where the run ended.

    python benchmarks/rotation7.py [--seeds 0 1 2 3 4 5] [--set train.stop_when_converged=true ...]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from liegan.cli import Parser
from liegan.trainers import resolve_config, train
from liegan.trainers.configure import set_options


def main() -> None:
    ap = Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5])
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    args = ap.parse_args()
    overrides = set_options(args.set)[0]
    print(f"{'seed':>4} {'order':>5} {'angle error':>11} {'axis error':>10} {'ended at':>18} {'wall s':>7}  verdict")
    with tempfile.TemporaryDirectory() as logdir:
        for seed in args.seeds:
            over = {**overrides, "train.seed": seed, "run.logdir": logdir, "run.name": f"r7-{seed}"}
            cfg = resolve_config("rotation7", overrides=over)
            start = time.perf_counter()
            result = train(cfg, progress=False)
            wall = time.perf_counter() - start
            m, v = result.metrics, result.algebra.verdict
            stop = m.get("stopped_at_step")
            ended = f"step {stop} (stopped)" if stop is not None else f"{m['epochs']} epochs"
            print(
                f"{seed:>4} {m.get('discrete_order', 0):>5.0f} {m.get('discrete_angle_error', float('nan')):>11.4f} "
                f"{m.get('discrete_axis_error', float('nan')):>10.4f} {ended:>18} {wall:>7.1f}  "
                f"{'converged' if v['converged'] else 'NOT converged'}",
                flush=True,
            )


if __name__ == "__main__":
    main()
