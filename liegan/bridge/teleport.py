"""Symmetry teleportation (Zhao et al., NeurIPS 2022): move theta along its symmetry orbit to a point where
descent goes faster at the same loss, then keep descending.

The group parameters z (one coefficient vector per layer action) are optimised by normalised gradient
ascent (double backprop) on an objective: 'grad_norm', ||grad_theta L(g(z).theta)||^2 as in the paper, or
'lookahead', the decrease L(theta') - L(theta' - lr grad L(theta')) that one descent step of size lr makes
from theta' = g(z).theta, which is lr ||grad L||^2 - lr^2/2 grad L^T H grad L to second order: the gradient
norm discounted by the curvature along the gradient (a sharp point with a large gradient is no gain at a
step size tuned for the start).  The loss must not change: a step that moves it by more than ``loss_tol``
relative, on the data ``loss_fn`` sees, is refused.  The data-dependent action is exact only on the batch it
was built on, so the training loss elsewhere may move; the descent loop reports it.

Any object with basis(dtype) (d, n, n), element(z) and transform(params, g) is an action here: the
architecture's LayerAction subclasses, and the induced action of a discovered data algebra
(:class:`liegan.bridge.induced.AlgebraAction`, W1 -> W1 exp(-sum z_i L_i)).  A data symmetry holds for
the data distribution, not necessarily on a finite batch, so ``loss_tol`` is then the accepted change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn

from liegan.bridge.actions import Params, RescaleAction, actions_for, load_params, params_of

LossFn = Callable[[Params], torch.Tensor]


class GroupAction(Protocol):
    """What teleport() needs of an action: a Lie-algebra basis, exp of coefficients, the law on theta."""

    def basis(self, dtype=torch.float64) -> torch.Tensor: ...

    def element(self, z: torch.Tensor) -> torch.Tensor: ...

    def transform(self, params: Params, g: torch.Tensor) -> Params: ...


OBJECTIVES = ("grad_norm", "lookahead")


@dataclass
class TeleportResult:
    """One teleport, on the data its loss_fn saw: the loss before and after (equal up to loss_tol), the
    squared gradient norm and the objective before and after, and how many ascent steps were kept."""

    loss_before: float
    loss_after: float
    grad_sq_before: float
    grad_sq_after: float
    steps_taken: int
    objective_before: float = float("nan")
    objective_after: float = float("nan")

    @property
    def loss_change(self) -> float:
        """|loss after - loss before| / |loss before|."""
        return abs(self.loss_after - self.loss_before) / max(abs(self.loss_before), 1e-300)


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


def _lookahead_loss(loss_fn: LossFn, params: Params, lr: float, create_graph: bool) -> torch.Tensor:
    """L(theta - lr grad L(theta)): the loss after one descent step from ``params``."""
    params = {k: v if v.requires_grad else v.detach().requires_grad_(True) for k, v in params.items()}
    grads = torch.autograd.grad(loss_fn(params), list(params.values()), create_graph=create_graph, allow_unused=True)
    stepped = {k: v if g is None else v - lr * g for (k, v), g in zip(params.items(), grads, strict=True)}
    return loss_fn(stepped)


def _score(
    loss_fn: LossFn, params: Params, objective: str, lr: float | None, create_graph: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(loss, ||grad L||^2, objective) at ``params``; the objective is what the ascent maximises."""
    loss, gsq = _grad_sq(loss_fn, params, create_graph)
    if objective == "grad_norm":
        return loss, gsq, gsq
    return loss, gsq, loss - _lookahead_loss(loss_fn, params, lr, create_graph)


def _descent_gain(loss_fn: LossFn, params: Params, lr: float, steps: int) -> float:
    """L(theta) - L(theta after ``steps`` descent steps of size lr): what descending from here gains."""
    p = {k: v.detach() for k, v in params.items()}
    with torch.no_grad():
        loss0 = float(loss_fn(p))
    for _ in range(steps):
        p = {k: v.detach().requires_grad_(True) for k, v in p.items()}
        grads = torch.autograd.grad(loss_fn(p), list(p.values()), allow_unused=True)
        p = {k: v if g is None else v - lr * g for (k, v), g in zip(p.items(), grads, strict=True)}
    with torch.no_grad():
        gain = loss0 - float(loss_fn({k: v.detach() for k, v in p.items()}))
    return gain if gain == gain else float("-inf")


def _ascent_step(zs: list[torch.Tensor], objective: torch.Tensor, lr: float) -> bool:
    """Move every z by ``lr`` (in total norm) along the objective's gradient; False when there is none."""
    dz = torch.autograd.grad(objective, zs, allow_unused=True)
    dz = [torch.zeros_like(z) if d is None else d for z, d in zip(zs, dz, strict=True)]
    norm = torch.sqrt(sum((d**2).sum() for d in dz))
    if not torch.isfinite(norm) or norm == 0:
        return False
    with torch.no_grad():
        for z, d in zip(zs, dz, strict=True):
            z += lr * d / norm
    return True


def _rescaled_gradient_ascent(
    loss_fn: LossFn, theta: Params, actions: list[GroupAction], zs: list[torch.Tensor], steps: int, lr: float
) -> tuple[list[torch.Tensor], float, int]:
    """The 'grad_norm' ascent along the neuron rescaling without re-evaluating the network: g(z).theta is
    S(z) * theta entrywise, so its gradient is grad L(theta) / S(z), and one gradient serves every step (the
    loss is unchanged by construction).  Returns the best coefficients, their ||grad L||^2 and the steps kept."""
    ones = {k: torch.ones_like(v) for k, v in theta.items()}
    leaves = {k: v.detach().requires_grad_(True) for k, v in theta.items()}
    found = torch.autograd.grad(loss_fn(leaves), list(leaves.values()), allow_unused=True)
    grads = {k: torch.zeros_like(v) if d is None else d for (k, v), d in zip(theta.items(), found, strict=True)}

    def objective(z: list[torch.Tensor]) -> torch.Tensor:
        scale = _moved(ones, actions, z)
        return sum(((grads[k] / scale[k]) ** 2).sum() for k in grads)

    best, best_obj, taken = [z.detach().clone() for z in zs], float(objective(zs).detach()), 0
    for _ in range(steps):
        if not _ascent_step(zs, objective(zs), lr):
            break
        value = float(objective(zs).detach())
        if not value > best_obj:
            break
        best, best_obj, taken = [z.detach().clone() for z in zs], value, taken + 1
    return best, best_obj, taken


def _ascent(
    loss_fn: LossFn,
    theta: Params,
    actions,
    zs,
    steps: int,
    lr: float,
    loss_tol: float,
    objective: str,
    descent_lr,
    guard,
) -> tuple[list[torch.Tensor], float, float, int]:
    """Normalised gradient ascent on the objective from the identity's image; a step is kept while the loss stays
    within loss_tol of L(theta), the objective grows and (with a guard) so does the guarded descent's gain.
    Returns the best coefficients, their ||grad L||^2 and objective, and the steps kept."""
    loss0 = float(loss_fn(theta).detach())
    # the ascent starts from the image of the identity, which the data-dependent action does not leave in
    # place (U -> U sigma(P) sigma(P)^+ projects U onto the batch's activations when it is smaller than h)
    start = _moved(theta, actions, [z.detach() for z in zs])
    _, start_gsq, start_obj = (float(v.detach()) for v in _score(loss_fn, start, objective, descent_lr, False))
    best, best_gsq, best_obj, taken = [z.detach().clone() for z in zs], start_gsq, start_obj, 0
    best_gain = _descent_gain(loss_fn, start, descent_lr, guard) if guard else 0.0
    for _ in range(steps):
        _, _, obj = _score(loss_fn, _moved(theta, actions, zs), objective, descent_lr, True)
        if not _ascent_step(zs, obj, lr):
            break
        cand = [z.detach().clone() for z in zs]
        c_loss, c_gsq, c_obj = _score(loss_fn, _moved(theta, actions, cand), objective, descent_lr, False)
        moved_loss = abs(float(c_loss.detach()) - loss0) > loss_tol * max(abs(loss0), 1e-30)
        if moved_loss or not float(c_obj.detach()) > best_obj:
            break
        if guard:
            gain = _descent_gain(loss_fn, _moved(theta, actions, cand), descent_lr, guard)
            if not gain > best_gain:
                break
            best_gain = gain
        best, best_gsq, best_obj, taken = cand, float(c_gsq), float(c_obj.detach()), taken + 1
    return best, best_gsq, best_obj, taken


def teleport(
    model: nn.Module,
    loss_fn: LossFn,
    actions: list[GroupAction] | None = None,
    steps: int = 10,
    lr: float = 0.1,
    loss_tol: float = 1e-6,
    objective: str = "grad_norm",
    descent_lr: float | None = None,
    guard: int = 0,
    closed_form: bool = True,
) -> TeleportResult:
    """Teleport ``model`` in place.  loss_fn(params) -> scalar loss at the parameter dict ``params``.

    Each ascent step moves the group coefficients by ``lr`` (in norm) along the objective's gradient, and
    is kept only while the loss stays within ``loss_tol`` (relative) and the objective keeps growing.
    'lookahead' needs ``descent_lr``, the step size of the descent that follows.  With ``guard`` > 0 a step
    is also kept only while what ``guard`` descent steps of size descent_lr would then gain keeps growing:
    on a non-compact orbit both objectives grow without bound near points where the descent that follows
    diverges, and a few steps of it are what shows that.  'grad_norm' along the neuron rescaling alone,
    unguarded, is computed in closed form from one gradient (``closed_form=False``: by re-evaluating the
    network at every step, the same steps up to rounding).
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown teleport objective {objective!r}: use one of {', '.join(OBJECTIVES)}")
    if (objective == "lookahead" or guard) and not descent_lr:
        raise ValueError("the 'lookahead' objective and the guard need descent_lr, the step size of the descent")
    actions = actions_for(model) if actions is None else actions
    theta = {k: v.requires_grad_(False) for k, v in params_of(model).items()}
    dtype = next(iter(theta.values())).dtype
    zs = [torch.zeros(a.basis(dtype).shape[0], dtype=dtype, requires_grad=True) for a in actions]
    loss0, gsq0, obj0 = (float(v.detach()) for v in _score(loss_fn, theta, objective, descent_lr, False))
    if closed_form and objective == "grad_norm" and not guard and all(type(a) is RescaleAction for a in actions):
        best, best_gsq, taken = _rescaled_gradient_ascent(loss_fn, theta, actions, zs, steps, lr)
        best_obj = best_gsq
    else:
        best, best_gsq, best_obj, taken = _ascent(
            loss_fn, theta, actions, zs, steps, lr, loss_tol, objective, descent_lr, guard
        )
    if not taken or not best_obj > obj0:  # no gain over the start: the network stays as it was
        return TeleportResult(loss0, loss0, gsq0, gsq0, 0, obj0, obj0)
    with torch.no_grad():
        moved = _moved(theta, actions, best)
        loss1 = float(loss_fn(moved))
    if abs(loss1 - loss0) > loss_tol * max(abs(loss0), 1e-30):  # the closed form is checked here, once
        return TeleportResult(loss0, loss0, gsq0, gsq0, 0, obj0, obj0)
    load_params(model, moved)
    return TeleportResult(loss0, loss1, gsq0, best_gsq, taken, obj0, best_obj)


@dataclass
class TeleportSchedule:
    """When to teleport: at the listed steps, and every ``every`` steps when it is positive."""

    at: tuple[int, ...] = (0,)
    every: int = 0

    def due(self, step: int) -> bool:
        return step in self.at or (self.every > 0 and step % self.every == 0)
