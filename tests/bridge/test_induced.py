"""The bridge: the discovered so(2) of the two-body data is a flat direction of a trained predictor's loss."""

import numpy as np
import pytest
import torch

from liegan.algebras import twobody_so2
from liegan.bridge.actions import evaluate, mlp, params_of
from liegan.bridge.data import subset
from liegan.bridge.induced import generator_change, induced_action, loss_invariance_error
from liegan.config import DataConfig
from liegan.datasets import load_dataset
from liegan.trainers.predictor import fit_predictor, labelled

# The loss changes along random generators of equal norm over the change along the tested one.  Fitted with
# seeds 0-3 the discovered so(2) scores 50-915 and the wrong generator 0.85-0.88: each side has its own bar,
# with room, so neither case passes by sitting near the other's.
FLAT = 20.0
NOT_FLAT = 2.0


@pytest.fixture(scope="module")
def trained():
    ds = load_dataset(DataConfig(dataset="twobody", n_samples=400, seed=0))
    scale = float(ds.x.std())
    data = labelled(ds.x.double() / scale, ds.y.double() / scale, "vector")
    train, test = subset(data, slice(100, None)), subset(data, slice(0, 100))
    torch.manual_seed(0)
    model = mlp(8, [32, 32], 8, "relu").double()
    fit_predictor(model, train, 200, lr=3e-3)
    return model, test


def test_discovered_generator_is_flat(trained):
    model, test = trained
    rep = loss_invariance_error(model, test, twobody_so2(), n_random=8)
    assert rep.ratio >= FLAT, rep.to_dict()


def test_negative_control_wrong_generator_is_not_flat(trained):
    """Rotating body 1's position alone (same norm as the so(2) generator) is no symmetry of the data."""
    model, test = trained
    L = np.zeros((1, 8, 8))
    L[0, :2, :2] = [[0.0, 2.0], [-2.0, 0.0]]
    assert np.isclose(np.linalg.norm(L), np.linalg.norm(twobody_so2()))
    rep = loss_invariance_error(model, test, L, n_random=8)
    assert rep.ratio <= NOT_FLAT, rep.to_dict()


def test_derivative_matches_finite_difference(trained):
    model, test = trained
    R = torch.randn(8, 8, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    c = generator_change(model, test, R, t=1e-5)
    assert abs(c.fd - c.derivative) <= 1e-5 * max(abs(c.derivative), 1e-8), c


def test_induced_action_is_conjugation():
    """f_{g.theta}(x) = g f_theta(g^-1 x) exactly, and it is a left action."""
    torch.manual_seed(0)
    model = mlp(8, [6], 8, "relu").double()
    f64 = torch.float64
    task = labelled(torch.randn(5, 1, 8, dtype=f64), torch.randn(5, 1, 8, dtype=f64), "vector")
    act = induced_action(model, task)
    gen = torch.Generator().manual_seed(0)
    g, h = (torch.linalg.matrix_exp(0.3 * torch.randn(8, 8, generator=gen, dtype=f64)) for _ in range(2))
    theta, x = params_of(model), task.x[:, 0]
    lhs = evaluate(model, act.transform(theta, g), x)
    rhs = evaluate(model, theta, x @ torch.linalg.inv(g).T) @ g.T
    assert torch.allclose(lhs, rhs, rtol=1e-10, atol=1e-12)
    a, b = act.transform(act.transform(theta, h), g), act.transform(theta, g @ h)
    assert all(torch.allclose(a[k], b[k], rtol=1e-10, atol=1e-12) for k in theta)


def test_class_targets_leave_the_output_alone():
    model = mlp(8, [6], 3, "relu").double()
    task = labelled(torch.randn(5, 2, 4, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1]), "class")
    act = induced_action(model, task)
    theta = params_of(model)
    moved = act.transform(theta, torch.linalg.matrix_exp(0.2 * torch.randn(4, 4, dtype=torch.float64)))
    assert torch.equal(moved["2.weight"], theta["2.weight"])
    assert not torch.equal(moved["0.weight"], theta["0.weight"])
