"""The dataset protocol: every loader returns a :class:`Dataset` (tensors + :class:`DatasetInfo`).

x: (N, k, n) float32, k components that transform together.
y: None, a vector (N, k_y, n) that transforms with x, a scalar (N, m) or a class label (N,) int64.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from liegan.config import DataConfig, YKind
from liegan.io import InputError
from liegan.safe_arrays import check_float32_range
from liegan.symmetry import Symmetry

if TYPE_CHECKING:  # torch is imported by the loaders that build tensors: `liegan datasets` lists without it
    import torch

Y_KINDS = tuple(k.value for k in YKind)


@dataclass
class DatasetInfo:
    name: str
    n_dim: int
    n_components: int
    y_kind: str  # a YKind value
    feature_names: list[str]
    symmetry: Symmetry | None = None  # the known symmetry (generators, names, metric, discrete part), if any
    n_classes: int = 0
    source: str = ""  # the file read, or how the data were made
    action: str = "vector"  # how group elements act (liegan.actions): 'vector', or 'grid' for square images

    def __post_init__(self):
        self.y_kind = YKind(self.y_kind).value  # loaders may pass members; what is stored is the plain string


@dataclass
class Dataset:
    x: torch.Tensor
    y: torch.Tensor | None
    info: DatasetInfo

    def __len__(self) -> int:
        return int(self.x.shape[0])


@dataclass
class DatasetSpec:
    """A registry entry: how to load a dataset, what it is, and its presets.

    presets: {'default': overrides, 'paper': overrides, ...}, each {'section': {'field': value}} applied on
    top of the config defaults; 'default' is what `liegan train --dataset NAME` uses.
    """

    name: str
    description: str
    load: Callable[[DataConfig], Dataset]
    presets: dict[str, dict] = field(default_factory=dict)


REGISTRY: dict[str, DatasetSpec] = {}


def register(spec: DatasetSpec) -> DatasetSpec:
    REGISTRY[spec.name] = spec
    return spec


def get_spec(name: str) -> DatasetSpec:
    if name not in REGISTRY:
        raise InputError(f"unknown dataset {name!r}: choose one of {sorted(REGISTRY)} (see `liegan datasets`)")
    return REGISTRY[name]


def load_dataset(cfg: DataConfig) -> Dataset:
    return get_spec(cfg.dataset).load(cfg)


def data_root(cfg: DataConfig | None = None) -> Path:
    """Where built-in data live: --data-dir, else $LIEGAN_DATA, else the user cache directory."""
    if cfg is not None and cfg.data_dir:
        return Path(cfg.data_dir).expanduser()
    if os.environ.get("LIEGAN_DATA"):
        return Path(os.environ["LIEGAN_DATA"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    return Path(base) / "liegan"


MAX_CLASSES = 100_000  # class labels: the discriminator holds an embedding row for each


def check_arrays(x, y, y_kind: str, src: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Validate user arrays and convert them to the protocol's tensors; errors name ``src``.

    x: (N, k, n) or (N, n) numeric.  y by kind: vector (N, k_y, n) or (N, n); scalar (N,) or (N, m);
    class (N,) integers; none: ignored.
    """
    import torch

    if y_kind not in Y_KINDS:
        raise InputError(f"{src}: unknown y kind {y_kind!r} (use one of {list(Y_KINDS)})")
    x = np.asarray(x)
    if x.dtype.kind not in "fiu":
        raise InputError(f"{src}: 'x' must be numeric, got dtype {x.dtype}")
    if x.ndim == 2:
        x = x[:, None, :]
    if x.ndim != 3 or 0 in x.shape:
        raise InputError(f"{src}: 'x' must have shape (N, k, n) or (N, n) with N, k, n > 0, got {x.shape}")
    if not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).any(axis=(1, 2)).sum())
        raise InputError(f"{src}: 'x' contains NaN or inf in {bad} of {x.shape[0]} samples")
    check_float32_range(x, "x", src)
    N, _, n = x.shape
    yt = None
    if y_kind != YKind.NONE:
        if y is None:
            raise InputError(f"{src}: y kind is {y_kind!r} but the file has no 'y' array")
        y = np.asarray(y)
        if y.dtype.kind not in "fiub":
            raise InputError(f"{src}: 'y' must be numeric, got dtype {y.dtype}")
        if y.shape[:1] != (N,):
            raise InputError(f"{src}: 'y' has {y.shape[0] if y.ndim else 0} samples but 'x' has {N}")
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise InputError(f"{src}: 'y' contains NaN or inf")
        if y_kind != YKind.CLASS:
            check_float32_range(y, "y", src)
        if y_kind == YKind.VECTOR:
            if y.ndim == 2:
                y = y[:, None, :]
            if y.ndim != 3 or y.shape[2] != n:
                raise InputError(
                    f"{src}: vector 'y' must have shape (N, k, {n}) or (N, {n}) to transform with x, got {y.shape}"
                )
            yt = torch.from_numpy(y.astype(np.float32))
        elif y_kind == YKind.SCALAR:
            if y.ndim == 1:
                y = y[:, None]
            if y.ndim != 2:
                raise InputError(f"{src}: scalar 'y' must have shape (N,) or (N, m), got {y.shape}")
            yt = torch.from_numpy(y.astype(np.float32))
        else:
            if y.ndim != 1 or (y.dtype.kind == "f" and not np.all(y == np.round(y))) or (y.size and y.min() < 0):
                raise InputError(
                    f"{src}: class 'y' must be non-negative integers of shape (N,), got {y.dtype} {y.shape}"
                )
            if y.size and y.max() >= MAX_CLASSES:  # the discriminator embeds every label up to the largest
                raise InputError(f"{src}: class 'y' goes up to {y.max()}; allowed: labels 0 to {MAX_CLASSES - 1}")
            yt = torch.as_tensor(y.astype(np.int64))
    return torch.from_numpy(x.astype(np.float32)), yt
