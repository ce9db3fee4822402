"""The group an algebra generates, as something to sample from (augmentation) and to constrain with
(equivariant maps).

A continuous group is its basis L (c, n, n) with a coefficient distribution: g = exp(sum_i z_i L_i) with
z ~ N(0, sigma^2) or U(-bound, bound), as LieGAN sampled it.  A discrete cyclic group (an algebra trained
with integer coefficients whose exp(L) has a finite order m) is the m powers exp(kL), k = 0..m-1: it is
sampled uniformly and enters the equivariance constraints through its generator exp(L), not through L,
since a model equivariant to the whole rotation group exp(tL) would be wrongly constrained for a target
that is only invariant under the m-fold one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from liegan.algebra import Algebra
from liegan.bridge.ensemble import coefficient_sigma
from liegan.lie import exp_map

DISTRIBUTIONS = ("normal", "uniform", "cyclic")


@dataclass
class Group:
    """generators: (c, n, n) float64 basis; distribution: 'normal' (scale = sigma), 'uniform' (scale = bound)
    or 'cyclic' (order m, one generator)."""

    generators: torch.Tensor
    distribution: str = "normal"
    scale: float = 1.0
    order: int | None = None

    def __post_init__(self):
        L = torch.as_tensor(
            np.asarray(self.generators, dtype=np.float64)
            if not isinstance(self.generators, torch.Tensor)
            else self.generators,
            dtype=torch.float64,
        )
        if L.ndim == 2:
            L = L[None]
        if L.ndim != 3 or L.shape[1] != L.shape[2] or L.shape[0] == 0:
            raise ValueError(f"generators must have shape (c, n, n) with c >= 1, got {tuple(L.shape)}")
        self.generators = L
        if self.distribution not in DISTRIBUTIONS:
            raise ValueError(f"unknown distribution {self.distribution!r}: use one of {DISTRIBUTIONS}")
        if self.distribution == "cyclic" and (L.shape[0] != 1 or not self.order or self.order < 1):
            raise ValueError("a cyclic group needs one generator and an order >= 1")

    @property
    def n(self) -> int:
        return int(self.generators.shape[-1])

    @property
    def discrete(self) -> bool:
        return self.distribution == "cyclic"

    def coefficients(self, batch: int, gen: torch.Generator | None = None) -> torch.Tensor:
        """z (batch, c): the coefficients of ``batch`` random elements (integers k for a cyclic group)."""
        c = self.generators.shape[0]
        if self.distribution == "normal":
            return self.scale * torch.randn(batch, c, generator=gen, dtype=torch.float64)
        if self.distribution == "uniform":
            return self.scale * (2 * torch.rand(batch, c, generator=gen, dtype=torch.float64) - 1)
        return torch.randint(0, self.order, (batch, 1), generator=gen).to(torch.float64)

    def sample(self, batch: int, gen: torch.Generator | None = None) -> torch.Tensor:
        """``batch`` random group elements (batch, n, n), float64."""
        return exp_map(self.coefficients(batch, gen), self.generators)

    def elements(self) -> torch.Tensor:
        """Every element (m, n, n) of a cyclic group."""
        if not self.discrete:
            raise ValueError("a continuous group has no finite list of elements")
        return exp_map(torch.arange(self.order, dtype=torch.float64)[:, None], self.generators)

    def constraints(self) -> tuple[str, torch.Tensor]:
        """('lie', L (c, n, n)) for a continuous group, ('group', exp(L) (1, n, n)) for a cyclic one: what an
        equivariant map must commute with."""
        if self.discrete:
            return "group", torch.linalg.matrix_exp(self.generators)
        return "lie", self.generators


def group_of(algebra: Algebra, order: int | None = None, sigma: float | None = None) -> Group:
    """The Group an Algebra generates with the coefficients it was trained with (algebra.json's
    'coefficients': uniform stays uniform, every other spread becomes a normal of the same sigma).
    ``order``: exp(L) is of this finite order (an integer-coefficient algebra): the cyclic group.
    ``sigma``: overrides the spread (a normal distribution of that sigma)."""
    if order is not None:
        return Group(algebra.generators, "cyclic", order=order)
    if sigma is not None:
        return Group(algebra.generators, "normal", float(sigma))
    desc = algebra.coefficients if isinstance(algebra.coefficients, dict) else {}
    if desc.get("distribution") == "uniform":
        bound = max(abs(desc.get("low", -1.0)), abs(desc.get("high", 1.0)))
        return Group(algebra.generators, "uniform", float(bound))
    return Group(algebra.generators, "normal", coefficient_sigma(algebra))
