"""Small file helpers shared by every writer and reader: atomic writes and one error type for bad input."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


class InputError(Exception):
    """A user-supplied file or option is unusable.  The message names the file and the problem; the CLI
    prints it on one line and exits non-zero instead of showing a traceback."""


class TrainingError(Exception):
    """Training cannot go on (e.g. a non-finite loss).  The run folder keeps its last good checkpoint."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it over ``path`` in one step.

    A crash or exception inside the block leaves ``path`` untouched (old content or absent), never
    half-written: readers see either the previous file or the complete new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
