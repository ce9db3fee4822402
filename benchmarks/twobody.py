"""Two-body time-to-discovery: for seeds 0..4, the training wall time and generator steps until the
learned generator first reaches |Frobenius cosine| >= 0.99 with the true so(2), and the medians.

    python benchmarks/twobody.py [--preset default|paper] [--seeds 0 1 2 3 4] [--set train.lr_g=...]

Time counts from the call to ``train`` (data loading from the cache included) to the step at which the
threshold is first met; the per-step similarity check is a 8x8 dot product and is included too.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

from liegan.algebras import twobody_so2
from liegan.cli import Parser
from liegan.lie import frobenius_cosine
from liegan.trainers import resolve_config, train
from liegan.trainers.configure import set_options


def time_to_discovery(preset: str, seed: int, overrides: dict, threshold: float, logdir: str) -> dict:
    cfg = resolve_config(
        "twobody",
        preset,
        overrides={**overrides, "train.seed": seed, "run.logdir": logdir, "run.name": f"{preset}-{seed}"},
    )
    truth = torch.as_tensor(twobody_so2()[0], dtype=torch.float32)
    hit: dict = {}
    start = time.perf_counter()

    def on_step(trainer):
        if not hit:
            L = trainer.G.effective().detach()[0].cpu()
            if abs(frobenius_cosine(L, truth)) >= threshold:
                hit.update(seconds=time.perf_counter() - start, steps=trainer.global_step)

    result = train(cfg, progress=False, on_step=on_step)
    return {
        "seed": seed,
        "time_to_discovery_s": hit.get("seconds"),
        "steps": hit.get("steps"),
        "run_s": time.perf_counter() - start,
        "final_similarity": result.metrics["similarity_to_truth"],
        "stopped_at": result.metrics.get("stopped_at_step"),  # train.stop_when_converged ended it there
        "epochs": cfg.train.epochs,
    }


def main() -> None:
    ap = Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="default")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--threshold", type=float, default=0.99)
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    args = ap.parse_args()
    overrides = set_options(args.set)[0]
    threads = resolve_config("twobody", args.preset, overrides=overrides).train.threads
    print(f"two-body, preset {args.preset!r} {overrides or ''}; torch threads {threads}")
    print(f"{'seed':>4} {'time to 0.99 (s)':>17} {'steps':>6} {'whole run (s)':>14} {'final sim':>10} {'ended at':>12}")
    rows = []
    with tempfile.TemporaryDirectory() as logdir:
        for seed in args.seeds:
            r = time_to_discovery(args.preset, seed, overrides, args.threshold, logdir)
            rows.append(r)
            t = f"{r['time_to_discovery_s']:.2f}" if r["steps"] else "not reached"
            end = f"step {r['stopped_at']}" if r["stopped_at"] is not None else f"{r['epochs']} epochs"
            steps, sim = r["steps"] or "-", r["final_similarity"]
            print(f"{seed:>4} {t:>17} {steps:>6} {r['run_s']:>14.2f} {sim:>10.4f} {end:>12}")
    hits = [r for r in rows if r["steps"]]
    if hits:
        print(
            f"median time to discovery {statistics.median(r['time_to_discovery_s'] for r in hits):.2f} s, "
            f"median steps {statistics.median(r['steps'] for r in hits):.0f} "
            f"({len(hits)}/{len(rows)} seeds reached {args.threshold})"
        )
    print(f"median whole run {statistics.median(r['run_s'] for r in rows):.2f} s")


if __name__ == "__main__":
    main()
