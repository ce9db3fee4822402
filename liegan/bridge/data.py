"""What the parameter-space library needs of data, and a predictor's loss on it.

Data are any object with ``x`` (N, k, n), ``y`` and ``info.y_kind``: the dataset protocol's
``liegan.datasets.Dataset`` is the one the `liegan bridge` pipeline passes.  The library reads those
attributes and never imports the datasets package (the core imports nothing above it).
y by kind: 'vector' (N, k_y, n) transforms with x, 'scalar' (N, m), 'class' (N,) integer labels.
The network sees x flattened to (N, k n).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from liegan.bridge.actions import Params, evaluate
from liegan.config import YKind

TARGETS = (YKind.VECTOR, YKind.SCALAR, YKind.CLASS)


def y_kind(data) -> str:
    """The target's kind, checked to be one a predictor can be fitted to."""
    kind = str(data.info.y_kind)
    if kind not in TARGETS or data.y is None:
        raise ValueError(f"the bridge needs a target; y kind {kind!r} is not one of {', '.join(TARGETS)}")
    return kind


def inputs(data) -> torch.Tensor:
    """x flattened to (N, k n), the network's input."""
    return data.x.reshape(len(data.x), -1)


def n_in(data) -> int:
    return int(np.prod(data.x.shape[1:]))


def n_out(data) -> int:
    if y_kind(data) == YKind.CLASS:
        return max(int(getattr(data.info, "n_classes", 0) or 0), int(data.y.max()) + 1)
    return int(np.prod(data.y.shape[1:]))


def subset(data, idx):
    """The same data restricted to the samples ``idx`` (a slice, index tensor or mask)."""
    return dataclasses.replace(data, x=data.x[idx], y=data.y[idx])


def prediction_loss(model: nn.Module, data, params: Params | None = None) -> torch.Tensor:
    """Mean squared error (vector, scalar) or cross-entropy (class) of the network on ``data``, at the
    parameters ``params`` when given (the module's own otherwise)."""
    xf = inputs(data)
    out = model(xf) if params is None else evaluate(model, params, xf)
    if y_kind(data) == YKind.CLASS:
        return F.cross_entropy(out, data.y)
    return F.mse_loss(out, data.y.reshape(len(data.y), -1))
