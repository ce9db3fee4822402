"""Teleportation vs plain gradient descent on multi-layer linear regression (Zhao et al., NeurIPS 2022).

    python benchmarks/teleport.py [--seeds 5] [--steps 300] [--lr 0.3]

For each seed: a 3-layer linear network (6-6-6-6, small init near the saddle at the origin), full-batch
gradient descent on the mean squared error with and without one teleport at step 0 (GL_h on both hidden
layers, maximising the decrease of the next descent step at unchanged loss, a step kept only while ten
descent steps from it would gain more).  Prints the steps each needs to reach fractions of the initial loss
and the median speed-up; also the wall time, which includes the teleport's cost.
"""

from __future__ import annotations

import copy
import statistics
import time

from liegan.cli import Parser
from liegan.trainers.predictor import Teleporting, descend, linear_regression_problem


def main() -> None:
    ap = Parser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--lr", type=float, default=0.3)
    ap.add_argument("--init-scale", type=float, default=0.03)
    ap.add_argument("--fractions", type=str, default="0.5,0.2")
    args = ap.parse_args()
    fractions = [float(f) for f in args.fractions.split(",")]
    speed = {f: [] for f in fractions}
    print(
        f"{'seed':>4} {'L0':>8} {'plain final':>12} {'tele final':>11} "
        + " ".join(f"{'steps@' + str(f) + 'L0 (plain/tele)':>26}" for f in fractions)
        + "  wall plain/tele s"
    )
    for seed in range(args.seeds):
        model, data = linear_regression_problem(seed=seed, init_scale=args.init_scale)
        twin = copy.deepcopy(model)
        t0 = time.perf_counter()
        plain = descend(model, data, args.lr, args.steps)
        t1 = time.perf_counter()
        plan = Teleporting(steps=40, objective="lookahead", guard=10)
        tele = descend(twin, data, args.lr, args.steps, teleporting=plan)
        t2 = time.perf_counter()
        cells = []
        for f in fractions:
            thr = f * plain.losses[0]
            a, b = plain.steps_to(thr), tele.steps_to(thr)
            s = (a or args.steps + 1) / max(b, 1) if b is not None else 0.0
            speed[f].append(s)
            cells.append(f"{a!s:>8} / {b!s:<8} ({s:5.2f}x)")
        print(
            f"{seed:>4} {plain.losses[0]:8.3f} {plain.losses[-1]:12.4g} {tele.losses[-1]:11.4g} "
            + " ".join(f"{c:>26}" for c in cells)
            + f"  {t1 - t0:.1f}/{t2 - t1:.1f}"
        )
    for f in fractions:
        med = statistics.median(speed[f])
        print(f"median speed-up to {f} x initial loss over {args.seeds} seeds: {med:.2f}x")


if __name__ == "__main__":
    main()
