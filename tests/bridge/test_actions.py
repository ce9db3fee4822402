"""Every parameter-space action preserves the network function exactly and is a left action."""

import pytest
import torch

from liegan.bridge.actions import (
    GLAction,
    NonlinearAction,
    action_error,
    actions_for,
    data_dependent_actions,
    evaluate,
    mlp,
    params_of,
)

TOL = 1e-10


def _net(activation, hidden=(6, 7), seed=0):
    torch.manual_seed(seed)
    return mlp(5, list(hidden), 3, activation).double(), torch.randn(16, 5, dtype=torch.float64)


@pytest.mark.parametrize(
    "activation,kind", [("identity", "GL"), ("relu", "rescale"), ("leaky_relu", "rescale"), ("radial", "orthogonal")]
)
def test_linear_actions_exact(activation, kind):
    model, x = _net(activation)
    actions = actions_for(model)
    assert [a.name for a in actions] == [kind, kind]
    for a in actions:
        err = action_error(a, model, x)
        assert err.max < TOL, f"{a}: {err}"


def test_nonlinear_action_exact_on_its_batch():
    model, _ = _net("tanh", hidden=(16,))
    x = torch.randn(10, 5, dtype=torch.float64)
    a = NonlinearAction(model, "0", "2", x)
    err = action_error(a, model, x)
    assert err.max < TOL, err
    # ... and only approximate on new data
    far = action_error(a, model, torch.randn(10, 5, dtype=torch.float64))
    assert far.invariance > 1e-4


def test_nonlinear_action_needs_wide_layer():
    model, x = _net("tanh", hidden=(4,))
    with pytest.raises(ValueError, match="at most h = 4"):
        NonlinearAction(model, "0", "2", x)


class _WrongGL(GLAction):
    """U -> U g instead of U g^-1: a plausible-looking bug."""

    def transform(self, params, g):
        out = super().transform(params, g)
        out[f"{self.second}.weight"] = params[f"{self.second}.weight"] @ g
        return out


def test_checker_catches_wrong_law():
    model, x = _net("identity")
    err = action_error(_WrongGL("0", "2", 6), model, x)
    assert err.invariance > 1e-3, err


def test_checker_catches_wrong_group_for_activation():
    model, x = _net("relu")
    err = action_error(GLAction("0", "2", 6), model, x)  # GL_h is no symmetry of a ReLU layer
    assert err.invariance > 1e-3, err


def test_checker_catches_non_action():
    """A map that preserves the function but is not a left action (g.(h.theta) != (gh).theta)."""

    class _Twisted(GLAction):
        def transform(self, params, g):
            return super().transform(params, g.T)  # g -> g^T reverses the order of composition

    model, x = _net("identity")
    err = action_error(_Twisted("0", "2", 6), model, x)
    assert err.invariance < TOL and err.composition > 1e-3, err


def test_transform_does_not_touch_the_module():
    model, x = _net("identity")
    before = evaluate(model, params_of(model), x)
    a = actions_for(model)[0]
    a.transform(params_of(model), a.random_element(torch.Generator().manual_seed(1)))
    assert torch.equal(model(x), before)


@pytest.mark.parametrize("activation", ["leaky_relu", "tanh"])
def test_data_dependent_actions_on_every_pair_of_a_deep_network_compose_exactly(activation):
    """Three hidden layers: the data-dependent action on each of the two consecutive pairs, applied one after
    the other (each on the activations the previous left), keeps the network's outputs on the batch."""
    model, _ = _net(activation, hidden=(12, 10, 9))
    x = torch.randn(8, 5, dtype=torch.float64)
    actions = data_dependent_actions(model, x)
    assert [(a.first, a.second) for a in actions] == [("0", "2"), ("2", "4"), ("4", "6")]
    gen = torch.Generator().manual_seed(3)
    theta = params_of(model)
    moved = theta
    for a in actions:
        moved = a.transform(moved, a.random_element(gen, scale=0.3))
    f0, f1 = evaluate(model, theta, x), evaluate(model, moved, x)
    assert float((f1 - f0).norm() / f0.norm()) < TOL
    assert float((moved["2.weight"] - theta["2.weight"]).norm()) > 1e-2  # the weights did move
    far = torch.randn(8, 5, dtype=torch.float64)
    assert float((evaluate(model, moved, far) - evaluate(model, theta, far)).norm()) > 1e-4  # off the batch
