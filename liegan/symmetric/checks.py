"""The shipped checker of symmetric models: how far f is from equivariance (or invariance) under a group.

equivariance_error(f, x, group) = mean ||f(g x) - rho(g) f(x)||^2 / mean ||f(x)||^2 over the samples x
and random group elements g (one per sample), with rho(g) = g for a vector output and the identity for a
scalar or class output (invariance).  It is relative, so a model's scale does not count: 0 is exact,
a model that ignores the symmetry scores of the order of the relative change g brings, ~1 or more.
"""

from __future__ import annotations

import torch

from liegan.lie import act
from liegan.symmetric.group import Group


def equivariance_error(
    f, x: torch.Tensor, group: Group, vector_output: bool, seed: int = 0, absolute: bool = False
) -> float:
    """The relative error above; ``absolute``: the mean squared error itself (the EMLP paper's figure,
    MSE(f(g x), g f(x)))."""
    gen = torch.Generator().manual_seed(seed)
    g = group.sample(len(x), gen).to(device=x.device, dtype=x.dtype)
    with torch.no_grad():
        fx, fgx = f(x), f(act(g, x))
        target = act(g, fx) if vector_output else fx
        err = (fgx - target).pow(2).flatten(1).sum(1).mean()
        if absolute:
            return float(err / fx[0].numel())
        return float(err / fx.pow(2).flatten(1).sum(1).mean().clamp_min(1e-300))


def assert_equivariant(
    f, x: torch.Tensor, group: Group, vector_output: bool, tol: float = 1e-5, seed: int = 0
) -> float:
    """Raise AssertionError naming the error when f is not equivariant under ``group`` to ``tol``."""
    err = equivariance_error(f, x, group, vector_output, seed)
    if not err <= tol:
        raise AssertionError(f"relative equivariance error {err:.3g} > tol {tol:g}")
    return err
