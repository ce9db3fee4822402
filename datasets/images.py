"""Images for the grid action: ``--dataset images --data-file F.npz`` (or .h5/.hdf5), and the helpers the
digit datasets share.

``x`` has shape (N, H, W) (one channel) or (N, C, H, W), square (H == W) of any size.  ``y`` is optional:
class labels (N,) non-negative integers, or scalars (N,) / (N, m) floats; without ``--y-kind`` integer
labels of shape (N,) mean ``class`` and no ``y`` means ``none`` (anything else asks for ``--y-kind``).
Files are read through :mod:`liegan.safe_arrays` like ``--dataset custom`` files.  Intensities are divided
by the largest |x| in the file, so any unit (0..255, 0..1) trains alike.

The generator searches aff(2), 3 x 3 homogeneous matrices acting on the image grid (:mod:`liegan.actions`),
and the discriminator is convolutional.  The true symmetry of a user's images is unknown.
"""

from __future__ import annotations

import numpy as np

from liegan.algebras import AFF2_FEATURES
from liegan.config import DataConfig, YKind
from liegan.datasets.base import Dataset, DatasetInfo, DatasetSpec, check_arrays, register
from liegan.datasets.custom import read_arrays
from liegan.io import InputError
from liegan.symmetry import Symmetry

IMAGE_Y_KINDS = (YKind.CLASS.value, YKind.SCALAR.value, YKind.NONE.value)


def image_y_kind(y: np.ndarray | None, requested: str | None, src: str) -> str:
    """What y is for images: ``requested`` when given, else inferred (see the module docstring)."""
    if requested is not None:
        if requested not in IMAGE_Y_KINDS:
            raise InputError(
                f"{src}: y kind {requested!r} is not available for images (use one of {list(IMAGE_Y_KINDS)})"
            )
        return requested
    if y is None:
        return YKind.NONE
    if y.ndim == 1 and y.dtype.kind in "iu":
        return YKind.CLASS
    raise InputError(
        f"{src}: cannot tell what 'y' of shape {y.shape} ({y.dtype}) is for images; pass --y-kind class|scalar|none"
    )


def image_dataset(
    x: np.ndarray,
    y: np.ndarray | None,
    y_kind: str,
    src: str,
    name: str,
    symmetry: Symmetry | None = None,
) -> Dataset:
    """Validate images x (N, H, W) or (N, C, H, W) and their y, and wrap them for the grid action."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or 0 in x.shape:
        raise InputError(
            f"{src}: images 'x' must have shape (N, H, W) or (N, C, H, W) with no empty axis, got {x.shape}"
        )
    N, C, H, W = x.shape
    if H != W:
        raise InputError(f"{src}: images must be square (H == W) for the affine action on the grid, got {H} x {W}")
    if H < 2:
        raise InputError(f"{src}: images of {H} x {W} pixel have no grid to act on (need at least 2 x 2)")
    # check_arrays validates dtype, finiteness, float32 range and y; each image is one flat 'component' there
    flat, yt = check_arrays(x.reshape(N, 1, -1), y, y_kind, src)
    scale = float(flat.abs().max())
    images = (flat / scale if scale > 0 else flat).reshape(N, C, H, W)
    info = DatasetInfo(
        name=name,
        n_dim=len(AFF2_FEATURES),
        n_components=C,
        y_kind=y_kind,
        feature_names=list(AFF2_FEATURES),
        symmetry=symmetry,
        n_classes=int(yt.max()) + 1 if y_kind == YKind.CLASS else 0,
        source=src,
        action="grid",
    )
    return Dataset(x=images.contiguous(), y=yt, info=info)


def first_n(cfg: DataConfig, x: np.ndarray, y: np.ndarray | None, src: str):
    """The first cfg.n_samples samples (all when it is None)."""
    if cfg.n_samples is None:
        return x, y
    if not isinstance(cfg.n_samples, int) or cfg.n_samples <= 0:
        raise InputError(f"{src}: n_samples must be a positive integer, got {cfg.n_samples!r}")
    return x[: cfg.n_samples], (y[: cfg.n_samples] if y is not None else None)


def load(cfg: DataConfig) -> Dataset:
    if not cfg.data_file:
        raise InputError(
            "images: --data-file is required (a .npz or .h5 file with 'x' of shape (N, H, W) or "
            "(N, C, H, W) and optional 'y')"
        )
    x, y = read_arrays(cfg.data_file)
    src = str(cfg.data_file)
    if x.ndim == 0 or (y is not None and y.ndim == 0):
        raise InputError(f"{src}: 'x' and 'y' must be arrays with one entry per sample, not scalars")
    kind = image_y_kind(y, cfg.y_kind, src)
    x, y = first_n(cfg, x, y if kind != YKind.NONE else None, src)
    return image_dataset(x, y, kind, src, name="images")


# Same as the digits' default (datasets/rotmnist.py): one affine generator, convolutional discriminator.
DEFAULT = {
    "generator": {"channels": 1, "mask": "affine", "sigma": 1.0, "init_scale": 0.3},
    "discriminator": {"hidden": [128]},
    "train": {"lambda_id": 1.0, "batch_size": 64, "lr_g": 3e-3, "lr_d": 1e-3, "epochs": 8},
}

SPEC = register(
    DatasetSpec(
        name="images",
        description="your own square images: --data-file F.npz|.h5 with x (N, H, W) or (N, C, H, W) and optional "
        "y (labels or scalars); aff(2) acting on the image grid; no known symmetry",
        load=load,
        presets={"default": DEFAULT},
    )
)
