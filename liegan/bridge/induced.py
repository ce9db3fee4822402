"""The bridge: a data symmetry x -> g x induces a parameter-space move of a network trained on the data.

If the data distribution is invariant under x -> g x, the network's first layer W1 can absorb g:
theta -> g.theta with W1 -> W1 G^-1 (G = g on each of the k input components) gives
f_{g.theta}(x) = f_theta(g^-1 x); when the target transforms too (vector y), the last layer follows,
W_last -> G_y W_last, b_last -> G_y b_last, so f_{g.theta}(x) = g f_theta(g^-1 x).  For an orthogonal g
and an equivariant target the expected loss is then unchanged: the discovered generator L gives the
parameter-space generator W1 -> -W1 L (and W_last -> L W_last).

:func:`loss_invariance_error` measures how much a trained network's loss moves along each discovered
generator: a finite step, a central finite difference and the exact directional derivative (autograd).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from liegan.algebra import Algebra
from liegan.bridge.actions import Params, evaluate, params_of


@dataclass
class Task:
    """Supervised data in the dataset protocol's shapes: x (N, k, n); y (N, k_y, n) vector,
    (N, m) scalar or (N,) class.  The network sees x flattened to (N, k n)."""

    x: torch.Tensor
    y: torch.Tensor
    y_kind: str

    def __post_init__(self):
        if self.y_kind not in ("vector", "scalar", "class"):
            raise ValueError(f"the bridge needs a target; y kind {self.y_kind!r} is not one of "
                             "vector, scalar, class")

    @property
    def n_in(self) -> int:
        return int(self.x.shape[1] * self.x.shape[2])

    @property
    def n_out(self) -> int:
        if self.y_kind == "class":
            return int(self.y.max()) + 1
        return int(np.prod(self.y.shape[1:]))

    def to(self, dtype: torch.dtype) -> Task:
        y = self.y if self.y_kind == "class" else self.y.to(dtype)
        return Task(self.x.to(dtype), y, self.y_kind)

    def subset(self, idx) -> Task:
        return Task(self.x[idx], self.y[idx], self.y_kind)

    def loss(self, model: nn.Module, params: Params | None = None) -> torch.Tensor:
        """Mean squared error (vector, scalar) or cross-entropy (class) of the network on this data."""
        xf = self.x.reshape(len(self.x), -1)
        out = model(xf) if params is None else evaluate(model, params, xf)
        if self.y_kind == "class":
            return F.cross_entropy(out, self.y)
        return F.mse_loss(out, self.y.reshape(len(self.y), -1))


def linear_layers(model: nn.Module) -> tuple[str, str]:
    """Names of the first and the last nn.Linear of the network."""
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise ValueError("the network has no nn.Linear layer for the induced action to act on")
    return names[0], names[-1]


class InducedAction:
    """theta -> g.theta for g (n, n) acting on data: W1 -> W1 G^-1, and (equivariant targets)
    W_last -> G_y W_last, b_last -> G_y b_last, with G = kron(I_k, g).  A left action of the data group."""

    def __init__(self, model: nn.Module, k: int, k_out: int | None):
        self.first, self.last = linear_layers(model)
        self.k, self.k_out = k, k_out  # k_out None: the target is invariant (class, scalar)

    def transform(self, params: Params, g: torch.Tensor) -> Params:
        out = dict(params)
        eye = torch.eye(self.k, dtype=g.dtype, device=g.device)
        W1 = params[f"{self.first}.weight"]
        out[f"{self.first}.weight"] = torch.linalg.solve(torch.kron(eye, g), W1, left=False)
        if self.k_out is not None:
            Gy = torch.kron(torch.eye(self.k_out, dtype=g.dtype, device=g.device), g)
            W = out[f"{self.last}.weight"]  # already moved when first == last (a single Linear)
            out[f"{self.last}.weight"] = Gy @ W
            if f"{self.last}.bias" in params:
                out[f"{self.last}.bias"] = Gy @ params[f"{self.last}.bias"]
        return out


def induced_action(model: nn.Module, task: Task) -> InducedAction:
    k_out = int(task.y.shape[1]) if task.y_kind == "vector" else None
    return InducedAction(model, int(task.x.shape[1]), k_out)


def _loss_at(task: Task, model, action: InducedAction, theta: Params, L: torch.Tensor, t) -> torch.Tensor:
    return task.loss(model, action.transform(theta, torch.linalg.matrix_exp(t * L)))


@dataclass
class GeneratorChange:
    """How the loss moves along one generator L at the network's parameters.

    change: mean of |loss(exp(+-t L).theta) - loss(theta)|, the finite move the invariance ratio uses.
    fd: central difference (loss(+t) - loss(-t)) / 2t; derivative: exact d/dt loss at t = 0 (autograd).
    """

    change: float
    fd: float
    derivative: float


def generator_change(model: nn.Module, task: Task, L: torch.Tensor, t: float = 0.1) -> GeneratorChange:
    """Loss change along a data-space generator L (n, n) through the induced action."""
    theta = params_of(model)
    dtype = next(iter(theta.values())).dtype
    L = torch.as_tensor(L, dtype=dtype)
    act = induced_action(model, task)
    with torch.no_grad():
        l0 = float(task.loss(model, theta))
        lp = float(_loss_at(task, model, act, theta, L, t))
        lm = float(_loss_at(task, model, act, theta, L, -t))
    s = torch.zeros((), dtype=dtype, requires_grad=True)
    (d,) = torch.autograd.grad(_loss_at(task, model, act, theta, L, s), s)
    return GeneratorChange(change=(abs(lp - l0) + abs(lm - l0)) / 2, fd=(lp - lm) / (2 * t),
                           derivative=float(d))


@dataclass
class InvarianceReport:
    """Loss changes along the algebra's generators and along random generators of equal norm."""

    loss: float
    discovered: list[GeneratorChange]
    random: list[GeneratorChange] = field(default_factory=list)
    t: float = 0.1

    @property
    def ratio(self) -> float:
        """Mean loss change along random generators / mean along the discovered ones (>> 1: invariant)."""
        d = np.mean([c.change for c in self.discovered])
        r = np.mean([c.change for c in self.random]) if self.random else float("nan")
        return float(r / d) if d > 0 else float("inf")

    def to_dict(self) -> dict:
        return {"loss": self.loss, "t": self.t, "invariance_ratio": self.ratio,
                "discovered": [vars(c) for c in self.discovered], "random": [vars(c) for c in self.random]}


def loss_invariance_error(model: nn.Module, data: Task, algebra: Algebra | np.ndarray, t: float = 0.1,
                          n_random: int = 8, seed: int = 0) -> InvarianceReport:
    """How the loss of ``model`` on ``data`` moves along each generator of ``algebra`` (c, n, n), compared
    with ``n_random`` Gaussian generators rescaled to the mean Frobenius norm of the discovered ones."""
    L = torch.as_tensor(algebra.generators if isinstance(algebra, Algebra) else np.asarray(algebra),
                        dtype=torch.float64)
    n = int(data.x.shape[-1])
    if L.shape[-1] != n:
        raise ValueError(f"the algebra acts on R^{L.shape[-1]} but the data have n = {n}")
    with torch.no_grad():
        loss = float(data.loss(model))
    discovered = [generator_change(model, data, Li, t) for Li in L]
    gen = torch.Generator().manual_seed(seed)
    norm = float(L.norm(dim=(-2, -1)).mean())
    random = []
    for _ in range(n_random):
        R = torch.randn(n, n, generator=gen, dtype=torch.float64)
        random.append(generator_change(model, data, R * norm / R.norm(), t))
    return InvarianceReport(loss=loss, discovered=discovered, random=random, t=t)
