"""Discriminators: an MLP on (flatten x, flatten y), or on (flatten x, label embedding) for class labels;
for images, the same head on the features of a convolutional trunk.

The published architecture is the default config: hidden [512, 512], LeakyReLU(0.2), one output.  The
module returns logits; the loss applies the sigmoid (BCE with logits is the numerically stable form of the
paper's sigmoid + BCE).
"""

from __future__ import annotations

import torch
from torch import nn

from liegan.config import DiscriminatorConfig, YKind


class Discriminator(nn.Module):
    def __init__(
        self,
        x_shape: tuple[int, ...],
        y_kind: str,
        y_shape: tuple[int, ...] = (),
        n_classes: int = 0,
        cfg: DiscriminatorConfig | None = None,
        trunk: nn.Module | None = None,
    ):
        """x_shape: (k, n) per sample; y_shape: per-sample shape of y (vector/scalar); n_classes for 'class'.

        trunk: maps x (b, *x_shape) to features (b, d) before the head (default: flatten x).
        """
        super().__init__()
        cfg = cfg or DiscriminatorConfig()
        self.y_kind = y_kind
        self.trunk = trunk if trunk is not None else nn.Flatten(1)
        with torch.no_grad():  # the head's input width, whatever the trunk does to the image size
            in_dim = int(self.trunk(torch.zeros(1, *x_shape)).shape[1])
        if y_kind == YKind.CLASS:
            self.embed = nn.Embedding(max(n_classes, 1), cfg.embed_dim)
            in_dim += cfg.embed_dim
        elif y_kind in (YKind.VECTOR, YKind.SCALAR):
            in_dim += int(torch.tensor(y_shape).prod())
        layers: list[nn.Module] = []
        for width in cfg.hidden:
            layers += [nn.Linear(in_dim, width), nn.LeakyReLU(cfg.negative_slope)]
            in_dim = width
        layers.append(nn.Linear(in_dim, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """x: (b, *x_shape); y: (b, ...) or labels (b,).  Returns logits (b,)."""
        parts = [self.trunk(x)]
        if self.y_kind == YKind.CLASS:
            parts.append(self.embed(y))
        elif self.y_kind in (YKind.VECTOR, YKind.SCALAR):
            parts.append(y.flatten(1))
        return self.net(torch.cat(parts, dim=1)).squeeze(-1)


def conv_trunk(channels_in: int, cfg: DiscriminatorConfig) -> nn.Sequential:
    """An optional box blur (``cfg.blur``), then 3 x 3 convolutions of widths ``cfg.conv_channels``, each
    halving the image (stride 2), LeakyReLU after each, flattened: spatial layout survives into the head,
    which is what tells a rotated digit from an upright one (a global average pool would discard where the
    strokes are)."""
    layers: list[nn.Module] = []
    if cfg.blur > 1:
        layers.append(nn.AvgPool2d(cfg.blur, stride=1, padding=cfg.blur // 2, count_include_pad=False))
    for width in cfg.conv_channels:
        layers += [nn.Conv2d(channels_in, width, 3, stride=2, padding=1), nn.LeakyReLU(cfg.negative_slope)]
        channels_in = width
    return nn.Sequential(*layers, nn.Flatten(1))


def build_discriminator(
    action: str,
    x_shape: tuple[int, ...],
    y_kind: str,
    y_shape: tuple[int, ...] = (),
    n_classes: int = 0,
    cfg: DiscriminatorConfig | None = None,
) -> Discriminator:
    """The discriminator for data acted on by ``action`` (liegan.actions): convolutional for the 'grid'
    action on images x_shape = (C, H, W), the MLP otherwise."""
    cfg = cfg or DiscriminatorConfig()
    trunk = conv_trunk(x_shape[0], cfg) if action == "grid" else None
    return Discriminator(x_shape, y_kind, y_shape, n_classes, cfg, trunk=trunk)
