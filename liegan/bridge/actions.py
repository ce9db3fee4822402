"""Exact group actions on the parameters of a torch network, with their Lie-algebra generators.

A two-layer block F(x) = U sigma(V x + b) + c, U (m, h), V (h, n), b (h,), is left unchanged by
(U, V, b) -> (U pi(g)^-1, g V, g b) whenever sigma(g z) = pi(g) sigma(z):

  GLAction          sigma = identity                     G = GL_h        pi(g) = g
  RescaleAction     sigma homogeneous (ReLU, LeakyReLU)  positive diagonal g, pi(g) = g
  OrthogonalAction  sigma radial, sigma(z) = f(|z|) z     G = O(h)        pi(g) = g
  NonlinearAction   any sigma, any g in GL_h: (U, V, b) -> (U sigma(P) sigma(gP)^+, gV, gb) with
                    P = V X + b, X the layer's input on a fixed batch; exact on that batch when h >= its
                    size, approximate elsewhere.  One per pair of consecutive layers of a deeper network.

Parameters travel as a dict {name: tensor} (``dict(model.named_parameters())``) and the network is
evaluated with :func:`torch.func.functional_call`, so a transformed point never mutates the module and
stays differentiable in g (teleportation optimises through it).

:func:`action_error` is the shipped checker: function preservation f(g.theta, x) = f(theta, x) and the
left-action law g.(h.theta) = (gh).theta, each as a relative error.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call

from liegan.lie import exp_map

Params = dict[str, torch.Tensor]


class Radial(nn.Module):
    """A radial activation sigma(z) = z / sqrt(1 + |z|^2) over the feature axis: commutes with O(h)."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z / torch.sqrt(1.0 + (z**2).sum(-1, keepdim=True))


ACTIVATIONS = {
    "identity": nn.Identity,
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.1),
    "radial": Radial,
    "tanh": nn.Tanh,
}


def mlp(n_in: int, hidden: list[int], n_out: int, activation: str = "relu") -> nn.Sequential:
    """Linear -> sigma -> Linear -> ... -> Linear.  Its hidden layers are what the actions act on."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}: use one of {sorted(ACTIVATIONS)}")
    widths = [n_in, *hidden, n_out]
    layers: list[nn.Module] = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i < len(widths) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


def params_of(model: nn.Module) -> Params:
    """A detached copy of the model's parameters (the point theta the actions move)."""
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def evaluate(model: nn.Module, params: Params, x: torch.Tensor) -> torch.Tensor:
    """f(theta, x) at the parameters ``params`` (the module's own parameters are not touched)."""
    return functional_call(model, params, (x,))


def load_params(model: nn.Module, params: Params) -> nn.Module:
    """Write ``params`` into the module in place (after teleporting, before descending on)."""
    with torch.no_grad():
        for k, p in model.named_parameters():
            p.copy_(params[k])
    return model


# ------------------------------------------------------------------------------------------- actions


class LayerAction:
    """The action of a matrix group on hidden layer ``hidden`` between Linear modules ``first`` and
    ``second`` (module names in ``model.named_modules()``), width h.

    Subclasses fix the group through :meth:`basis` (d, h, h) and, when the pointwise law differs,
    :meth:`transform`.  Group elements are (h, h) matrices; composition is the matrix product.
    """

    name = "layer"

    def __init__(self, first: str, second: str, h: int):
        self.first, self.second, self.h = first, second, h

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.first!r} -> {self.second!r}, h={self.h})"

    # the group -----------------------------------------------------------------------------------
    def basis(self, dtype=torch.float64) -> torch.Tensor:
        raise NotImplementedError

    def element(self, z: torch.Tensor) -> torch.Tensor:
        """g = exp(sum_i z_i B_i) for coefficients z (d,) in the basis."""
        return exp_map(z[None], self.basis(z.dtype).to(z.device))[0]

    def random_element(self, gen: torch.Generator, scale: float = 0.5, dtype=torch.float64) -> torch.Tensor:
        d = self.basis(dtype).shape[0]
        return self.element(scale * torch.randn(d, generator=gen, dtype=dtype))

    # the law on parameters -----------------------------------------------------------------------
    def _vb(self, params: Params) -> tuple[torch.Tensor, torch.Tensor | None]:
        return params[f"{self.first}.weight"], params.get(f"{self.first}.bias")

    def transform(self, params: Params, g: torch.Tensor) -> Params:
        """g.theta: V -> gV, b -> gb, U -> U g^-1 (other entries unchanged; differentiable in g)."""
        out = dict(params)
        V, b = self._vb(params)
        out[f"{self.first}.weight"] = g @ V
        if b is not None:
            out[f"{self.first}.bias"] = g @ b
        out[f"{self.second}.weight"] = torch.linalg.solve(g, params[f"{self.second}.weight"], left=False)
        return out

    def conserved(self, params: Params) -> torch.Tensor | None:
        """Q = U^T U - [V b][V b]^T (h, h): every Q_M = <M, Q> with M symmetric in the algebra is
        conserved by gradient flow.  None when the algebra has no symmetric element."""
        V, b = self._vb(params)
        Vb = V if b is None else torch.cat([V, b[:, None]], dim=1)
        U = params[f"{self.second}.weight"]
        return U.T @ U - Vb @ Vb.T


class GLAction(LayerAction):
    """GL_h on a hidden layer with identity activation (deep linear networks)."""

    name = "GL"

    def basis(self, dtype=torch.float64) -> torch.Tensor:
        return torch.eye(self.h * self.h, dtype=dtype).reshape(-1, self.h, self.h)


class RescaleAction(LayerAction):
    """Positive diagonal rescaling of the hidden neurons for a positively homogeneous activation."""

    name = "rescale"

    def basis(self, dtype=torch.float64) -> torch.Tensor:
        return torch.diag_embed(torch.eye(self.h, dtype=dtype))

    def conserved(self, params: Params) -> torch.Tensor:
        """Per-neuron imbalance ||U[:, i]||^2 - ||V[i, :]||^2 - b_i^2 (h,)."""
        return torch.diagonal(super().conserved(params))


class OrthogonalAction(LayerAction):
    """O(h) (its identity component SO(h) via exp) on a hidden layer with a radial activation."""

    name = "orthogonal"

    def basis(self, dtype=torch.float64) -> torch.Tensor:
        iu = torch.triu_indices(self.h, self.h, 1)
        B = torch.zeros(iu.shape[1], self.h, self.h, dtype=dtype)
        r = torch.arange(iu.shape[1])
        B[r, iu[0], iu[1]], B[r, iu[1], iu[0]] = 1.0, -1.0
        return B

    def conserved(self, params: Params) -> None:
        return None  # an antisymmetric algebra: every Q_M = <theta, M theta> vanishes identically


class NonlinearAction(GLAction):
    """GL_h acting through the data: (U, V, b) -> (U sigma(P) sigma(gP)^+, gV, gb), P = V X^T + b with X the
    input of layer ``first`` on a fixed batch X0 (B, n_in) of network inputs.

    X is recomputed from the parameters it is given, so actions on consecutive pairs of a deeper network
    compose: each sees the hidden activations the earlier ones left (unchanged on the batch when exact).
    Exact on the batch when sigma(gP) (h, B) has full column rank, which needs B <= h.
    """

    name = "nonlinear"

    def __init__(self, model: nn.Sequential, first: str, second: str, X0: torch.Tensor):
        modules = dict(model.named_children())
        h = modules[first].out_features
        super().__init__(first, second, h)
        if X0.shape[0] > h:
            raise ValueError(
                f"the data-dependent action is exact only for a batch of at most h = {h} points, got {X0.shape[0]}"
            )
        names = list(modules)
        self.activation = modules[names[names.index(first) + 1]]
        self.model, self.X0 = model, X0

    def transform(self, params: Params, g: torch.Tensor) -> Params:
        out = dict(params)
        V, b = self._vb(params)
        X = layer_input(self.model, params, self.first, self.X0.to(V.dtype))  # (B, n)
        P = X @ V.T if b is None else X @ V.T + b  # (B, h): sigma acts on rows, one per sample
        S0, Sg = self.activation(P).T, self.activation(P @ g.T).T  # (h, B)
        out[f"{self.first}.weight"] = g @ V
        if b is not None:
            out[f"{self.first}.bias"] = g @ b
        out[f"{self.second}.weight"] = params[f"{self.second}.weight"] @ S0 @ torch.linalg.pinv(Sg)
        return out

    def conserved(self, params: Params) -> None:
        return None


def layer_input(model: nn.Sequential, params: Params, name: str, x: torch.Tensor) -> torch.Tensor:
    """What child module ``name`` receives when the network at ``params`` is applied to x."""
    for child, module in model.named_children():
        if child == name:
            return x
        own = {k.split(".", 1)[1]: v for k, v in params.items() if k.startswith(f"{child}.")}
        x = functional_call(module, own, (x,)) if own else module(x)
    raise ValueError(f"the network has no module {name!r}")


def data_dependent_actions(model: nn.Sequential, X0: torch.Tensor) -> list[NonlinearAction]:
    """The data-dependent action on every pair of consecutive layers, on the batch X0 (B, n_in)."""
    return [NonlinearAction(model, first, second, X0) for first, second, _, _ in hidden_layers(model)]


def hidden_layers(model: nn.Sequential) -> list[tuple[str, str, int, nn.Module]]:
    """(first, second, h, activation) for every Linear -> activation -> Linear pattern."""
    mods = list(model.named_children())
    out = []
    for i in range(len(mods) - 2):
        (n1, a), (_, s), (n2, c) = mods[i], mods[i + 1], mods[i + 2]
        if isinstance(a, nn.Linear) and isinstance(c, nn.Linear) and not isinstance(s, nn.Linear):
            out.append((n1, n2, a.out_features, s))
    return out


def actions_for(model: nn.Sequential) -> list[LayerAction]:
    """The exact linear action each hidden layer of an :func:`mlp` admits, chosen by its activation."""
    acts: list[LayerAction] = []
    for first, second, h, sigma in hidden_layers(model):
        if isinstance(sigma, nn.Identity):
            acts.append(GLAction(first, second, h))
        elif isinstance(sigma, (nn.ReLU, nn.LeakyReLU)):
            acts.append(RescaleAction(first, second, h))
        elif isinstance(sigma, Radial):
            acts.append(OrthogonalAction(first, second, h))
    return acts


# ------------------------------------------------------------------------------------------ checker


@dataclass
class ActionError:
    """Relative errors of one action at one point: each should be at rounding level for an exact action."""

    invariance: float  # max over g, h, gh of |f(k.theta, x) - f(theta, x)| / |f(theta, x)|
    composition: float  # |g.(h.theta) - (gh).theta| / |theta|, over all parameters

    @property
    def max(self) -> float:
        return max(self.invariance, self.composition)


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm().clamp_min(1e-300))


def _flat(params: Params) -> torch.Tensor:
    return torch.cat([v.reshape(-1) for v in params.values()])


def action_error(
    action: LayerAction,
    model: nn.Module,
    x: torch.Tensor,
    g: torch.Tensor | None = None,
    h: torch.Tensor | None = None,
    seed: int = 0,
) -> ActionError:
    """Check ``action`` on ``model`` at its current parameters over inputs x (B, n_in).

    g, h default to random group elements; use float64 (model.double(), x.double()) for 1e-10 checks.
    """
    gen = torch.Generator().manual_seed(seed)
    theta = params_of(model)
    dtype = next(iter(theta.values())).dtype
    g = action.random_element(gen, dtype=dtype) if g is None else g.to(dtype)
    h = action.random_element(gen, dtype=dtype) if h is None else h.to(dtype)
    with torch.no_grad():
        f0 = evaluate(model, theta, x)
        inv = max(_rel(evaluate(model, action.transform(theta, k), x), f0) for k in (g, h, g @ h))
        g_h = action.transform(action.transform(theta, h), g)
        comp = _rel(_flat(g_h), _flat(action.transform(theta, g @ h)))
    return ActionError(invariance=inv, composition=comp)
