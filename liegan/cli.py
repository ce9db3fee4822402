"""The `liegan` command line: a thin adapter over importable functions.

Each command group lives next to the code it drives and exposes ``register(subparsers)``, which adds its
parsers and sets ``func`` (args -> exit code).  Errors in user input (:class:`liegan.InputError`) are
printed as one line naming the file and the problem, with exit status 2; a run that cannot go on
(:class:`liegan.io.TrainingError`) exits with status 1.
"""

from __future__ import annotations

import argparse
import difflib
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
    "liegan.trainers.fit_cli",  # fit
]


class Parser(argparse.ArgumentParser):
    """An argument parser (and, through ``add_subparsers``, every subparser below it) that never expands
    abbreviations, whose errors are one line, and that names the option meant when one is misspelt.

    argparse's default prefix matching takes ``--epoch 3`` for ``--epochs 3`` without a word; and a
    misspelt option of a subcommand is reported by the top-level parser with the top-level usage, which
    names neither the subcommand nor the option.  Here the subcommand's own parser reports it.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args=None, namespace=None):
        ns, extras = super().parse_known_args(args, namespace)
        if extras:  # nothing here parses partially on purpose: every leftover is a mistake
            self.error(self._unrecognized(extras))
        return ns, extras

    def _unrecognized(self, extras: list[str]) -> str:
        flags = [s for a in self._actions for s in a.option_strings if s.startswith("--")]
        for arg in extras:
            word = arg.split("=", 1)[0]
            if word.startswith("-"):
                close = difflib.get_close_matches(word.replace("_", "-"), flags, n=1, cutoff=0.6)
                if close:
                    return f"unrecognized option {word}: did you mean {close[0]}?"
                return f"unrecognized option {word} (see {self.prog} --help)"
        return f"unrecognized arguments: {' '.join(extras)} (see {self.prog} --help)"

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
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
