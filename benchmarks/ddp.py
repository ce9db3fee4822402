"""Training throughput with 1 and 2 processes (DistributedDataParallel under torchrun): samples per second.

    python benchmarks/ddp.py [--nprocs 1 2] [--device cpu] [--dataset twobody] [--n-samples 40000]
                             [--batch-size B] [--weak] [--epochs 1] [--set section.key=value ...]

Each configuration is started exactly as a user would start it (``torchrun --standalone --nproc_per_node=N``)
and times the training steps on rank 0 after --warmup steps (process start, data loading and the first steps
are excluded).  ``train.batch_size`` is the global batch, so every row does the same optimisation work per
step; the samples/second column is the number to compare.  Rows with --weak also double the global batch with
the process count (each process keeps the one-process batch).

On a machine whose cores are already busy, two CPU processes can be slower than one: the steps of this
model are a few milliseconds, and the all-reduces that DDP adds cost about as much as they save.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from liegan.cli import Parser

MARK = "DDP_BENCH "


def worker(args) -> None:
    from liegan.trainers import resolve_config, train
    from liegan.trainers.configure import set_options

    overrides = {
        "data.n_samples": args.n_samples,
        "train.batch_size": args.batch_size,
        "train.epochs": args.epochs,
        "train.device": args.device,
        "run.logdir": args.logdir,
        "run.name": "bench",
        "train.checkpoint_every": 10**6,
        "train.stop_when_converged": False,  # a throughput figure: every planned step runs
    }
    overrides.update(set_options(args.set)[0])
    cfg = resolve_config(args.dataset, overrides=overrides)  # no --batch-size: the preset's
    cfg.train.batch_size *= args.batch_scale
    times: list[float] = []
    samples: list[int] = []

    def on_step(trainer):
        if trainer.device.type == "cuda":
            import torch

            torch.cuda.synchronize()
        times.append(time.perf_counter())
        start = (trainer.step_in_epoch - 1) * cfg.train.batch_size
        samples.append(min(cfg.train.batch_size, len(trainer.perm) - start))

    result = train(cfg, progress=False, on_step=on_step)
    if int(os.environ.get("RANK", "0")) == 0:
        w = min(args.warmup, len(times) - 2)
        dt = times[-1] - times[w]
        n = sum(samples[w + 1 :])
        print(
            MARK
            + json.dumps(
                {
                    "processes": int(os.environ.get("WORLD_SIZE", "1")),
                    "batch": cfg.train.batch_size,
                    "steps": len(times) - 1 - w,
                    "seconds": dt,
                    "steps_per_s": (len(times) - 1 - w) / dt,
                    "samples_per_s": n / dt,
                    "similarity": result.metrics.get("similarity_to_truth"),
                }
            ),
            flush=True,
        )


def run(nproc: int, scale: int, args) -> dict:
    with tempfile.TemporaryDirectory() as logdir:
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={nproc}",
            str(Path(__file__).resolve()),
            "--worker",
            "--logdir",
            logdir,
            "--dataset",
            args.dataset,
            "--n-samples",
            str(args.n_samples),
            "--batch-scale",
            str(scale),
            "--epochs",
            str(args.epochs),
            "--device",
            args.device,
            *(["--batch-size", str(args.batch_size)] if args.batch_size else []),
            "--warmup",
            str(args.warmup),
            *[f"--set={s}" for s in args.set],
        ]
        env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)]
    if proc.returncode != 0 or not lines:
        sys.exit(f"{nproc} process(es) failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len(MARK) :])


def main() -> None:
    ap = Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nprocs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dataset", default="twobody")
    ap.add_argument("--n-samples", type=int, default=40000)
    ap.add_argument("--batch-size", type=int, help="global batch (default: the dataset preset's)")
    ap.add_argument("--batch-scale", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=20, help="steps excluded from the timing")
    ap.add_argument("--weak", action="store_true", help="also run with the global batch scaled by the process count")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--logdir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return

    print(
        f"{args.dataset}, {args.n_samples} samples, {args.epochs} epoch(s), device {args.device}, "
        f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'processes':>9} {'global batch':>12} {'steps':>6} {'seconds':>8} {'steps/s':>8} {'samples/s':>10}")
    rows = [(n, 1) for n in args.nprocs]
    if args.weak:
        rows += [(n, n) for n in args.nprocs if n > 1]
    for nproc, scale in rows:
        r = run(nproc, scale, args)
        print(
            f"{r['processes']:>9} {r['batch']:>12} {r['steps']:>6} {r['seconds']:>8.2f} {r['steps_per_s']:>8.1f} "
            f"{r['samples_per_s']:>10.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
