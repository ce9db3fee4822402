"""Two-body discovery side by side with the original LieGAN code: wall time from each command's start until
its learned generator first reaches |Frobenius cosine| >= 0.99 with the true so(2).

    python benchmarks/original_twobody.py ORIGINAL_CHECKOUT [--python ORIGINAL_VENV_PYTHON]
                                          [--seeds 0 1 2 3 4] [--target 0.99] [--only original|liegan]

Both programs run as they ship, one fresh process per seed, timed from just before the process is started:
  original  its README's two-body protocol, `python main_lagan.py --g_init 2*2_factorization --lamda 1
            --sigma_init 1 --num_epochs 100 --seed S`, run from the checkout (which holds
            data/hnn/2body-orbits-dataset.pkl) with its own interpreter.  It prints the learned generator
            after every epoch; each printed matrix is timed when its last line arrives and scored here.
            The process is ended once the target is met (the remaining epochs cannot change that time).
  liegan    `liegan train --dataset twobody --seed S --quiet` (the default preset), this interpreter.  The
            time of the first TensorBoard point of Summary/similarity_to_truth at or above the target, from
            the event file's own wall-clock stamps; and the whole run.

If the original's interpreter cannot import torchvision (PyPI's wheels need torch's CUDA build, and only
its rotated-MNIST experiment uses it), empty stand-in modules are registered before main_lagan.py runs;
the script says so.  Nothing of the original's code is changed.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from original_launch import original_command, torchvision_works

from liegan.algebras import twobody_so2
from liegan.cli import Parser
from liegan.lie import frobenius_cosine

README_ARGS = ["--g_init", "2*2_factorization", "--lamda", "1", "--sigma_init", "1", "--num_epochs", "100"]
FLOAT = re.compile(r"[-+]?\d+\.?\d*(?:e[-+]?\d+)?")


def run_original(checkout: Path, python: str, seed: int, target: float, limit_s: float) -> dict:
    """Seconds from the start until a printed generator first scores >= target (NaN if never), and at which
    epoch; the process is ended then."""
    so2 = twobody_so2()
    cmd = original_command(python, [*README_ARGS, "--seed", str(seed)])
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=checkout, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    block, epoch = None, -1
    out = {"seconds": float("nan"), "epoch": None, "cos": float("nan"), "last_epoch": None}
    try:
        for line in proc.stdout:
            if line.startswith("Epoch "):
                epoch = int(line.split()[1].rstrip(":"))
            elif line.lstrip().startswith("tensor("):
                block = []
            if block is not None:
                block.append(line.split("grad_fn")[0].replace("tensor(", ""))
                if ")" in line:  # the matrix's last line: score it at this moment
                    at = time.perf_counter() - t0
                    L = np.array([float(v) for v in FLOAT.findall(" ".join(block))]).reshape(so2.shape)
                    cos = abs(frobenius_cosine(L[0], so2[0]))
                    block, out["cos"], out["last_epoch"] = None, cos, epoch
                    if cos >= target:
                        out.update(seconds=at, epoch=epoch)
                        break
            if time.perf_counter() - t0 > limit_s:
                break
    finally:
        proc.kill()
        proc.wait()
    return out


def run_liegan(seed: int, target: float, logdir: str) -> dict:
    """Seconds from the start until the first logged similarity_to_truth >= target, and the whole run."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    name = f"seed{seed}"
    cmd = [sys.executable, "-m", "liegan", "train", "--dataset", "twobody", "--seed", str(seed), "--quiet"]
    cmd += ["--logdir", logdir, "--name", name]
    t_wall, t0 = time.time(), time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    whole = time.perf_counter() - t0
    if done.returncode:
        raise SystemExit(f"liegan train failed (seed {seed}): {done.stderr.strip()[-400:]}")
    acc = EventAccumulator(str(Path(logdir) / name), size_guidance={"scalars": 0})
    acc.Reload()
    hits = [e for e in acc.Scalars("Summary/similarity_to_truth") if e.value >= target]
    first = hits[0] if hits else None
    return {
        "seconds": first.wall_time - t_wall if first else float("nan"),
        "step": first.step if first else None,
        "whole": whole,
        "converged": "Converged:" in done.stdout,
    }


def main() -> int:
    ap = Parser(description=__doc__.splitlines()[0])
    ap.add_argument("checkout", type=Path, help="the original LieGAN code (with data/hnn/2body-orbits-dataset.pkl)")
    ap.add_argument("--python", default=None, help="the original's interpreter (default CHECKOUT/.venv/bin/python)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--target", type=float, default=0.99)
    ap.add_argument("--only", choices=["original", "liegan"], default=None)
    ap.add_argument("--limit", type=float, default=600.0, help="seconds before an original run is given up")
    args = ap.parse_args()
    python = args.python or str(args.checkout / ".venv" / "bin" / "python")
    if args.only != "liegan":
        if not (args.checkout / "main_lagan.py").exists() or not Path(python).exists():
            ap.error(f"{args.checkout}: no main_lagan.py there, or no interpreter {python} (pass --python)")
        if not torchvision_works(python):
            print("original: torchvision cannot be imported by its interpreter; empty stand-ins registered")
    orig, ours = {}, {}
    with tempfile.TemporaryDirectory(prefix="liegan-side-") as logdir:
        for s in args.seeds:
            if args.only != "liegan":
                orig[s] = o = run_original(args.checkout, python, s, args.target, args.limit)
                seen = f"after epoch {o['epoch']}" if o["epoch"] is not None else f"not reached in {args.limit:g} s"
                last = f"last printed epoch {o.get('last_epoch')}, |cos| {o['cos']:.4f}"
                print(f"original seed {s}: {o['seconds']:.2f} s ({seen}; {last})", flush=True)
            if args.only != "original":
                ours[s] = run_liegan(s, args.target, logdir)
                r = ours[s]
                print(
                    f"liegan   seed {s}: {r['seconds']:.2f} s (step {r['step']}; whole run {r['whole']:.2f} s, "
                    f"{'converged' if r['converged'] else 'NOT converged'})",
                    flush=True,
                )
    print(f"\nseconds from the command's start to |cos| >= {args.target} with so(2)")
    print(f"{'seed':>6s} {'original':>9s} {'liegan':>8s} {'ratio':>7s} {'liegan whole run':>17s}")
    rows = [(s, orig.get(s, {}).get("seconds", np.nan), ours.get(s, {}).get("seconds", np.nan)) for s in args.seeds]
    for s, o, w in rows:
        whole = ours.get(s, {}).get("whole", np.nan)
        print(f"{s:>6d} {o:9.2f} {w:8.2f} {o / w:6.1f}x {whole:17.2f}")
    med_o = statistics.median(o for _, o, _ in rows)
    med_w = statistics.median(w for _, _, w in rows)
    print(f"{'median':>6s} {med_o:9.2f} {med_w:8.2f} {med_o / med_w:6.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
