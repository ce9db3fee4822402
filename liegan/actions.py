"""Group actions: how a batch of group elements g (b, n, n) moves a batch of data.

Two actions share the generator, its coefficient distributions and its regularisers:

- ``vector``: x (b, k, n), every component multiplied by g (:func:`liegan.lie.act`).
- ``grid``: images x (b, C, H, W) with H == W, acted on by 3 x 3 homogeneous matrices g (the affine group
  of the plane, algebra aff(2)): the output pixel at normalised position p = (u, v, 1) takes the input's
  value at g p, bilinearly interpolated, zero outside the image.  u runs across the width and v down the
  height, both over [-1, 1] with the outermost pixel centres at -1 and 1 (``align_corners=True``), so a
  rotation by 90 degrees maps pixel centres onto pixel centres.  Since (g . (h . I))(p) = (h . I)(g p) =
  I(h g p), applying g and then h is the action of the product g h.

Images must be square: the normalised coordinates stretch each axis to [-1, 1], so on a non-square image a
rotation of (u, v) would not be a rotation of the picture.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from liegan.algebras import AFF2_FEATURES
from liegan.lie import act

ACTIONS = ("vector", "grid")
GRID_DIM = len(AFF2_FEATURES)  # homogeneous coordinates of the plane


def act_grid(g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Resample square images x (b, C, H, W) at g applied to each pixel's coordinates.  g: (b, 3, 3)."""
    if x.ndim != 4 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"the grid action needs square images (b, C, H, H), got {tuple(x.shape)}")
    if g.shape[-2:] != (GRID_DIM, GRID_DIM):
        raise ValueError(f"the grid action needs 3 x 3 homogeneous matrices, got {tuple(g.shape)}")
    grid = F.affine_grid(g[:, :2, :].to(x.dtype), list(x.shape), align_corners=True)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def get_action(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The function (g, x) -> g . x of the named action."""
    if name == "vector":
        return act
    if name == "grid":
        return act_grid
    raise ValueError(f"unknown action {name!r} (use one of {list(ACTIONS)})")


def grid_points(size: int, dtype=torch.float64) -> torch.Tensor:
    """Homogeneous normalised coordinates (size, size, 3) of a square grid's pixel centres, [row, column]."""
    t = torch.linspace(-1.0, 1.0, size, dtype=dtype)
    v, u = torch.meshgrid(t, t, indexing="ij")
    return torch.stack([u, v, torch.ones_like(u)], dim=-1)


def grid_flow(L, size: int) -> torch.Tensor:
    """How image content moves under exp(t L) for small t > 0, per pixel: (size, size, 2) velocities (du, dv).

    The output at p samples the input at exp(tL) p, so what sat at q appears at exp(-tL) q: the content's
    velocity at q is -L q (the first two rows of L, in normalised units per unit t).
    """
    M = torch.as_tensor(L, dtype=torch.float64)
    return -(grid_points(size) @ M[:2, :].T)
