"""Small file helpers shared by every writer and reader: atomic writes, JSON conversion, and the error
types for bad input and failed training."""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np


def jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays and non-finite floats to plain JSON (NaN/inf become strings)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    return obj


class InputError(Exception):
    """A user-supplied file or option is unusable.  The message names the file and the problem; the CLI
    prints it on one line and exits non-zero instead of showing a traceback."""


def byte_cap(env_var: str, default: int) -> int:
    """A size cap in bytes: ``default``, unless the environment variable ``env_var`` overrides it."""
    env = os.environ.get(env_var)
    if not env:
        return default
    try:
        return int(env)
    except ValueError:
        raise InputError(f"{env_var}: not an integer: {env!r}") from None


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
