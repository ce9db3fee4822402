"""The user's own data: ``--dataset custom --data-file FILE``.

FILE is ``.npz`` or ``.h5``/``.hdf5`` (h5py datasets ``x`` and optional ``y`` at the root), read through
:mod:`liegan.safe_arrays` (object arrays refused, declared sizes checked before anything is allocated).
``x`` has shape (N, k, n) (k components that transform together) or (N, n).  ``y`` is optional; its kind
comes from ``--y-kind``:

- ``vector``: (N, k_y, n) or (N, n), transforms with x (e.g. the next state of a dynamical system);
- ``scalar``: (N,) or (N, m), invariant target;
- ``class``: (N,) non-negative integer labels;
- ``none``: y is ignored (x alone is modelled).

Without ``--y-kind``: no ``y`` in the file means ``none``; a ``y`` whose last axis has x's length n and
that is 2-D or 3-D means ``vector``; any other ``y`` is an error asking for ``--y-kind`` (scalar and class
cannot be told apart reliably).  ``n_samples`` keeps the first n samples.  The true symmetry is unknown.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from liegan.config import DataConfig, YKind
from liegan.datasets.base import Y_KINDS, Dataset, DatasetInfo, DatasetSpec, check_arrays, register
from liegan.io import InputError
from liegan.safe_arrays import npz_names, read_h5_dataset, read_npz

NPZ_SUFFIXES = (".npz",)
H5_SUFFIXES = (".h5", ".hdf5")


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    src = str(path)
    if not zipfile.is_zipfile(path):
        raise InputError(f"{src}: not a readable .npz file (not a zip archive as written by numpy.savez)")
    arrays = read_npz(path, ("x", "y"))
    if "x" not in arrays:
        raise InputError(f"{src}: no array 'x' in the file (arrays: {npz_names(path)})")
    return arrays["x"], arrays.get("y")


def _read_h5(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    import h5py  # here, not at the top: `liegan --help` imports this module

    src = str(path)
    try:
        with h5py.File(path, "r") as f:
            x, y = read_h5_dataset(f, "x", src), read_h5_dataset(f, "y", src)
            if x is None:
                raise InputError(f"{src}: no dataset 'x' in the file (top-level keys: {sorted(f.keys())})")
    except InputError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as e:
        raise InputError(f"{src}: not a readable HDF5 file ({type(e).__name__}: {e})") from None
    return x, y


def read_arrays(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """The raw ``x`` and ``y`` (or None) of a .npz or .h5/.hdf5 file; errors name the file."""
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if suffix not in NPZ_SUFFIXES + H5_SUFFIXES:
        raise InputError(f"{path}: unknown file type {suffix or '(no extension)'!r}: use .npz, .h5 or .hdf5")
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file")
    return _read_npz(path) if suffix in NPZ_SUFFIXES else _read_h5(path)


def infer_y_kind(x: np.ndarray, y: np.ndarray | None, src: str) -> str:
    """The y kind when --y-kind is not given (see the module docstring)."""
    if y is None:
        return YKind.NONE
    if x.ndim in (2, 3) and y.ndim in (2, 3) and y.shape[-1] == x.shape[-1]:
        return YKind.VECTOR
    raise InputError(
        f"{src}: cannot tell what 'y' of shape {y.shape} is for 'x' of shape {x.shape}; "
        "pass --y-kind vector|scalar|class|none"
    )


def load(cfg: DataConfig) -> Dataset:
    if not cfg.data_file:
        raise InputError("custom: --data-file is required (a .npz or .h5 file with arrays 'x' and optional 'y')")
    src = str(Path(cfg.data_file).expanduser())
    x, y = read_arrays(cfg.data_file)
    if y is not None and y.ndim == 0:
        raise InputError(f"{src}: 'y' must be an array with one entry per sample, got a scalar")
    kind = cfg.y_kind if cfg.y_kind is not None else infer_y_kind(x, y, src)
    if kind not in Y_KINDS:
        raise InputError(f"{src}: unknown y kind {kind!r} (use one of {list(Y_KINDS)})")
    if cfg.n_samples is not None:
        if not isinstance(cfg.n_samples, int) or cfg.n_samples <= 0:
            raise InputError(f"{src}: n_samples must be a positive integer, got {cfg.n_samples!r}")
        x = x[: cfg.n_samples] if x.ndim else x
        y = y[: cfg.n_samples] if y is not None else None
    xt, yt = check_arrays(x, y, kind, src)
    n_classes = int(yt.max()) + 1 if kind == YKind.CLASS else 0
    n = int(xt.shape[2])
    info = DatasetInfo(
        name="custom",
        n_dim=n,
        n_components=int(xt.shape[1]),
        y_kind=kind,
        feature_names=[f"x{i}" for i in range(n)],
        n_classes=n_classes,
        source=src,
    )
    return Dataset(x=xt, y=yt, info=info)


SPEC = register(
    DatasetSpec(
        name="custom",
        description="your own data: --data-file FILE.npz|.h5 with x (N, k, n) or (N, n) and optional y "
        "(--y-kind vector|scalar|class|none); no known symmetry",
        load=load,
        presets={"default": {"generator": {"channels": 1, "mask": "none"}}},
    )
)
