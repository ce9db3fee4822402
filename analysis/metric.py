"""The invariant metric of an exported algebra: ``python -m liegan.analysis.metric FILE``.

Prints the singular-value spectrum, the accepted null space (every invariant direction, or a family in
words), the gap that says how well the metric is determined, the chance that random generators look as
invariant, its signature and residuals; the policy is :func:`liegan.metric.solve_metric`.
"""

from __future__ import annotations

import numpy as np

from liegan.metric import MetricResult, cosine, describe_family, solve_metric


def describe(res: MetricResult, feature_names: list[str] | None = None, declared=None) -> str:
    """The result in lines; ``declared``: a known Symmetry whose metric the accepted one is compared with."""
    lines = [
        f"{res.solve} solve: {res.message}",
        "singular values (ascending, / largest): " + ", ".join(f"{s:.3g}" for s in res.singular_values),
    ]
    if feature_names:
        lines.append("features: " + ", ".join(feature_names))
    if res.metric is not None:
        lines += [
            "J =",
            np.array2string(res.metric, precision=4, suppress_small=True),
            f"signature (+,-): {res.signature}",
            "residual per generator: " + ", ".join(f"{r:.3g}" for r in res.residuals),
        ]
        if declared is not None and declared.metric is not None:
            lines.append(
                f"|cos| with the declared metric ({declared.metric_name}): {cosine(res.metric, declared.metric):.4f}"
            )
    elif res.is_family:
        lines.append(describe_family(res.null_space, feature_names))
        for i, J in enumerate(res.null_space):
            lines += [f"basis form {i}:", np.array2string(J, precision=4, suppress_small=True)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from liegan.analysis._script import run_script
    from liegan.analysis.report import known_symmetry

    def fn(alg, args):
        return describe(solve_metric(alg.generators, mask=alg.mask), alg.feature_names, known_symmetry(alg))

    return run_script(argv, "Invariant metric of an exported algebra", fn)


if __name__ == "__main__":
    raise SystemExit(main())
