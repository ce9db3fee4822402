"""Start-up time of the commands that do not train (none of them imports torch).

Runs each command in a fresh process, ``--repeats`` times, and prints the median wall time and the median
CPU time (user + system) of the process; on a shared machine the wall time includes waiting for a core,
the CPU time does not.  Targets: ``liegan --help`` < 1 s, ``liegan export RUN`` < 1.5 s.

    python benchmarks/startup.py [--repeats 5]

RUN is a run folder holding a 7-channel 4x4 algebra (so(1,3) and a dilation, the top-quark protocol's
shape), written by the real writer; ``analyze`` reads that folder's algebra.npz.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from liegan import Algebra
from liegan.algebras import so13
from liegan.cli import Parser

TARGETS = {"--help": 1.0, "export": 1.5}


def timed(argv: list[str]) -> tuple[float, float]:
    """(wall, cpu) seconds of one run of ``argv`` (cpu: the child's user + system time)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = Parser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    exe = shutil.which("liegan")
    if exe is None:
        raise SystemExit("the `liegan` command is not on PATH (pip install -e . first)")
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "topquark-run"
        L = np.concatenate([so13(), np.eye(4)[None]])
        Algebra(L, dataset="topquark", feature_names=["E", "px", "py", "pz"]).save(run)
        commands = {
            "--help": [exe, "--help"],
            "--version": [exe, "--version"],
            "datasets": [exe, "datasets"],
            "export": [exe, "export", str(run), "--out", str(Path(tmp) / "a.npz")],
            "runs": [exe, "runs", tmp],
            "analyze": [exe, "analyze", str(run / "algebra.npz")],
        }
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (1 min) at the start")
        print(f"{'command':12s} {'wall s':>8s} {'cpu s':>8s}  target")
        for name, argv in commands.items():
            times = [timed(argv) for _ in range(args.repeats)]
            wall = statistics.median(t[0] for t in times)
            cpu = statistics.median(t[1] for t in times)
            target = TARGETS.get(name)
            verdict = "" if target is None else f"< {target} s wall: {'met' if wall < target else 'NOT met'}"
            print(f"liegan {name:5s} {wall:8.2f} {cpu:8.2f}  {verdict}")
        print(f"load average {os.getloadavg()[0]:.1f} (1 min) at the end")


if __name__ == "__main__":
    main()
