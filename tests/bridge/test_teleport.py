"""Teleportation keeps the loss, raises ||grad L||^2, and speeds up descent on deep linear regression."""

import copy

import torch

from liegan.bridge.teleport import TeleportSchedule, descend, linear_regression_problem, teleport


def test_teleport_keeps_loss_and_raises_gradient():
    model, loss_fn = linear_regression_problem(seed=0)
    res = teleport(model, loss_fn, steps=10, lr=0.2)
    assert abs(res.loss_after - res.loss_before) <= 1e-10 * res.loss_before
    assert res.grad_sq_after > 10 * res.grad_sq_before and res.steps_taken > 0


def test_teleport_refuses_a_loss_changing_move():
    """Negative control: with loss_tol below rounding no step is accepted, and nothing moves."""
    model, loss_fn = linear_regression_problem(seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    res = teleport(model, loss_fn, steps=5, lr=0.2, loss_tol=-1.0)
    assert res.steps_taken == 0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_teleport_speeds_up_descent_one_seed():
    model, loss_fn = linear_regression_problem(seed=0, init_scale=0.03)
    twin = copy.deepcopy(model)
    lr = 0.05
    plain = descend(model, loss_fn, lr, 100)
    tele = descend(twin, loss_fn, lr, 100, schedule=TeleportSchedule(at=(0,)),
                   teleport_kw={"steps": 40, "lr": 0.2, "descent_lr": lr})
    threshold = 0.5 * plain.losses[0]
    n_plain, n_tele = plain.steps_to(threshold), tele.steps_to(threshold)
    assert n_plain is not None and n_tele is not None and n_plain >= 2 * n_tele, (n_plain, n_tele)


def test_schedule():
    s = TeleportSchedule(every=10, at=(3,), max_count=3)
    assert [i for i in range(40) if s.due(i)] == [0, 3, 10]
