"""The shared entry point of ``python -m liegan.analysis.<script> FILE``: parse, load, run, print."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from liegan.algebra import Algebra, load_algebra
from liegan.cli import Parser
from liegan.io import InputError


def run_script(
    argv: list[str] | None,
    description: str,
    fn: Callable[[Algebra, argparse.Namespace], str],
    add_args: Callable[[argparse.ArgumentParser], None] | None = None,
) -> int:
    """Load the algebra named on the command line and print ``fn(algebra, args)``; bad input prints one
    line naming the file and exits 2."""
    parser = Parser(description=description)
    parser.add_argument("file", metavar="FILE", help="run folder, algebra.npz, .json or .pt export")
    if add_args:
        add_args(parser)
    args = parser.parse_args(argv)
    try:
        print(fn(load_algebra(args.file), args))
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
