"""Discriminators: an MLP on (flatten x, flatten y), or on (flatten x, label embedding) for class labels.

The published architecture is the default config: hidden [512, 512], LeakyReLU(0.2), one output.  The
module returns logits; the loss applies the sigmoid (BCE with logits is the numerically stable form of the
paper's sigmoid + BCE).
"""

from __future__ import annotations

import torch
from torch import nn

from liegan.config import DiscriminatorConfig


class Discriminator(nn.Module):
    def __init__(self, x_shape: tuple[int, ...], y_kind: str, y_shape: tuple[int, ...] = (), n_classes: int = 0,
                 cfg: DiscriminatorConfig | None = None):
        """x_shape: (k, n) per sample; y_shape: per-sample shape of y (vector/scalar); n_classes for 'class'."""
        super().__init__()
        cfg = cfg or DiscriminatorConfig()
        self.y_kind = y_kind
        in_dim = int(torch.tensor(x_shape).prod())
        if y_kind == "class":
            self.embed = nn.Embedding(max(n_classes, 1), cfg.embed_dim)
            in_dim += cfg.embed_dim
        elif y_kind in ("vector", "scalar"):
            in_dim += int(torch.tensor(y_shape).prod())
        layers: list[nn.Module] = []
        for width in cfg.hidden:
            layers += [nn.Linear(in_dim, width), nn.LeakyReLU(cfg.negative_slope)]
            in_dim = width
        layers.append(nn.Linear(in_dim, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """x: (b, k, n); y: (b, ...) or labels (b,).  Returns logits (b,)."""
        parts = [x.flatten(1)]
        if self.y_kind == "class":
            parts.append(self.embed(y))
        elif self.y_kind in ("vector", "scalar"):
            parts.append(y.flatten(1))
        return self.net(torch.cat(parts, dim=1)).squeeze(-1)
