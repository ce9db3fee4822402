"""Where the time of `liegan train` goes, from the process start to the answer: one fresh process per
dataset, timing its phases.

    python benchmarks/phases.py [--datasets twobody rotation7 topquark] [--jets 200000] [--seed 0]
                                [--check-every 10] [--set SECTION.KEY=VALUE ...]

Phases, each measured inside a new Python process (so interpreter start-up and imports count):
  imports     process start -> `liegan.trainers` imported (torch, numpy, tensorboard, ...)
  data        the dataset load inside train() (the cache read, or a simulation the first time)
  set-up      the rest of train() before the first optimiser step (models, optimisers, run folder, writer)
  to answer   first step -> the first checked step whose generators meet every convergence target of the
              verdict (liegan.verdict.target_problems: span similarity, an accepted metric, the declared
              discrete order beyond chance), checked every --check-every steps
  rest        the answer -> train() returns (the remaining epochs, final scores, verdict, export)
The verdict's own convergence (the targets and a steady trend over its window of steps, judged at every
scoring point) is printed beside it: the step since which its test has passed, and whether
train.stop_when_converged ended the run there.
Top-quark jets are synthesised once under /tmp/liegan-bench (not part of any clock).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from topquark import process_age  # benchmarks/ is this script's folder, first on sys.path

PHASES = ("imports", "data", "set-up", "to answer", "rest", "total")


def worker(dataset: str, overrides: dict, check_every: int) -> dict:
    """One run of `dataset` in this (fresh) process; the phase boundaries in seconds since its start."""
    start = time.perf_counter() - process_age()
    clock = lambda: time.perf_counter() - start  # noqa: E731
    import liegan.trainers.loop as loop
    from liegan.symmetry import score
    from liegan.trainers import resolve_config, train
    from liegan.verdict import primary_score, target_problems

    marks = {"imports": clock()}
    load = loop.load_dataset

    def timed_load(cfg):
        marks["data_start"] = clock()
        try:
            return load(cfg)
        finally:
            marks["data_end"] = clock()

    loop.load_dataset = timed_load  # instrumentation only: the same loader, timed

    def on_step(trainer) -> None:
        marks.setdefault("first_step", clock())
        if "answer" in marks or trainer.global_step % check_every:
            return
        sym = trainer.data.info.symmetry
        L = trainer.G.effective().detach().cpu().double().numpy()
        s = score(L, sym, trainer.G.mask.detach().cpu().numpy(), list(trainer.data.info.feature_names))
        if sym is not None and not target_problems(s, sym, primary_score(s, sym)[1]):
            marks.update(answer=clock(), answer_step=trainer.global_step)

    cfg = resolve_config(dataset, overrides=overrides)
    marks["train_call"] = clock()
    result = train(cfg, progress=False, on_step=on_step)
    marks["end"] = clock()
    verdict = result.algebra.verdict or {}
    marks["converged"] = bool(verdict.get("converged"))
    marks["converged_at"] = (verdict.get("context") or {}).get("converged_at")
    marks["stopped_at"] = result.metrics.get("stopped_at_step")
    marks["epochs"] = int(result.metrics.get("epochs", 0))
    return marks


def phase_row(m: dict) -> dict[str, float]:
    """Durations of PHASES from a worker's marks (NaN for an answer never reached)."""
    nan = float("nan")
    data = m["data_end"] - m["data_start"]
    answer = m.get("answer", nan)
    return {
        "imports": m["imports"],
        "data": data,
        "set-up": m["first_step"] - m["train_call"] - data,
        "to answer": answer - m["first_step"],
        "rest": m["end"] - answer,
        "total": m["end"],
    }


def verdict_words(m: dict) -> str:
    """The verdict of a worker's run: converged since which step, stopped there or after how many epochs."""
    if not m["converged"]:
        return f"NOT converged ({m['epochs']} epochs)"
    since = f" since step {m['converged_at']}" if m.get("converged_at") is not None else ""
    end = f"stopped at step {m['stopped_at']}" if m.get("stopped_at") is not None else f"{m['epochs']} epochs"
    return f"converged{since} ({end})"


def main() -> int:
    from liegan.cli import Parser
    from liegan.trainers.configure import set_options

    ap = Parser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["twobody", "rotation7", "topquark"])
    ap.add_argument("--jets", type=int, default=200_000, help="synthetic training jets for topquark")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--check-every", type=int, default=10, help="steps between checks of the targets")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    ap.add_argument("--worker", help=argparse.SUPPRESS)  # one dataset's run, in the child process
    args = ap.parse_args()
    overrides = set_options(args.set)[0] | {"train.seed": str(args.seed)}
    if args.worker:
        print(json.dumps(worker(args.worker, json.loads(os.environ["PHASES_OVERRIDES"]), args.check_every)))
        return 0

    logdir = Path("/tmp/liegan-bench/phase-runs")
    print(f"{'dataset':10s} " + " ".join(f"{p:>10s}" for p in PHASES) + "  answer at   verdict")
    for ds in args.datasets:
        over = overrides | {"run.logdir": str(logdir), "run.name": None}
        if ds == "topquark":
            root = Path(f"/tmp/liegan-bench/topquark-synth-{args.jets}")
            if not (root / "topquark" / "train.h5").exists():
                from liegan.datasets.topquark_synth import synthesize

                synthesize(root / "topquark", args.jets, seed=0, splits=("train",))
            over["data.data_dir"] = str(root)
        proc = subprocess.run(
            [sys.executable, __file__, "--worker", ds, "--check-every", str(args.check_every)],
            capture_output=True,
            text=True,
            env=os.environ | {"PHASES_OVERRIDES": json.dumps(over)},
        )
        if proc.returncode:
            print(f"{ds:10s} failed: {proc.stderr.strip().splitlines()[-1:]}")
            continue
        m = json.loads(proc.stdout.strip().splitlines()[-1])
        row = phase_row(m)
        at = f"step {m['answer_step']}" if "answer" in m else "never"
        print(f"{ds:10s} " + " ".join(f"{row[p]:10.2f}" for p in PHASES) + f"  {at:10s}  {verdict_words(m)}")
    print("seconds; 'to answer' from the first step; NaN: the targets were never met at a checked step")
    return 0


if __name__ == "__main__":
    sys.exit(main())
