"""Symmetry ensembles: averaging a network over a true symmetry of the data cannot hurt (Jensen), averaging
over random directions does; members at z = 0 are the network itself."""

import math

import numpy as np
import pytest
import torch

from liegan import Algebra
from liegan.algebras import so
from liegan.bridge.actions import mlp
from liegan.bridge.data import n_in
from liegan.bridge.ensemble import coefficient_sigma, cyclic_powers, ensemble_loss, symmetry_ensemble
from liegan.trainers.predictor import fit_predictor, labelled


def _fit(data, n_out: int, steps: int = 300, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = mlp(n_in(data), [16, 16], n_out, "relu").double()
    fit_predictor(model, data, steps, lr=1e-2)
    return model


def _rotation_invariant_classes(n: int, seed: int):
    """x ~ N(0, I_2) (one 2-vector per sample), class = |x| > 1.2: invariant under every rotation."""
    x = torch.randn(n, 1, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return labelled(x, (x.norm(dim=-1)[:, 0] > 1.2).long(), "class")


def _rotation_equivariant_vectors(n: int, seed: int):
    """y = A x with A = 1.5 R(0.7) (commutes with rotations): the map, and so the data, are rotation
    equivariant."""
    x = torch.randn(n, 1, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    c, s = math.cos(0.7), math.sin(0.7)
    A = 1.5 * torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
    return labelled(x, x @ A.T, "vector")


@pytest.mark.parametrize("make, n_out", [(_rotation_invariant_classes, 2), (_rotation_equivariant_vectors, 2)])
def test_averaging_over_a_true_symmetry_helps_and_over_random_directions_hurts(make, n_out):
    train, test = make(400, seed=1), make(4000, seed=2)
    model = _fit(train, n_out)
    rep = symmetry_ensemble(model, test, so(2), members=32, sigma=math.pi, seed=0)
    assert rep.discovered < rep.single, rep  # the fitted network is not yet invariant; its average is better
    assert rep.random > rep.single, rep  # the control: members moved off the data distribution


def test_members_at_the_identity_are_the_network():
    test = _rotation_invariant_classes(500, seed=3)
    model = _fit(_rotation_invariant_classes(300, seed=4), 2, steps=50)
    rep = symmetry_ensemble(model, test, so(2), members=4, sigma=0.0)
    assert rep.discovered == pytest.approx(rep.single, rel=1e-12)
    z = torch.zeros(3, 1, dtype=torch.float64)
    assert ensemble_loss(model, test, torch.as_tensor(so(2)), z) == pytest.approx(rep.single, rel=1e-12)


def test_bad_arguments_and_the_trained_coefficient_spread():
    test = _rotation_invariant_classes(50, seed=5)
    model = mlp(2, [4], 2, "relu").double()
    with pytest.raises(ValueError, match="at least one member"):
        symmetry_ensemble(model, test, so(2), members=0)
    with pytest.raises(ValueError, match="n = 2"):
        symmetry_ensemble(model, test, so(3))
    assert coefficient_sigma(Algebra(so(2), coefficients={"distribution": "normal", "sigma": 0.4})) == 0.4
    uniform = Algebra(so(2), coefficients={"distribution": "uniform", "low": -3.0, "high": 3.0})
    assert coefficient_sigma(uniform) == pytest.approx(3.0 / np.sqrt(3.0))
    assert coefficient_sigma(Algebra(so(2))) == 1.0


def test_a_discrete_symmetry_is_averaged_over_its_cyclic_group():
    """rotation7: y = x3 / (1 + mod(atan2(x2, x1), 2 pi / 7)) is invariant under C7 about x3 only.  An
    integer-coefficient algebra whose exp(L) is the rotation by 2 pi / 7 gives the 7 powers as members."""
    from liegan.datasets.rotation7 import rotation7_target

    L = np.zeros((1, 3, 3))
    L[0, 0, 1], L[0, 1, 0] = -2 * np.pi / 7, 2 * np.pi / 7
    c7 = Algebra(L, coefficients={"distribution": "integer", "low": 1, "high": 1})
    z = cyclic_powers(c7)
    assert z is not None and z[:, 0].tolist() == list(range(7))
    assert cyclic_powers(Algebra(L, coefficients={"distribution": "normal", "sigma": 1.0})) is None

    def task(n, seed):
        x = torch.randn(n, 1, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        y = torch.as_tensor(rotation7_target(x[:, 0].numpy()), dtype=torch.float64)[:, None]
        return labelled(x, y, "scalar")

    model = _fit(task(2000, seed=6), 1, steps=400)
    rep = symmetry_ensemble(model, task(4000, seed=7), c7, z=z)
    assert rep.members == 7 and "cyclic" in rep.coefficients
    assert rep.discovered < rep.single < rep.random, rep
