"""Discrete symmetries of an exported algebra: ``python -m liegan.analysis.discrete FILE``.

Prints, per channel, the order of exp(L), its rotation angle and axis and the chance that a random rotation
fits as well; the maths is :mod:`liegan.discrete`.
"""

from __future__ import annotations

from liegan.discrete import (
    MAX_ORDER,
    ORDER_TOL,
    DiscreteResult,
    analyse_generator,
    angle_chance,
    axis_chance,
    discrete_analysis,
    is_integer_run,
    order_errors,
    rotation_scores,
)

__all__ = [
    "MAX_ORDER",
    "ORDER_TOL",
    "DiscreteResult",
    "analyse_generator",
    "angle_chance",
    "axis_chance",
    "discrete_analysis",
    "is_integer_run",
    "order_errors",
    "rotation_scores",
]


def main(argv: list[str] | None = None) -> int:
    from liegan.analysis._script import run_script

    def add(p):
        p.add_argument("--max-order", type=int, default=MAX_ORDER, help="largest order searched")
        p.add_argument("--tol", type=float, default=ORDER_TOL, help="||exp(kL) - I||_F / sqrt(n) threshold")

    def fn(alg, args):
        head = "" if is_integer_run(alg.coefficients) else "note: not an integer-coefficient run\n"
        res = discrete_analysis(alg.generators, alg.feature_names, args.max_order, args.tol)
        return head + "\n".join(f"channel {r.channel}: {r.message}" for r in res)

    return run_script(argv, "Order, axis and angle of exp(L) for each channel", fn, add)


if __name__ == "__main__":
    raise SystemExit(main())
