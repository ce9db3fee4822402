"""Symmetry teleportation (Zhao et al., NeurIPS 2022): move theta along its symmetry orbit to a point of
larger ||grad L||^2 at the same loss, then keep descending.

The group parameters z (one coefficient vector per layer action) are optimised by normalised gradient
ascent on ||grad_theta L(g(z).theta)||^2 (double backprop); the actions are exact, so the loss does not
change (checked: a step that moves the loss by more than ``loss_tol`` relative is refused).

Any object with basis(dtype) (d, n, n), element(z) and transform(params, g) is an action here: the
architecture's LayerAction subclasses, and the induced action of a discovered data algebra
(:class:`liegan.bridge.induced.AlgebraAction`, W1 -> W1 exp(-sum z_i L_i)).  A data symmetry holds for
the data distribution, not necessarily on a finite batch, so ``loss_tol`` is then the accepted change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import nn

from liegan.bridge.actions import Params, actions_for, load_params, params_of

LossFn = Callable[[Params], torch.Tensor]


class GroupAction(Protocol):
    """What teleport() needs of an action: a Lie-algebra basis, exp of coefficients, the law on theta."""

    def basis(self, dtype=torch.float64) -> torch.Tensor: ...

    def element(self, z: torch.Tensor) -> torch.Tensor: ...

    def transform(self, params: Params, g: torch.Tensor) -> Params: ...


@dataclass
class TeleportResult:
    loss_before: float
    loss_after: float
    grad_sq_before: float
    grad_sq_after: float
    steps_taken: int


def _moved(theta: Params, actions: list[GroupAction], zs: list[torch.Tensor]) -> Params:
    p = theta
    for a, z in zip(actions, zs, strict=True):
        p = a.transform(p, a.element(z))
    return p


def _grad_sq(loss_fn: LossFn, params: Params, create_graph: bool) -> tuple[torch.Tensor, torch.Tensor]:
    # entries no action moves are constants of z but still count in ||grad L||^2: make them leaves
    params = {k: v if v.requires_grad else v.detach().requires_grad_(True) for k, v in params.items()}
    loss = loss_fn(params)
    grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph, allow_unused=True)
    return loss, sum((g**2).sum() for g in grads if g is not None)


def _descent_gain(loss_fn: LossFn, params: Params, lr: float, lookahead: int) -> float:
    """L(theta) - L(theta after ``lookahead`` descent steps of size lr): what descending from here gains."""
    p = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    loss0 = None
    for _ in range(lookahead):
        loss = loss_fn(p)
        loss0 = float(loss.detach()) if loss0 is None else loss0
        grads = torch.autograd.grad(loss, list(p.values()), allow_unused=True)
        with torch.no_grad():
            p = {k: (v - lr * g if g is not None else v).requires_grad_(True)
                 for (k, v), g in zip(p.items(), grads, strict=True)}
    with torch.no_grad():
        gain = loss0 - float(loss_fn(p))
    return gain if gain == gain else float("-inf")


def teleport(model: nn.Module, loss_fn: LossFn, actions: list[GroupAction] | None = None, steps: int = 10,
             lr: float = 0.1, loss_tol: float = 1e-6, descent_lr: float | None = None,
             lookahead: int = 10) -> TeleportResult:
    """Teleport ``model`` in place.  loss_fn(params) -> scalar loss at the parameter dict ``params``.

    Each ascent step moves the group coefficients by ``lr`` (in norm) along the gradient of ||grad L||^2.
    With ``descent_lr`` (the step size of the descent that follows) a step is kept only while the decrease
    that ``lookahead`` descent steps would then make keeps growing: on a non-compact orbit ||grad L||^2 is
    unbounded, and so is the curvature that comes with it (which gradient descent then conserves).
    """
    actions = actions_for(model) if actions is None else actions
    theta = {k: v.requires_grad_(False) for k, v in params_of(model).items()}
    dtype = next(iter(theta.values())).dtype
    zs = [torch.zeros(a.basis(dtype).shape[0], dtype=dtype, requires_grad=True) for a in actions]
    p0 = {k: v.clone().requires_grad_(True) for k, v in theta.items()}
    loss0, gsq0 = _grad_sq(loss_fn, p0, create_graph=False)
    loss0, gsq0 = float(loss0.detach()), float(gsq0)
    best, best_gsq, taken = [z.detach().clone() for z in zs], gsq0, 0
    best_gain = _descent_gain(loss_fn, theta, descent_lr, lookahead) if descent_lr else 0.0
    for _ in range(steps):
        loss, gsq = _grad_sq(loss_fn, _moved(theta, actions, zs), create_graph=True)
        dz = torch.autograd.grad(gsq, zs, allow_unused=True)
        dz = [torch.zeros_like(z) if d is None else d for z, d in zip(zs, dz, strict=True)]
        norm = torch.sqrt(sum((d**2).sum() for d in dz))
        if not torch.isfinite(norm) or norm == 0:
            break
        with torch.no_grad():
            for z, d in zip(zs, dz, strict=True):
                z += lr * d / norm
        cand = [z.detach().clone() for z in zs]
        c_params = {k: v.detach().requires_grad_(True) for k, v in _moved(theta, actions, cand).items()}
        c_loss, c_gsq = _grad_sq(loss_fn, c_params, create_graph=False)
        moved_loss = abs(float(c_loss.detach()) - loss0) > loss_tol * max(abs(loss0), 1e-30)
        if moved_loss or not float(c_gsq) > best_gsq:
            break
        if descent_lr:
            gain = _descent_gain(loss_fn, c_params, descent_lr, lookahead)
            if not gain > best_gain:
                break
            best_gain = gain
        best, best_gsq, taken = cand, float(c_gsq), taken + 1
    with torch.no_grad():
        load_params(model, _moved(theta, actions, best))
    loss1 = float(loss_fn({k: v.detach() for k, v in model.named_parameters()}))
    return TeleportResult(loss0, loss1, gsq0, best_gsq, taken)


@dataclass
class TeleportSchedule:
    """When to teleport: at the listed steps and/or every ``every`` steps, at most ``max_count`` times."""

    every: int | None = None
    at: tuple[int, ...] = (0,)
    max_count: int | None = None
    done: int = field(default=0, init=False)

    def due(self, step: int) -> bool:
        if self.max_count is not None and self.done >= self.max_count:
            return False
        hit = step in self.at or (self.every is not None and self.every > 0 and step % self.every == 0)
        self.done += int(hit)
        return hit


@dataclass
class Descent:
    losses: list[float]
    teleports: list[tuple[int, TeleportResult]]

    def steps_to(self, threshold: float) -> int | None:
        """The first step at which the loss is at or below ``threshold`` (None if never)."""
        return next((i for i, v in enumerate(self.losses) if v <= threshold), None)


def descend(model: nn.Module, loss_fn: LossFn, lr: float, steps: int,
            schedule: TeleportSchedule | None = None, teleport_kw: dict | None = None,
            on_step: Callable[[int, float], None] | None = None,
            actions: list[GroupAction] | None = None) -> Descent:
    """Plain gradient descent on loss_fn (full batch), teleporting when ``schedule`` says so, along
    ``actions`` (default: the architecture's, :func:`actions_for`).

    losses[i] is the loss before step i (losses[0] at the start, after a step-0 teleport)."""
    actions = actions_for(model) if actions is None else actions
    losses, teleports = [], []
    for i in range(steps + 1):
        if schedule is not None and i < steps and schedule.due(i):
            teleports.append((i, teleport(model, loss_fn, actions, **(teleport_kw or {}))))
        params = dict(model.named_parameters())
        loss = loss_fn(params)
        losses.append(float(loss.detach()))
        if on_step is not None:
            on_step(i, losses[-1])
        if i == steps or not torch.isfinite(loss):
            break
        grads = torch.autograd.grad(loss, list(params.values()))
        with torch.no_grad():
            for p, g in zip(params.values(), grads, strict=True):
                p -= lr * g
    return Descent(losses, teleports)


def linear_regression_problem(n: int = 6, h: int = 6, m: int = 6, depth: int = 3, samples: int = 20,
                              init_scale: float = 0.1, seed: int = 0, dtype=torch.float64):
    """Multi-layer linear regression ||W_depth ... W_1 X - Y||^2 / samples with a realisable target
    Y = A X (as in the teleportation study): returns (model, loss_fn), the model a bias-free deep linear
    Sequential (Linear, Identity, Linear, ...) started near the saddle at the origin."""
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(samples, n, generator=gen, dtype=dtype)
    Y = X @ torch.randn(n, m, generator=gen, dtype=dtype) / n**0.5
    widths = [n, *([h] * (depth - 1)), m]
    layers: list[nn.Module] = []
    for i in range(depth):
        lin = nn.Linear(widths[i], widths[i + 1], bias=False).to(dtype)
        with torch.no_grad():
            lin.weight.copy_(init_scale * torch.randn(widths[i + 1], widths[i], generator=gen, dtype=dtype))
        layers.append(lin)
        if i < depth - 1:
            layers.append(nn.Identity())
    model = nn.Sequential(*layers)

    def loss_fn(params: Params) -> torch.Tensor:
        out = X
        for i in range(depth):
            out = out @ params[f"{2 * i}.weight"].T
        return ((out - Y) ** 2).sum() / samples

    return model, loss_fn
