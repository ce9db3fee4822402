"""Symmetry ensembles: copies g_k . theta of a fitted network moved along a discovered algebra, their
predictions averaged.

Through the induced action f_{g.theta}(x) = f_theta(g^-1 x) (g f_theta(g^-1 x) for an equivariant target),
so the ensemble is the network averaged over the group elements g_k = exp(sum_i z_ki L_i).  When the data
distribution is invariant under those g and the loss is convex in the prediction (cross-entropy in the
class probabilities, squared error), Jensen's inequality gives E loss(ensemble) <= E loss(network): averaging
over a true symmetry cannot hurt in expectation, and helps as much as the network is not yet invariant.
The control moves the same network by the same coefficients along random generators of the same norms:
its members see shifted data, and that ensemble gets worse.

For a discrete symmetry (an algebra trained with integer coefficients whose exp(L) has a finite order m,
e.g. C7 on rotation7) the members are the m powers exp(kL), k = 0..m-1 (:func:`cyclic_powers`): the exact
average over the group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from liegan.algebra import Algebra
from liegan.bridge.actions import evaluate, params_of
from liegan.bridge.data import inputs, prediction_loss, y_kind
from liegan.bridge.induced import data_generators, induced_action, random_generators
from liegan.config import YKind
from liegan.discrete import analyse_generator, is_integer_run
from liegan.lie import exp_map


@dataclass
class EnsembleReport:
    """Test losses of the network alone and of its ensembles along the algebra and along random generators.
    coefficients: how the members were drawn ('normal, sigma S' or 'powers 0..m-1 of a cyclic group')."""

    members: int
    coefficients: str
    single: float
    discovered: float
    random: float

    def to_dict(self) -> dict:
        return vars(self).copy()


def coefficient_sigma(algebra: Algebra) -> float:
    """The spread of the coefficients the algebra was trained with (the scale at which the discriminator could
    not tell transformed data from data); 1 when the algebra does not say."""
    desc = algebra.coefficients if isinstance(algebra.coefficients, dict) else {}
    if desc.get("distribution") == "normal" and "sigma" in desc:
        return float(desc["sigma"])
    if desc.get("distribution") == "normal" and "covariance" in desc:
        return float(np.sqrt(np.mean(np.diag(np.asarray(desc["covariance"], dtype=float)))))
    if desc.get("distribution") in ("uniform", "integer"):
        return float(max(abs(desc.get("low", 1.0)), abs(desc.get("high", 1.0))) / np.sqrt(3.0))
    return 1.0


def ensemble_loss(model: nn.Module, data, generators: torch.Tensor, z: torch.Tensor) -> float:
    """Loss on ``data`` of the average prediction of the members exp(sum_i z_ki L_i) . theta, k = 1..len(z):
    mean class probabilities (scored by cross-entropy) or mean outputs (scored by squared error)."""
    theta = params_of(model)
    action = induced_action(model, data)
    xf, kind = inputs(data), y_kind(data)
    total = None
    with torch.no_grad():
        for g in exp_map(z, generators):
            out = evaluate(model, action.transform(theta, g), xf)
            pred = F.softmax(out, dim=-1) if kind == YKind.CLASS else out
            total = pred if total is None else total + pred
        mean = total / len(z)
        if kind == YKind.CLASS:
            return float(F.nll_loss(torch.log(mean.clamp_min(1e-300)), data.y))
        return float(F.mse_loss(mean, data.y.reshape(len(data.y), -1)))


def cyclic_powers(algebra: Algebra) -> torch.Tensor | None:
    """Coefficients k = 0..m-1 (shape (m, 1)) when ``algebra`` is one generator trained with integer
    coefficients and exp(L) has a finite order m; None otherwise."""
    if not is_integer_run(algebra.coefficients) or algebra.generators.shape[0] != 1:
        return None
    order = analyse_generator(np.asarray(algebra.generators[0])).order
    return None if order is None else torch.arange(order, dtype=torch.float64)[:, None]


def symmetry_ensemble(
    model: nn.Module,
    data,
    algebra: Algebra | np.ndarray,
    members: int = 16,
    sigma: float = 1.0,
    seed: int = 0,
    z: torch.Tensor | None = None,
) -> EnsembleReport:
    """Test loss of ``model`` alone, of ``members`` copies moved along ``algebra`` (coefficients z ~ N(0,
    sigma^2), or the given ``z`` of shape (members, c)) with predictions averaged, and of the same ensemble
    along random generators of equal norms."""
    if z is not None:
        members = len(z)
    if members < 1:
        raise ValueError(f"an ensemble needs at least one member, got {members}")
    dtype = next(model.parameters()).dtype
    L = data_generators(algebra, data, dtype)
    gen = torch.Generator().manual_seed(seed)
    drawn = f"powers 0..{members - 1} of a cyclic group" if z is not None else f"normal, sigma {sigma:g}"
    if z is None:
        z = sigma * torch.randn(members, L.shape[0], generator=gen, dtype=dtype)
    z = torch.as_tensor(z, dtype=dtype)
    if z.shape != (members, L.shape[0]):
        raise ValueError(f"coefficients must have shape (members, {L.shape[0]}), got {tuple(z.shape)}")
    R = random_generators(L, L.shape[0], gen)
    with torch.no_grad():
        single = float(prediction_loss(model, data))
    return EnsembleReport(
        members=members,
        coefficients=drawn,
        single=single,
        discovered=ensemble_loss(model, data, L, z),
        random=ensemble_loss(model, data, R, z),
    )
