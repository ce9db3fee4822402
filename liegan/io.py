"""Small file helpers shared by every writer and reader: atomic writes, JSON conversion, and the error
types for bad input and failed training."""

from __future__ import annotations

import contextlib
import math
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays and non-finite floats to plain JSON (NaN/inf become strings)."""
    import numpy as np  # here, so that the CLI's first imports stay light (a Ctrl-C then reaches main())

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


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISLNK, "symbolic link"),
        (stat.S_ISDIR, "directory"),
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISSOCK, "socket"),
    ):
        if test(mode):
            return name
    return "special file"


def check_writable(path: str | os.PathLike, within: str | os.PathLike | None = None) -> Path:
    """``path`` if liegan may write it: missing, or a regular file (never a link, FIFO, device or folder,
    which a rename would replace), and, when ``within`` is given, inside that folder once links are
    resolved.  InputError naming the path otherwise."""
    path = Path(path)
    try:
        st = path.lstat()
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise InputError(f"{path}: cannot write here ({e.strerror or e})") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise InputError(
            f"{path}: exists and is a {_kind(st.st_mode)}; liegan replaces only regular files (choose another path)"
        )
    if within is not None and not path.parent.resolve().is_relative_to(Path(within).resolve()):
        raise InputError(f"{path}: leads out of {within} (through a link); liegan writes only inside it")
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, within: str | os.PathLike | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it over ``path`` in one step.

    A crash or exception inside the block leaves ``path`` untouched (old content or absent), never
    half-written: readers see either the previous file or the complete new one.  ``path`` must pass
    :func:`check_writable` (a link, FIFO or device there is refused, not replaced); the file gets the
    permissions the user's umask gives a new file.  A SIGKILL can leave the temporary file
    (``.<name>.*.tmp``); :func:`remove_stale_temps` clears those.
    """
    path = check_writable(path, within)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise InputError(f"{path}: cannot write here ({e.strerror or e})") from None
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600
        check_writable(path, within)  # again: something may have appeared there meanwhile
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike, text: str, within: str | os.PathLike | None = None) -> None:
    with atomic_path(path, within) as tmp:
        tmp.write_text(text, encoding="utf-8")


def remove_stale_temps(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files :func:`atomic_path` leaves in ``folder`` when a process is killed mid-write
    (call it only while holding the folder's lock, so no live writer's file goes); the paths removed."""
    gone = []
    for p in Path(folder).glob(".*.tmp"):
        if p.is_file() and not p.is_symlink():
            p.unlink(missing_ok=True)
            gone.append(p)
    return gone


LOCK_NAME = ".lock"


def lock_folder(folder: str | os.PathLike):
    """An exclusive lock on ``folder`` (a ``.lock`` file inside holding the owner's pid) while the returned
    file stays open; InputError when another process holds it.  The lock dies with its process."""
    import fcntl

    path = Path(folder) / LOCK_NAME
    check_writable(path)
    try:
        f = open(path, "a+")  # noqa: SIM115 (the open file is the lock)
    except OSError as e:
        raise InputError(f"{folder}: cannot lock the run folder ({e.strerror or e})") from None
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.seek(0)
        owner = f.read().strip() or "unknown"
        f.close()
        raise InputError(
            f"{folder}: in use by another liegan process (pid {owner}); wait for it to finish or stop it first"
        ) from None
    f.seek(0)
    f.truncate()
    f.write(f"{os.getpid()}\n")
    f.flush()
    return f
