"""The `liegan` command line: a thin adapter over importable functions.

Each command group lives next to the code it drives and exposes ``register(subparsers)``, which adds its
parsers and sets ``func`` (args -> exit code).  Errors in user input (:class:`liegan.InputError`) are
printed as one line naming the file and the problem, with exit status 2; a run that cannot go on
(:class:`liegan.io.TrainingError`) exits with status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import importlib
import os
import re
import signal
import sys
import threading

from liegan._version import __version__

# command -> (the module whose register(subparsers) adds it, its line in `liegan --help`).  Only the module
# of the command being run is imported: `liegan --help` lists the others from here, and so imports neither
# torch nor numpy.
COMMANDS = {
    "train": ("liegan.trainers.cli", "discover the symmetry algebra of a dataset"),
    "datasets": ("liegan.trainers.cli", "list the registered datasets and their presets"),
    "export": ("liegan.trainers.cli", "write a run's discovered generators as npz, json or pt"),
    "runs": ("liegan.trainers.cli", "list run folders: dataset, start, state and verdict"),
    "analyze": (
        "liegan.analysis.cli",
        "analyse a discovered algebra (reference match, closure, invariant metric, discrete order)",
    ),
    "data": ("liegan.datasets.cli", "download or synthesise dataset files (fetch, synth)"),
    "bridge": (
        "liegan.trainers.bridge_cli",
        "loss invariance, symmetry ensembles, conserved quantities and teleportation from a discovered algebra",
    ),
    "fit": (
        "liegan.trainers.fit_cli",
        "put a discovered symmetry to work: augmentation and equivariant models vs a plain one",
    ),
}


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
        bad = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if bad:  # a misspelt command or choice: name the one meant
            close = difflib.get_close_matches(bad[1], re.findall(r"'([^']*)'", bad[2]), n=1)
            message += f"; did you mean {close[0]!r}?" if close else ""
        self.exit(2, f"{self.prog}: error: {message}\n")


class _Commands(argparse._SubParsersAction):
    """The subcommands' action: each command's help line comes from COMMANDS."""

    def add_parser(self, name, **kwargs):
        if name in COMMANDS:
            kwargs["help"] = COMMANDS[name][1]
        return super().add_parser(name, **kwargs)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv``: the full parsers of the module providing its command (the first word not
    starting with '-'), a bare entry for every other command.  Without ``argv``: every command in full."""
    parser = Parser(
        prog="liegan",
        description="Discover the Lie-algebra symmetries of data (LieGAN) and put them to use.",
    )
    parser.add_argument("--version", action="version", version=f"liegan {__version__}")
    parser.register("action", "parsers", _Commands)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    words = [a for a in argv or [] if not a.startswith("-")]
    command = words[0] if words else None
    wanted = {m for name, (m, _) in COMMANDS.items() if argv is None or name == command}
    for module in dict.fromkeys(m for m, _ in COMMANDS.values()):  # each once, in the order of COMMANDS
        if module in wanted:
            importlib.import_module(module).register(sub)
    for name, (module, _) in COMMANDS.items():
        if module not in wanted:
            sub.add_parser(name, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    interrupted: list[int] = []
    with _sigint_noted(interrupted):
        try:  # a Ctrl-C at any moment, imports included, ends quietly with the shell's status for SIGINT
            return _main(argv)
        except KeyboardInterrupt:
            print("liegan: interrupted", file=sys.stderr)
            return 130
        except Exception:
            # A Ctrl-C inside a C extension's import can surface as another error (numpy's reads "ImportError:
            # PyCapsule_Import could not import module 'datetime'"): after a SIGINT, that is the interrupt.
            if not interrupted:
                raise
            print("liegan: interrupted", file=sys.stderr)
            return 130


@contextlib.contextmanager
def _sigint_noted(seen: list[int]):
    """Python's own Ctrl-C behaviour (raise KeyboardInterrupt), noting in ``seen`` that it happened."""
    own = threading.current_thread() is threading.main_thread()
    if not own or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield  # embedded, or a caller with its own handler: leave it alone
        return

    def handler(signum, frame):
        seen.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from liegan.io import InputError, TrainingError  # after parsing: `liegan --help` does not need numpy

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
    except BrokenPipeError:  # `liegan runs | head`: the reader has gone; nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python exits
        return 0


if __name__ == "__main__":
    sys.exit(main())
