"""Top tagging side by side: the original LieGAN code (its README protocol) against `liegan train` defaults,
on the same jets and seed, timed from each command's start until the learned algebra first gives an
accepted invariant metric with |cos| >= 0.99 against diag(1, -1, -1, -1).

    python benchmarks/topquark_original.py --original DIR --original-python DIR/.venv/bin/python
                                           [--jets FILE] [--seed 0] [--max-epochs 20]
                                           [--liegan-set SECTION.KEY=VALUE ...]

DIR is a checkout of the original code (github.com/Rose-STL-Lab/LieGAN) with its dependencies in its own
environment (torch, numpy < 2, pandas, tables, tqdm; its star imports break on numpy >= 2).  FILE (default
DIR/data/top-tagging/train.h5, where the original reads it) is a top-tagging file in the real layout, e.g.
`liegan data synth topquark --jets 80000 --split train --seed 1 --out DIR/data/top-tagging`.

The original: `python main_lagan.py --task top_tagging --lamda 1 --g_init random --n_channel 7 --y_type
scalar --sigma_init 1 --eta 0.1 --n_component 2 --seed S` (its README command), started by a short launcher
that raises torch's print precision (its per-epoch print of the generators is the only place its algebra is
visible; the default 4 digits would blur the metric) and stands in for torchvision where it cannot be
imported.  It has no metric extraction of its own, so each printed algebra is scored with liegan's metric
policy (liegan.symmetry.score, the function training and analysis use: a rejected candidate never counts).
Its time is the moment its own per-epoch print appears, from the process start; it is stopped after the
first epoch that meets the target (or after --max-epochs).

liegan: `benchmarks/topquark.py` on the same file (the default preset, whose n_samples exceeds the file, so
every jet is used; `--liegan-set` passes options to it), which checks the same score every 50 steps and
prints the time from its process start.  When the original never reaches the target, the ratio printed is a
bound: its last print's time over liegan's.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from original_launch import original_command

TARGET = 0.99
# eight significant digits: the default four would blur the metric
PRINT_OPTIONS = "import torch; torch.set_printoptions(precision=8, sci_mode=True)\n"
PROTOCOL = "--task top_tagging --lamda 1 --g_init random --n_channel 7 --y_type scalar --sigma_init 1 --eta 0.1"
NUMBER = re.compile(r"[-+]?\d+\.\d*(?:e[-+]?\d+)?")


def run_original(directory: Path, python: str, seed: int, max_epochs: int) -> list[tuple[int, float, float]]:
    """(epoch, seconds from the process start, metric |cos| or 0 when no metric is accepted) per epoch;
    each epoch's line also gives the span similarity with so(1,3) and, for a rejected metric, why."""
    from liegan.symmetry import LORENTZ, score

    cmd = original_command(python, [*PROTOCOL.split(), "--n_component", "2", "--seed", str(seed)], PRINT_OPTIONS)
    cmd += ["--num_epochs", str(max_epochs), "--save_path", tempfile.mkdtemp(prefix="liegan-orig-")]
    rows: list[tuple[int, float, float]] = []
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=directory, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    epoch, at, numbers = None, 0.0, []
    try:
        for line in proc.stdout:
            if line.startswith("Epoch "):
                epoch, at, numbers = int(line.split()[1].rstrip(":")), time.perf_counter() - t0, []
                continue
            if epoch is None or line.startswith("Parameter"):  # the print is "Parameter containing:\ntensor(..."
                continue
            numbers += [float(v) for v in NUMBER.findall(line.split("requires_grad")[0])]
            if len(numbers) == 7 * 4 * 4:
                scores = score(np.array(numbers).reshape(7, 4, 4), LORENTZ)
                met = scores["metric"]
                rows.append((epoch + 1, at, float(met.get("cosine", 0.0)) if met["accepted"] else 0.0))
                why = f"|cos| {rows[-1][2]:.4f}" if met["accepted"] else f"no metric accepted: {met['message']}"
                line = f"  original epoch {epoch + 1:3d} printed at {at:7.2f} s: span so(1,3) "
                print(f"{line}{scores['span_similarity']:.4f}, {why}", flush=True)
                epoch, numbers = None, []
                if rows[-1][2] >= TARGET:
                    break
    finally:
        proc.kill()
        proc.wait()
    if not rows:
        raise SystemExit(f"the original printed no algebra (command: {' '.join(cmd)} in {directory})")
    return rows


def run_liegan(jets: Path, seed: int, options: list[str]) -> tuple[float, float]:
    """(seconds from the process start to |cos| >= TARGET, whole run) from benchmarks/topquark.py."""
    root = Path(tempfile.mkdtemp(prefix="liegan-sbs-"))
    (root / "topquark").mkdir()
    (root / "topquark" / "train.h5").symlink_to(jets.resolve())
    script = Path(__file__).with_name("topquark.py")
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, str(script), "--data-dir", str(root), "--seed", str(seed), *options],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    whole = time.perf_counter() - t0
    print("  " + "\n  ".join(line for line in out.splitlines() if "|cos|" in line or "verdict" in line))
    found = re.search(r"; ([\d.]+) s after this process started", out)
    return (float(found.group(1)) if found else float("nan")), whole


def main() -> int:
    from liegan.cli import Parser

    ap = Parser(description=__doc__.splitlines()[0])
    ap.add_argument("--original", required=True, type=Path, help="checkout of the original LieGAN code")
    ap.add_argument("--original-python", required=True, help="the python of the original's own environment")
    ap.add_argument("--jets", type=Path, help="top-tagging file (default ORIGINAL/data/top-tagging/train.h5)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-epochs", type=int, default=20, help="stop the original after this many epochs")
    ap.add_argument("--liegan-set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="liegan option")
    args = ap.parse_args()
    default = args.original / "data" / "top-tagging" / "train.h5"
    jets = args.jets or default
    if jets.resolve() != default.resolve():
        raise SystemExit(f"the original reads only {default}: put the jets there (or link them)")

    print(f"jets: {jets}; seed {args.seed}; target: accepted metric with |cos| >= {TARGET} vs diag(1,-1,-1,-1)")
    print("original (README protocol):")
    rows = run_original(args.original, args.original_python, args.seed, args.max_epochs)
    hit = next((r for r in rows if r[2] >= TARGET), None)
    print("liegan (train defaults" + "".join(f", {o}" for o in args.liegan_set) + "):")
    ours, whole = run_liegan(jets, args.seed, [a for o in args.liegan_set for a in ("--set", o)])
    theirs = hit[1] if hit else float("nan")
    print(f"\n{'program':10s} {'to |cos| >= 0.99':>18s}  note")
    note = f"epoch {hit[0]}'s print" if hit else f"not reached in {len(rows)} epochs"
    print(f"{'original':10s} {theirs:16.2f} s  {note}")
    print(f"{'liegan':10s} {ours:16.2f} s  whole run {whole:.1f} s")
    if hit and ours == ours:
        print(f"ratio {theirs / ours:.1f}x")
    elif ours == ours:  # only a bound: the original's time is beyond its last print
        last = rows[-1][1]
        print(f"ratio > {last / ours:.1f}x (the original had not reached it at its last print, {last:.1f} s)")
    else:
        print("ratio: n/a (liegan did not reach the target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
