"""Conserved quantities of gradient flow from the parameter-space symmetries.

For a linear action with generator M, Q_M(theta) = <theta, M theta> is conserved by gradient flow when M is
symmetric: for a hidden layer with identity activation all of U^T U - V V^T (h, h) is conserved, for a
homogeneous activation the per-neuron imbalance ||U[:, i]||^2 - ||V[i, :]||^2.  Gradient descent with step
lr breaks them at O(lr^2) per step while the loss moves at O(lr): the tracker below logs how far they drift.
"""

from __future__ import annotations

import torch
from torch import nn

from liegan.bridge.actions import LayerAction, Params, actions_for, params_of


def conserved_quantities(
    model: nn.Module, actions: list[LayerAction] | None = None, params: Params | None = None
) -> dict[str, torch.Tensor]:
    """{'<first>-><second>': Q} for every hidden layer whose action has a conserved quantity."""
    actions = actions_for(model) if actions is None else actions
    params = params_of(model) if params is None else params
    out = {}
    for a in actions:
        q = a.conserved(params)
        if q is not None:
            out[f"{a.first}->{a.second}"] = q.detach()
    return out


def relative_drift(q0: dict[str, torch.Tensor], q1: dict[str, torch.Tensor]) -> float:
    """|Q1 - Q0| / |Q0| over all conserved quantities together (Frobenius norms)."""
    num = sum(float(((q1[k] - q0[k]) ** 2).sum()) for k in q0)
    den = sum(float((q0[k] ** 2).sum()) for k in q0)
    return (num / den) ** 0.5 if den > 0 else float(num > 0)


class ConservationTracker:
    """Record Q at the start and log its relative drift (per layer and overall) as training goes on.

    writer: anything with ``scalars({tag: value}, step)`` (liegan.trainers.writer.RunWriter), or None.
    """

    def __init__(self, model: nn.Module, writer=None, tag: str = "conserved"):
        self.model, self.writer, self.tag = model, writer, tag
        self.actions = actions_for(model)
        self.q0 = conserved_quantities(model, self.actions)
        self.history: list[tuple[int, float]] = []

    def update(self, step: int) -> float:
        q = conserved_quantities(self.model, self.actions)
        drift = relative_drift(self.q0, q)
        self.history.append((step, drift))
        if self.writer is not None:
            layers = {f"{self.tag}/drift_{k}": relative_drift({k: self.q0[k]}, {k: q[k]}) for k in q}
            self.writer.scalars({f"{self.tag}/drift": drift, **layers}, step)
        return drift

    @property
    def max_drift(self) -> float:
        return max((d for _, d in self.history), default=0.0)
