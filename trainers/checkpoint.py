"""Checkpoints: everything needed to resume (models, optimisers, epoch, step, permutation, every RNG state,
config), written atomically and read with ``torch.load(weights_only=True)``: a checkpoint can never run code.

Two generations are kept, ``checkpoints/last.pt`` and ``checkpoints/prev.pt``.  Each file carries a SHA-256
digest of its own content (torch's zip format does not check its data: a flipped byte in a tensor loads
silently), so a truncated or corrupt ``last.pt`` is detected and :func:`load_latest` falls back to
``prev.pt`` with a warning.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import random
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

from liegan.io import InputError, atomic_path, check_writable

CHECKPOINT_DIR = Path("checkpoints")  # inside the run folder
LAST, PREV = "last.pt", "prev.pt"
REQUIRED = (
    "generator",
    "discriminator",
    "opt_g",
    "opt_d",
    "epoch",
    "step_in_epoch",
    "global_step",
    "perm",
    "recoveries",
    "rng",
    "config",
    "sums",
    "data_digest",
)


def rng_state() -> dict:
    np_state = np.random.get_state()  # noqa: NPY002 (the legacy global state is what we save)
    state = {
        "torch": torch.get_rng_state(),
        # numpy's state tuple holds an ndarray, which weights_only loading refuses: store it as a tensor
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
        "python": _to_lists(random.getstate()),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _to_lists(obj):
    return [_to_lists(v) for v in obj] if isinstance(obj, (tuple, list)) else obj


def _to_tuples(obj):
    return tuple(_to_tuples(v) for v in obj) if isinstance(obj, list) else obj


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))  # noqa: NPY002
    random.setstate(_to_tuples(state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ------------------------------------------------------------------------------------------------ digest


def digest(state: dict) -> str:
    """SHA-256 over the checkpoint's content (every tensor's dtype, shape and bytes, every plain value)."""
    h = hashlib.sha256()
    _feed(h, {k: v for k, v in state.items() if k != "digest"})
    return h.hexdigest()


def data_digest(x: torch.Tensor, y: torch.Tensor | None) -> str:
    """SHA-256 of the training data as read (x and y), so a resume can tell that a data file has changed."""
    h = hashlib.sha256()
    _feed(h, [x, y])
    return h.hexdigest()


def _feed(h, obj) -> None:
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous().reshape(-1)
        h.update(f"T{t.dtype}{tuple(obj.shape)}:".encode())
        h.update(t.view(torch.uint8).numpy().tobytes())
    elif isinstance(obj, dict):
        h.update(f"D{len(obj)}:".encode())
        for k, v in obj.items():
            h.update(f"{k!r}=".encode())
            _feed(h, v)
    elif isinstance(obj, (list, tuple)):  # the unpickler may rebuild tuples as tuples or lists alike
        h.update(f"L{len(obj)}:".encode())
        for v in obj:
            _feed(h, v)
    else:
        h.update(f"{type(obj).__name__}:{obj!r};".encode())


# ----------------------------------------------------------------------------------------- write / read


def save_checkpoint(path: Path, state: dict, keep_previous: bool = True, within: Path | None = None) -> None:
    """Write ``path`` atomically (temporary file, fsync, rename); the file it replaces becomes prev.pt.
    ``within``: the run folder, which the write must not leave through a link.

    At every instant the folder holds a complete last.pt, or (between the two renames) a complete prev.pt,
    never a partial file."""
    path = Path(path)
    state = {**state, "digest": digest(state)}
    with atomic_path(path, within) as tmp:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        if keep_previous and path.exists():
            os.replace(path, check_writable(path.with_name(PREV), within))


def load_checkpoint(path: Path) -> dict:
    """Read and verify one checkpoint file; InputError naming the file when it is unusable."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no checkpoint to resume from")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file, so not a checkpoint")
    try:
        with warnings.catch_warnings():  # torch's warnings about a foreign file would precede our one line
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # torch's message suggests loading with weights_only=False, which would run the file's code: never
        raise InputError(
            f"{path}: holds objects other than tensors and plain values, which liegan does not "
            "load (a checkpoint can never run code); it was not written by liegan"
        ) from None
    except Exception as e:  # torch raises many kinds (RuntimeError, EOFError, struct.error, ...)
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise InputError(f"{path}: unreadable checkpoint, truncated or corrupt ({msg})") from None
    if not isinstance(state, dict) or any(k not in state for k in REQUIRED):
        missing = [k for k in REQUIRED if not isinstance(state, dict) or k not in state]
        raise InputError(f"{path}: not a liegan checkpoint (missing {', '.join(missing)})")
    # every checkpoint the trainer writes carries its digest: one without it was not written by it, or edited
    if "digest" not in state:
        raise InputError(f"{path}: not a liegan checkpoint (it has no SHA-256 digest of its content)")
    if state["digest"] != digest(state):
        raise InputError(f"{path}: corrupt checkpoint (content does not match its SHA-256 digest)")
    return state


def load_latest(folder: Path, warn: bool = True) -> tuple[dict, Path]:
    """The newest usable checkpoint in ``folder`` (a run's checkpoints/ folder): last.pt, else prev.pt with a
    warning on stderr.  InputError when neither is usable."""
    folder = Path(folder)
    last, prev = folder / LAST, folder / PREV
    try:
        return load_checkpoint(last), last
    except InputError as e:
        if not prev.exists():
            raise
        first = e
    try:
        state = load_checkpoint(prev)
    except InputError as e:
        raise InputError(f"{folder}: no usable checkpoint: {first}; {e}") from None
    if warn:
        print(
            f"liegan: warning: {first}; using the previous checkpoint {prev} "
            f"(epoch {state['epoch']}, step {state['global_step']})",
            file=sys.stderr,
        )
    return state, prev
