"""`liegan analyze RUN_OR_FILE`: report.md, analysis.json and figures next to the input."""

from __future__ import annotations

import argparse

from liegan.analysis import report


def _analyze(args: argparse.Namespace) -> int:
    print(report.run(args))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "analyze",
        help="analyse a discovered algebra (reference match, closure, invariant metric, discrete order)",
        description="Write report.md, analysis.json and PNG figures next to a run folder or an exported "
        "algebra file (algebra.npz, .json or .pt) and print a short summary.",
    )
    p.add_argument("file", metavar="RUN_OR_FILE", help="run folder or exported algebra file")
    report.add_arguments(p)
    p.set_defaults(func=_analyze)
