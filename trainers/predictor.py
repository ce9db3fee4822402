"""Fitting a small predictor, and gradient descent with symmetry teleportation on a schedule.

One way to fit a predictor (:func:`fit_predictor`, Adam, full batch) for the `liegan bridge` pipeline, the
symmetry ensembles and the tests; one descent loop (:func:`descend`, plain gradient descent or SGD) that
teleports when a :class:`~liegan.bridge.teleport.TeleportSchedule` says so.  A teleport uses either the
architecture's exact actions on the whole training set, or the data-dependent action on every pair of
consecutive layers over a few mini-batches (each no larger than the narrowest hidden layer, where that
action is exact), or any actions given (the induced action of a discovered algebra).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from liegan.bridge.actions import actions_for, data_dependent_actions, hidden_layers
from liegan.bridge.data import inputs, prediction_loss, subset
from liegan.bridge.teleport import TeleportResult, TeleportSchedule, teleport
from liegan.config import YKind
from liegan.datasets import Dataset, DatasetInfo


def labelled(x: torch.Tensor, y: torch.Tensor, y_kind: str, name: str = "in-code") -> Dataset:
    """Tensors made in code as a Dataset: x (N, k, n), y by kind (vector (N, k_y, n), scalar (N, m), class (N,))."""
    n_classes = int(y.max()) + 1 if y_kind == YKind.CLASS else 0
    info = DatasetInfo(
        name=name,
        n_dim=int(x.shape[-1]),
        n_components=int(x.shape[1]),
        y_kind=y_kind,
        feature_names=[f"x{i}" for i in range(int(x.shape[-1]))],
        n_classes=n_classes,
        source="made in code",
    )
    return Dataset(x, y, info)


def fit_predictor(
    model: nn.Module,
    train,
    steps: int,
    lr: float = 3e-3,
    test=None,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
) -> dict[str, float]:
    """Adam on the full training set for ``steps`` steps; returns the final train (and test) loss.
    on_step(step, {'train_loss': ..., 'test_loss': ...}) sees every step (test loss every 10th)."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for step in range(steps):
        opt.zero_grad()
        loss = prediction_loss(model, train)
        loss.backward()
        opt.step()
        if on_step is not None:
            values = {"train_loss": float(loss.detach())}
            if test is not None and (step % 10 == 0 or step == steps - 1):
                with torch.no_grad():
                    values["test_loss"] = float(prediction_loss(model, test))
            on_step(step, values)
    with torch.no_grad():
        out = {"train_loss": float(prediction_loss(model, train))}
        if test is not None:
            out["test_loss"] = float(prediction_loss(model, test))
    return out


@dataclass
class Teleporting:
    """How descend() teleports.  actions: 'exact' (the architecture's own, on the whole training set),
    'data' (the data-dependent action on every pair of consecutive layers, on ``batches`` mini-batches of
    ``batch_size`` samples, 0 meaning the narrowest hidden width), or a list of actions (whole set)."""

    schedule: TeleportSchedule = field(default_factory=TeleportSchedule)
    actions: str | list = "exact"
    batches: int = 1
    batch_size: int = 0
    steps: int = 20
    lr: float = 0.2
    objective: str = "grad_norm"
    loss_tol: float = 1e-6
    guard: int = 0  # > 0: keep an ascent step only while that many descent steps would gain more


@dataclass
class TeleportRecord:
    """One scheduled teleport: the result on each batch it used, and the training loss (whole set) around
    it, which the data-dependent action, exact only on its batches, may move."""

    step: int
    batches: list[TeleportResult]
    train_before: float
    train_after: float
    seconds: float


@dataclass
class Descent:
    """losses[i]: training loss (whole set) before step i; seconds[i]: training time spent by then
    (descent and teleports, not the evaluation); val_losses[i] on the validation set when one was given."""

    losses: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    val_losses: list[float] = field(default_factory=list)
    teleports: list[TeleportRecord] = field(default_factory=list)

    def steps_to(self, threshold: float) -> int | None:
        """The first step at which the training loss is at or below ``threshold`` (None if never)."""
        return next((i for i, v in enumerate(self.losses) if v <= threshold), None)

    def seconds_to(self, threshold: float) -> float | None:
        i = self.steps_to(threshold)
        return None if i is None else self.seconds[i]


def _teleport_batches(model: nn.Module, train, plan: Teleporting, gen: torch.Generator) -> list:
    """(actions, batch) pairs for one teleport, as ``plan`` asks."""
    if plan.actions != "data":
        return [(actions_for(model) if plan.actions == "exact" else plan.actions, train)]
    width = min(h for _, _, h, _ in hidden_layers(model))
    size = min(plan.batch_size or width, len(train.x))
    out = []
    for _ in range(plan.batches):
        batch = subset(train, torch.randperm(len(train.x), generator=gen)[:size])
        out.append((data_dependent_actions(model, inputs(batch)), batch))
    return out


def _teleport(model: nn.Module, train, plan: Teleporting, step: int, lr: float, gen: torch.Generator) -> TeleportRecord:
    t0 = time.perf_counter()
    with torch.no_grad():
        before = float(prediction_loss(model, train))
    results = []
    for actions, batch in _teleport_batches(model, train, plan, gen):
        results.append(
            teleport(
                model,
                lambda p, b=batch: prediction_loss(model, b, p),
                actions,
                steps=plan.steps,
                lr=plan.lr,
                loss_tol=plan.loss_tol,
                objective=plan.objective,
                guard=plan.guard,
                descent_lr=lr,
            )
        )
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        after = float(prediction_loss(model, train))
    return TeleportRecord(step, results, before, after, seconds)


def _record(run: Descent, model: nn.Module, train, val, loss: float | None, clock: float) -> float:
    """Append the training (and validation) loss at the current point; returns it."""
    with torch.no_grad():
        value = float(prediction_loss(model, train)) if loss is None else loss
        if val is not None:
            run.val_losses.append(float(prediction_loss(model, val)))
    run.losses.append(value)
    run.seconds.append(clock)
    return value


def descend(
    model: nn.Module,
    train,
    lr: float,
    steps: int,
    batch_size: int = 0,
    teleporting: Teleporting | None = None,
    val=None,
    seed: int = 0,
    on_step: Callable[[int, float], None] | None = None,
    stop_at: float | None = None,
    warmup: int = 0,
) -> Descent:
    """Gradient descent on ``train`` (SGD on batches of ``batch_size`` when positive; the batch order is a
    function of ``seed``, so runs with and without teleportation see the same batches), teleporting when
    ``teleporting.schedule`` says so.  With ``warmup`` > 0 the step size rises linearly to lr over that many
    steps.  Stops early on a non-finite loss, and once the training loss is at or below ``stop_at``."""
    gen, tgen = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1)
    run, clock = Descent(), 0.0
    for i in range(steps + 1):
        if teleporting is not None and i < steps and teleporting.schedule.due(i):
            run.teleports.append(_teleport(model, train, teleporting, i, lr, tgen))
            clock += run.teleports[-1].seconds
        t0 = time.perf_counter()
        params = dict(model.named_parameters())
        batch = train if batch_size <= 0 else subset(train, torch.randint(len(train.x), (batch_size,), generator=gen))
        loss = prediction_loss(model, batch, params)
        clock += time.perf_counter() - t0
        value = _record(run, model, train, val, float(loss.detach()) if batch_size <= 0 else None, clock)
        if on_step is not None:
            on_step(i, value)
        if i == steps or not torch.isfinite(loss) or (stop_at is not None and value <= stop_at):
            break
        t0 = time.perf_counter()
        grads = torch.autograd.grad(loss, list(params.values()))
        step = lr * min(1.0, (i + 1) / warmup) if warmup > 0 else lr
        with torch.no_grad():
            for p, g in zip(params.values(), grads, strict=True):
                p -= step * g
        clock += time.perf_counter() - t0
    return run


def linear_regression_problem(
    n: int = 6,
    h: int = 6,
    m: int = 6,
    depth: int = 3,
    samples: int = 20,
    init_scale: float = 0.1,
    seed: int = 0,
    dtype=torch.float64,
):
    """Multi-layer linear regression (W_depth ... W_1 x - y)^2 with a realisable target y = A x (as in the
    teleportation study): returns (model, data), the model a bias-free deep linear Sequential (Linear,
    Identity, Linear, ...) started near the saddle at the origin, the data a Dataset of scalar targets."""
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
    return nn.Sequential(*layers), labelled(X[:, None, :], Y, YKind.SCALAR, name="linear-regression")
