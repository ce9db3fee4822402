"""Three-body discovery: for each seed, the wall time of a whole default run (simulating or reading the
cached orbits included), the final so(2) span similarity, and the relative energy drift of the data.

    python benchmarks/threebody.py [--preset default|paper] [--seeds 0 1 2] [--set train.epochs=...]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from liegan.cli import Parser
from liegan.datasets import load_dataset
from liegan.trainers import resolve_config, train
from liegan.trainers.configure import set_options


def main() -> None:
    ap = Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="default")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    args = ap.parse_args()
    overrides = set_options(args.set)[0]
    with tempfile.TemporaryDirectory() as logdir:
        for seed in args.seeds:
            cfg = resolve_config(
                "threebody",
                args.preset,
                overrides={**overrides, "train.seed": seed, "run.logdir": logdir, "run.name": f"{args.preset}-{seed}"},
            )
            start = time.perf_counter()
            result = train(cfg, progress=False)
            print(
                f"threebody --preset {args.preset} seed {seed}: so(2) span similarity "
                f"{result.metrics['so2_span_similarity']:.5f}, {time.perf_counter() - start:.1f} s, "
                + (
                    f"stopped at step {result.metrics['stopped_at_step']} (train.stop_when_converged)"
                    if "stopped_at_step" in result.metrics
                    else f"{cfg.train.epochs} epochs"
                ),
                flush=True,
            )
    print("data:", load_dataset(cfg.data).info.source)  # read from the cache the runs made


if __name__ == "__main__":
    main()
