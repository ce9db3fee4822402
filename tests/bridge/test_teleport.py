"""Teleportation keeps the loss, raises ||grad L||^2, and speeds up descent on deep linear regression."""

import copy

import pytest
import torch
from torch import nn

from liegan.algebras import so13
from liegan.bridge.data import prediction_loss
from liegan.bridge.induced import AlgebraAction, algebra_action
from liegan.bridge.teleport import TeleportSchedule, teleport
from liegan.trainers.predictor import Teleporting, descend, labelled, linear_regression_problem

F64 = torch.float64
SO13 = torch.as_tensor(so13())  # K_x, K_y, K_z, J_x, J_y, J_z on (E, px, py, pz)


def _loss_fn(model, data):
    return lambda p: prediction_loss(model, data, p)


def test_teleport_keeps_loss_and_raises_gradient():
    model, data = linear_regression_problem(seed=0)
    res = teleport(model, _loss_fn(model, data), steps=10, lr=0.2)
    assert abs(res.loss_after - res.loss_before) <= 1e-10 * res.loss_before
    assert res.grad_sq_after > 10 * res.grad_sq_before and res.steps_taken > 0


def test_teleport_refuses_a_loss_changing_move():
    """Negative control: with loss_tol below rounding no step is accepted, and nothing moves."""
    model, data = linear_regression_problem(seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    res = teleport(model, _loss_fn(model, data), steps=5, lr=0.2, loss_tol=-1.0)
    assert res.steps_taken == 0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("objective", ["grad_norm", "lookahead"])
def test_teleport_speeds_up_descent_one_seed(objective):
    model, data = linear_regression_problem(seed=0, init_scale=0.03)
    twin = copy.deepcopy(model)
    lr = 0.3
    plain = descend(model, data, lr, 100)
    tele = descend(
        twin, data, lr, 100, teleporting=Teleporting(steps=10 if objective == "grad_norm" else 40, objective=objective)
    )
    (record,) = tele.teleports
    assert record.step == 0 and record.batches[0].loss_change < 1e-6
    threshold = 0.5 * plain.losses[0]
    n_plain, n_tele = plain.steps_to(threshold), tele.steps_to(threshold)
    assert n_plain is not None and n_tele is not None and n_plain >= 2 * n_tele, (n_plain, n_tele)
    assert len(tele.seconds) == len(tele.losses) and tele.seconds[0] >= record.seconds > 0


def test_lookahead_needs_the_descent_step():
    model, data = linear_regression_problem(seed=0)
    with pytest.raises(ValueError, match="descent_lr"):
        teleport(model, _loss_fn(model, data), objective="lookahead")
    with pytest.raises(ValueError, match="grad_norm, lookahead"):
        teleport(model, _loss_fn(model, data), objective="sharpness")


def test_schedule():
    s = TeleportSchedule(every=10, at=(3,))
    assert [i for i in range(40) if s.due(i)] == [0, 3, 10, 20, 30]
    assert [i for i in range(40) if TeleportSchedule(at=(5,)).due(i)] == [5]


# --------------------------------------------------------------- teleporting along a data symmetry


def _equivariant_task(samples: int = 32, a: float = 1.5):
    """Four-vectors x with exactly isotropic second moments on the batch (X^T X = N I) and the
    equivariant target y = a x: every rotation is an exact symmetry of the batch loss for any model."""
    gen = torch.Generator().manual_seed(0)
    Q, _ = torch.linalg.qr(torch.randn(samples, 4, generator=gen, dtype=F64))
    x = Q[:, None, :] * samples**0.5
    return labelled(x, a * x, "vector")


def _linear_net(B: torch.Tensor, h: int = 6, seed: int = 1) -> nn.Sequential:
    """Linear(4, h) -> Identity -> Linear(h, 4), no biases, with end-to-end map W2 W1 = B."""
    gen = torch.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, h, bias=False), nn.Identity(), nn.Linear(h, 4, bias=False)).to(F64)
    W1 = torch.randn(h, 4, generator=gen, dtype=F64)
    with torch.no_grad():
        model[0].weight.copy_(W1)
        model[2].weight.copy_(B @ torch.linalg.pinv(W1))
    return model


def _boost_commuting_map() -> torch.Tensor:
    """An end-to-end map that commutes with the x-boost K_x (b0 I + b1 K_x on (E, px)) but not with
    K_y, K_z or the rotations (a generic block on (py, pz))."""
    B = torch.zeros(4, 4, dtype=F64)
    B[:2, :2] = 0.3 * torch.eye(2, dtype=F64) + 0.2 * SO13[0, :2, :2]
    B[2:, 2:] = torch.tensor([[0.5, 0.1], [-0.2, 0.7]], dtype=F64)
    return B


def _teleport_along(model, task, generators, **kw):
    action = algebra_action(model, task, generators)
    assert isinstance(action, AlgebraAction)
    return teleport(model, _loss_fn(model, task), [action], **kw)


def test_boost_teleport_keeps_loss_and_raises_gradient():
    """Where the network's map commutes with the boost, W1 -> W1 exp(-z K_x), W2 -> exp(z K_x) W2 keeps
    the function and the loss, and, the boost being non-compact, moves ||grad L||^2 without bound."""
    task = _equivariant_task()
    model = _linear_net(_boost_commuting_map())
    res = _teleport_along(model, task, SO13[:1], steps=10, lr=0.2, loss_tol=1e-10)
    assert res.steps_taken == 10
    assert abs(res.loss_after - res.loss_before) <= 1e-12 * res.loss_before
    assert res.grad_sq_after > 10 * res.grad_sq_before, (res.grad_sq_before, res.grad_sq_after)
    W2W1 = model[2].weight @ model[0].weight
    assert torch.allclose(W2W1, _boost_commuting_map(), atol=1e-12)  # same function, new factors


def test_rotation_teleport_keeps_loss_and_gradient_norm():
    """Rotations are an exact data symmetry of this batch for a generic network, and compact: the loss
    and ||grad L||^2 are both constant along their orbit."""
    task = _equivariant_task()
    model = _linear_net(torch.randn(4, 4, generator=torch.Generator().manual_seed(2), dtype=F64))
    res = _teleport_along(model, task, SO13[3:], steps=5, lr=0.2, loss_tol=1e-10)
    assert abs(res.loss_after - res.loss_before) <= 1e-12 * res.loss_before
    assert abs(res.grad_sq_after - res.grad_sq_before) <= 1e-10 * res.grad_sq_before


@pytest.mark.parametrize("which", ["K_y", "K_x@generic"])
def test_teleport_along_a_non_symmetry_is_refused(which):
    """Negative control: K_y does not commute with the network's map, and K_x does not commute with a
    generic one; either move changes the loss, and the same loss check refuses every step."""
    task = _equivariant_task()
    if which == "K_y":
        model, L = _linear_net(_boost_commuting_map()), SO13[1:2]
    else:
        model, L = _linear_net(torch.randn(4, 4, generator=torch.Generator().manual_seed(2), dtype=F64)), SO13[:1]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    res = _teleport_along(model, task, L, steps=5, lr=0.2, loss_tol=1e-6)
    assert res.steps_taken == 0 and res.grad_sq_after == res.grad_sq_before
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    # the loss would have moved far beyond the tolerance: a one-step move of the same size
    g = torch.linalg.matrix_exp(0.2 * L[0])
    moved = algebra_action(model, task, L).transform(dict(model.named_parameters()), g)
    with torch.no_grad():
        assert abs(float(prediction_loss(model, task, moved)) - res.loss_before) > 1e-3 * res.loss_before


def test_boost_teleport_then_descend():
    """descend() teleports along the induced boost at step 0 and then reaches the loss threshold sooner."""
    task = _equivariant_task()
    plain_model = _linear_net(_boost_commuting_map())
    tele_model = copy.deepcopy(plain_model)
    lr = 0.02
    plain = descend(plain_model, task, lr, 60)
    along = Teleporting(actions=[algebra_action(tele_model, task, SO13[:1])], objective="lookahead", loss_tol=1e-10)
    tele = descend(tele_model, task, lr, 60, teleporting=along)
    (record,) = tele.teleports
    (res,) = record.batches
    assert record.step == 0 and res.steps_taken > 0 and res.grad_sq_after > res.grad_sq_before
    threshold = 0.1 * plain.losses[0]
    n_plain, n_tele = plain.steps_to(threshold), tele.steps_to(threshold)
    assert n_plain is not None and n_tele is not None and n_tele < n_plain, (n_plain, n_tele)


def test_algebra_action_rejects_a_wrong_dimension():
    task = _equivariant_task()
    with pytest.raises(ValueError, match="R\\^3"):
        algebra_action(_linear_net(_boost_commuting_map()), task, torch.zeros(1, 3, 3).numpy())


# --------------------------------------------------------------- the data-dependent action during SGD


def _classes(n: int = 120, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 6, generator=gen, dtype=torch.float64)
    return labelled(x, (x[:, 0, 0] + x[:, 0, 1] > 0).long(), "class")


def test_sgd_with_data_dependent_teleports_on_a_schedule_keeps_each_batch_loss():
    """Three hidden leaky-ReLU layers, SGD on batches of 16, teleports at steps 0 and every 10 on 2 batches of
    8 (the narrowest width): each teleport keeps its batch's loss to 1e-6 and raises its gradient norm."""
    from liegan.bridge.actions import mlp

    data = _classes()
    torch.manual_seed(0)
    model = mlp(6, [8, 10, 9], 2, "leaky_relu").double()
    plan = Teleporting(schedule=TeleportSchedule(at=(0,), every=10), actions="data", batches=2, steps=2, lr=0.01)
    run = descend(model, data, 0.1, 25, batch_size=16, teleporting=plan, val=_classes(60, seed=1))
    assert [t.step for t in run.teleports] == [0, 10, 20]
    for t in run.teleports:
        assert len(t.batches) == 2 and all(b.loss_change <= 1e-6 for b in t.batches), t
    assert any(b.steps_taken > 0 and b.grad_sq_after > b.grad_sq_before for t in run.teleports for b in t.batches)
    assert len(run.losses) == len(run.val_losses) == 26 and all(torch.isfinite(torch.tensor(run.losses)))


def test_data_dependent_teleport_refuses_a_batch_wider_than_a_layer():
    from liegan.bridge.actions import mlp

    model = mlp(6, [8, 4, 9], 2, "leaky_relu").double()
    with pytest.raises(ValueError, match="at most h = 4"):
        descend(model, _classes(), 0.1, 2, teleporting=Teleporting(actions="data", batch_size=8))


def test_data_dependent_teleport_that_keeps_no_step_leaves_the_network_as_it_was():
    """Negative control: on a batch smaller than the layer, the identity of the data-dependent action projects
    U onto the batch's activations (same loss on the batch, another network off it); a teleport whose every
    step is refused must not apply that projection."""
    from liegan.bridge.actions import data_dependent_actions, mlp
    from liegan.bridge.data import inputs, subset

    data = _classes()
    torch.manual_seed(0)
    model = mlp(6, [8, 8], 2, "relu").double()
    batch = subset(data, slice(0, 4))
    actions = data_dependent_actions(model, inputs(batch))
    projected = actions[-1].transform(dict(model.named_parameters()), torch.eye(8, dtype=F64))
    assert not torch.allclose(projected["4.weight"], model[4].weight)  # the identity is no identity here
    before = {k: v.clone() for k, v in model.state_dict().items()}
    res = teleport(model, _loss_fn(model, batch), actions, steps=3, lr=0.01, loss_tol=-1.0)
    assert res.steps_taken == 0 and res.loss_after == res.loss_before
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_data_dependent_teleport_on_a_small_batch_keeps_its_loss_and_raises_the_gradient():
    """The ascent starts from the identity's image, so a batch smaller than the layer can be teleported."""
    from liegan.bridge.actions import data_dependent_actions, mlp
    from liegan.bridge.data import inputs, subset

    data = _classes()
    torch.manual_seed(0)
    model = mlp(6, [8, 8], 2, "leaky_relu").double()
    batch = subset(data, slice(0, 4))
    actions = data_dependent_actions(model, inputs(batch))
    res = teleport(model, _loss_fn(model, batch), actions, steps=20, lr=0.05)
    assert res.steps_taken > 0 and res.loss_change <= 1e-6
    assert res.grad_sq_after > 2 * res.grad_sq_before  # above the original point, not only above the projection
    # too few small steps do not climb back above what the projection lost: then nothing moves
    torch.manual_seed(0)
    model = mlp(6, [8, 8], 2, "leaky_relu").double()
    res = teleport(model, _loss_fn(model, batch), data_dependent_actions(model, inputs(batch)), steps=5, lr=0.01)
    assert res.steps_taken == 0 and res.grad_sq_after == res.grad_sq_before


def test_a_rescaling_teleport_is_a_reallocation_of_step_sizes():
    """Rescaling hidden neurons by d and taking a descent step there is the same as a step from the original
    point with each weight W_l[i, j]'s step size multiplied by (d_{l-1, j} / d_{l, i})^2: a teleport along this
    orbit reallocates step sizes, and their product along every input-to-output path of weights is 1."""
    from liegan.bridge.actions import actions_for, mlp

    data = _classes()
    torch.manual_seed(0)
    model = mlp(6, [5, 4], 2, "leaky_relu").double()
    gen = torch.Generator().manual_seed(3)
    acts = actions_for(model)
    gs = [a.element(torch.randn(a.h, generator=gen, dtype=F64)) for a in acts]
    theta = {k: v.detach() for k, v in model.named_parameters()}

    def moved(p, inverse=False):
        for a, g in zip(acts, gs, strict=True) if not inverse else reversed(list(zip(acts, gs, strict=True))):
            p = a.transform(p, torch.linalg.inv(g) if inverse else g)
        return p

    def step(p, lr):
        p = {k: v.detach().requires_grad_(True) for k, v in p.items()}
        grads = torch.autograd.grad(prediction_loss(model, data, p), list(p.values()))
        return {k: v.detach() - lr[k] * g for (k, v), g in zip(p.items(), grads, strict=True)}

    scale = moved({k: torch.ones_like(v) for k, v in theta.items()})  # each entry's factor under the rescaling
    lr = 0.1
    via_teleport = moved(step(moved(theta), dict.fromkeys(theta, lr)), inverse=True)
    reallocated = step(theta, {k: lr / scale[k] ** 2 for k in theta})
    for k in theta:
        assert torch.allclose(via_teleport[k], reallocated[k], atol=1e-13), k
    # the path 0 -> 2 -> 1 -> 1 through the layers: log multipliers cancel
    mult = {k: 1 / scale[k] ** 2 for k in ("0.weight", "2.weight", "4.weight")}
    path = mult["0.weight"][2, 0] * mult["2.weight"][1, 2] * mult["4.weight"][1, 1]
    assert float(path) == pytest.approx(1.0, rel=1e-12)
    assert float(mult["0.weight"].max() / mult["0.weight"].min()) > 1.5  # not every step size is the same


def test_descend_stops_at_the_target_and_warms_up():
    model, data = linear_regression_problem(seed=0)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    full = descend(copy.deepcopy(model), data, 0.3, 12)
    target = full.losses[8]
    n = full.steps_to(target)
    short = descend(copy.deepcopy(model), data, 0.3, 12, stop_at=target)
    assert n is not None and n <= 8 and short.losses == full.losses[: n + 1]
    one, warm = copy.deepcopy(model), copy.deepcopy(model)
    descend(one, data, 0.3, 1)
    descend(warm, data, 0.3, 1, warmup=10)  # the first step is a tenth of lr
    for k, v in start.items():
        assert torch.allclose(warm.state_dict()[k] - v, 0.1 * (one.state_dict()[k] - v), atol=1e-15), k


def test_closed_form_rescaling_ascent_takes_the_same_steps_as_re_evaluating_the_network():
    """'grad_norm' along the neuron rescaling from one gradient: the same point, loss and ||grad L||^2 as the
    ascent that re-evaluates the network at every step, and ||grad L||^2 at the new point is what it says."""
    from liegan.bridge.actions import mlp

    data = _classes()
    torch.manual_seed(0)
    fast = mlp(6, [8, 10, 9], 2, "leaky_relu").double()
    slow = copy.deepcopy(fast)
    a = teleport(fast, _loss_fn(fast, data), steps=8, lr=0.2)
    b = teleport(slow, _loss_fn(slow, data), steps=8, lr=0.2, closed_form=False)
    assert a.steps_taken == b.steps_taken == 8 and a.loss_change <= 1e-12
    assert a.grad_sq_after == pytest.approx(b.grad_sq_after, rel=1e-10) and a.grad_sq_after > 2 * a.grad_sq_before
    for (k, p), q in zip(fast.named_parameters(), slow.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-12), k
    params = {k: v.detach().requires_grad_(True) for k, v in fast.named_parameters()}
    grads = torch.autograd.grad(prediction_loss(fast, data, params), list(params.values()))
    assert float(sum((g**2).sum() for g in grads)) == pytest.approx(a.grad_sq_after, rel=1e-10)
