"""The `liegan` command line: a thin adapter over importable functions.

Each command group lives next to the code it drives and exposes ``register(subparsers)``, which adds its
parsers and sets ``func`` (args -> exit code).  Errors in user input (:class:`liegan.InputError`) are
printed as one line naming the file and the problem, with exit status 2; a run that cannot go on
(:class:`liegan.io.TrainingError`) exits with status 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from liegan._version import __version__
from liegan.io import InputError, TrainingError

# modules providing register(subparsers); imported lazily so `liegan --help` stays fast
COMMAND_MODULES = [
    "liegan.trainers.cli",  # train, datasets, export
    "liegan.analysis.cli",  # analyze
    "liegan.datasets.cli",  # data fetch, data synth
    "liegan.bridge.cli",  # bridge
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="liegan",
        description="Discover the Lie-algebra symmetries of data (LieGAN) and put them to use.",
    )
    parser.add_argument("--version", action="version", version=f"liegan {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except InputError as e:
        print(f"liegan {args.command}: error: {e}", file=sys.stderr)
        return 2
    except TrainingError as e:
        print(f"liegan {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"liegan {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
