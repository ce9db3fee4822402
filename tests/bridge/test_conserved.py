"""Conserved quantities: gradient descent breaks them at O(lr^2) per step, the loss moves at O(lr)."""

import numpy as np
import pytest
import torch

from liegan.bridge.actions import actions_for, mlp
from liegan.bridge.conserved import ConservationTracker, conserved_quantities, relative_drift


def _gd(activation, lr, steps=20, quantity=None):
    torch.manual_seed(0)
    model = mlp(4, [5], 3, activation).double()
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(32, 4, generator=gen, dtype=torch.float64)
    y = torch.randn(32, 3, generator=gen, dtype=torch.float64)
    loss_of = lambda: ((model(x) - y) ** 2).mean()  # noqa: E731
    measure = quantity or (lambda m: conserved_quantities(m))
    q0, l0 = measure(model), float(loss_of().detach())
    for _ in range(steps):
        model.zero_grad()
        loss_of().backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
    return relative_drift(q0, measure(model)), abs(float(loss_of().detach()) - l0)


def _slope(lrs, values):
    return float(np.polyfit(np.log(lrs), np.log(values), 1)[0])


@pytest.mark.parametrize("activation", ["identity", "relu"])
def test_q_drift_is_second_order_in_lr(activation):
    lrs = [1e-3, 2e-3, 4e-3]
    drifts, moves = zip(*(_gd(activation, lr) for lr in lrs), strict=True)
    assert 1.8 < _slope(lrs, drifts) < 2.2, (activation, drifts)
    assert 0.8 < _slope(lrs, moves) < 1.2, (activation, moves)


def test_a_non_conserved_quantity_drifts_at_first_order():
    """Negative control: ||V||^2 alone is not conserved, so the same measurement gives slope 1."""
    lrs = [1e-3, 2e-3, 4e-3]
    v_sq = lambda m: {"v": (m[0].weight ** 2).sum().detach()[None]}  # noqa: E731
    drifts = [_gd("identity", lr, quantity=v_sq)[0] for lr in lrs]
    assert 0.8 < _slope(lrs, drifts) < 1.2, drifts


def test_quantities_have_the_documented_shapes():
    model = mlp(4, [5, 6], 3, "identity").double()
    q = conserved_quantities(model)
    assert [v.shape for v in q.values()] == [(5, 5), (6, 6)]
    assert all(torch.allclose(v, v.T) for v in q.values())
    relu = mlp(4, [5], 3, "relu").double()
    (d,) = conserved_quantities(relu).values()
    U, V, b = relu[2].weight, relu[0].weight, relu[0].bias
    assert torch.allclose(d, ((U**2).sum(0) - (V**2).sum(1) - b**2).detach())
    assert conserved_quantities(mlp(4, [5], 3, "radial")) == {}


def test_tracker_logs_to_tensorboard(tmp_path):
    from liegan.trainers.predictor import labelled
    from liegan.trainers.writer import RunWriter

    model = mlp(4, [5], 3, "relu").double()
    info = labelled(torch.zeros(1, 1, 4), torch.zeros(1, 1), "scalar").info
    writer = RunWriter(tmp_path, info, every=1)
    tracker = ConservationTracker(model, writer)
    assert len(tracker.actions) == len(actions_for(model)) == 1
    with torch.no_grad():
        model[0].weight.mul_(1.1)
    d = tracker.update(1)
    writer.close()
    assert d > 0 and tracker.max_drift == d
    assert list(tmp_path.glob("events.out.tfevents.*"))
    with torch.no_grad():
        model[0].weight.div_(1.1)
    assert tracker.update(2) < 1e-12 and tracker.max_drift == d
