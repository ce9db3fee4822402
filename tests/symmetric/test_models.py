"""Symmetric models pass the shipped checker under their group; plain and wrongly built models fail it."""

import math

import numpy as np
import pytest
import torch

from liegan import Algebra, algebras
from liegan.symmetric import (
    EMLP,
    Group,
    GroupAveraged,
    GroupSpaces,
    InvariantMLP,
    ParticleNet,
    PlainMLP,
    assert_equivariant,
    augment,
    equivariance_error,
    group_of,
)

TWOBODY = Group(algebras.twobody_so2(), "normal", 3.0)


def _x(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_emlp_is_equivariant_and_the_plain_mlp_is_not():
    torch.manual_seed(0)
    x = _x(64, 5, 8)
    model = EMLP(GroupSpaces(TWOBODY), 5, 5, [16, 16])
    assert_equivariant(model, x, TWOBODY, vector_output=True, tol=1e-9)
    plain = PlainMLP(5, 8, (5, 8), [16, 16])
    assert equivariance_error(plain, x, TWOBODY, vector_output=True) > 0.1
    with pytest.raises(AssertionError, match="equivariance error"):
        assert_equivariant(plain, x, TWOBODY, vector_output=True)


def test_emlp_of_a_perturbed_generator_is_off_under_the_true_group_by_the_perturbation_squared():
    """An EMLP built from T + eps P (a learned generator eps away from so(2)) is equivariant under the true
    group only to O(eps^2): ten times the perturbation, a hundred times the error; none, round-off."""
    T = algebras.twobody_so2()
    P = np.random.default_rng(1).standard_normal((1, 8, 8)) * (T != 0)  # within the 2x2 blocks
    P *= np.linalg.norm(T) / np.linalg.norm(P)
    x, errs = _x(256, 5, 8), []
    for eps in (0.0, 1e-3, 1e-2):
        torch.manual_seed(0)
        model = EMLP(GroupSpaces(Group(T + eps * P, "normal", 3.0)), 5, 5, [8]).eval()
        errs.append(equivariance_error(model, x, TWOBODY, vector_output=True))
    assert errs[0] < 1e-10, errs
    assert 30 < errs[2] / errs[1] < 300, errs


def test_negative_control_emlp_of_a_wrong_group_fails_under_the_true_one():
    wrong = np.zeros((1, 8, 8))
    wrong[0, :4, :4] = np.kron(np.eye(2), [[0.0, 1.0], [-1.0, 0.0]])  # rotates q1 and p1 only
    torch.manual_seed(0)
    model = EMLP(GroupSpaces(Group(wrong, "normal", 3.0)), 1, 1, [8])
    assert equivariance_error(model, _x(64, 1, 8), TWOBODY, vector_output=True) > 1e-3


def test_invariant_mlp_on_lorentz_forms_is_invariant_under_boosts():
    torch.manual_seed(0)
    lorentz = Group(algebras.so13(), "normal", 0.3)
    spaces = GroupSpaces(lorentz)
    model = InvariantMLP(spaces.forms.basis, 3, 2, [16])
    p = _x(64, 3, 4).double()
    assert_equivariant(model.double(), p, lorentz, vector_output=False, tol=1e-10)
    assert equivariance_error(PlainMLP(3, 4, (2,), [16]).double(), p, lorentz, vector_output=False) > 1e-3


def test_particle_net_is_lorentz_invariant_with_minkowski_and_not_with_euclidean():
    torch.manual_seed(0)
    lorentz = Group(algebras.so13(), "normal", 0.3)
    p = _x(32, 6, 4).double()
    p[:, 4:] = 0  # padding is ignored
    net = ParticleNet(algebras.MINKOWSKI).double()
    assert_equivariant(net, p, lorentz, vector_output=False, tol=1e-10)
    perm = torch.tensor([3, 0, 2, 1, 4, 5])
    assert torch.allclose(net(p[:, perm]), net(p))
    euclid = ParticleNet(np.eye(4)).double()
    assert equivariance_error(euclid, p, lorentz, vector_output=False) > 1e-4
    rotations = Group(algebras.so13()[3:], "normal", 1.0)  # but rotations keep Euclidean products
    assert_equivariant(euclid, p, rotations, vector_output=False, tol=1e-10)


def test_averaging_over_a_cyclic_group_is_exactly_invariant():
    c7 = Group(2 * math.pi / 7 * algebras.so(3)[2:3] * -1, "cyclic", order=7)  # rotation about x3
    torch.manual_seed(0)
    plain = PlainMLP(1, 3, (1,), [16]).double()
    x = _x(64, 1, 3).double()
    assert equivariance_error(plain, x, c7, vector_output=False) > 1e-3
    assert_equivariant(GroupAveraged(plain, c7, vector_output=False), x, c7, vector_output=False, tol=1e-12)


def test_augment_moves_x_and_vector_y_by_the_same_element():
    x, y = _x(10, 1, 8).double(), _x(10, 1, 8, seed=1).double()
    gx, gy = augment(TWOBODY, x, y, True, torch.Generator().manual_seed(0))
    assert torch.allclose(gx.norm(dim=-1), x.norm(dim=-1))  # rotations
    assert torch.allclose((gx * gy).sum(-1), (x * y).sum(-1))  # the same rotation on both
    labels = torch.arange(10)
    assert augment(TWOBODY, x, labels, False)[1] is labels


def test_group_of_reads_the_coefficients():
    L = algebras.so(2)
    assert group_of(Algebra(L, coefficients={"distribution": "normal", "sigma": 2.0})).scale == 2.0
    u = group_of(Algebra(L, coefficients={"distribution": "uniform", "low": -3, "high": 3}))
    assert (u.distribution, u.scale) == ("uniform", 3.0)
    assert group_of(Algebra(L), order=5).elements().shape == (5, 2, 2)
    with pytest.raises(ValueError, match="cyclic"):
        Group(algebras.so(3), "cyclic", order=3)
