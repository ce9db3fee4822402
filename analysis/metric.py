"""The invariant metric of an exported algebra: ``python -m liegan.analysis.metric FILE``.

Prints the singular-value spectrum, the null space (every invariant direction), the gap that says how well
the metric is determined, its signature and residuals; the solver is :func:`liegan.metric.invariant_metric`.
"""

from __future__ import annotations

import numpy as np

from liegan.algebras import MINKOWSKI
from liegan.metric import MetricResult, cosine, solve_metric


def describe(res: MetricResult, feature_names: list[str] | None = None) -> str:
    lines = [res.message, "singular values (ascending, / largest): "
             + ", ".join(f"{s:.3g}" for s in res.singular_values)]
    if res.metric is not None:
        if feature_names:
            lines.append("features: " + ", ".join(feature_names))
        lines += ["J =", np.array2string(res.metric, precision=4, suppress_small=True),
                  f"signature (+,-): {res.signature}",
                  "residual per generator: " + ", ".join(f"{r:.3g}" for r in res.residuals)]
        if res.metric.shape[0] == 4:
            lines.append(f"|cos| with Minkowski diag(1,-1,-1,-1): {cosine(res.metric, MINKOWSKI):.4f}")
        for i, J in enumerate(res.null_space[1:] if res.null_dim > 1 else [], start=1):
            lines += [f"null-space direction {i}:", np.array2string(J, precision=4, suppress_small=True)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from liegan.analysis._script import run_script

    def add(p):
        p.add_argument("--tol", type=float, default=0.05,
                       help="null-space threshold (singular value / largest)")

    def fn(alg, args):
        return describe(solve_metric(alg.generators, args.tol)[0], alg.feature_names)

    return run_script(argv, "Invariant metric of an exported algebra", fn, add)


if __name__ == "__main__":
    raise SystemExit(main())
