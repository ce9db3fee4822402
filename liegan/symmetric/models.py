"""Models built from a Group: augmentation, an equivariant MLP, invariant-feature models, group averaging.

Data follow liegan.lie's convention: x (b, k, n) with k components that all transform with the same g;
a vector target y (b, k_y, n) transforms with g too, a scalar or class target does not.

- :func:`augment` moves a batch by random group elements, (x, y) -> (g x, g y): training on it teaches a
  plain model the symmetry (LieGAN's augmentation experiment).
- :class:`EMLP` is equivariant by construction (in the style of Finzi et al.'s EMLP): each layer maps k
  copies of V to m copies by W = sum_r c_abr B_r on the (a, b) block, B_r a basis of the maps that commute
  with the group (:func:`liegan.symmetric.nullspace.commutant`), with biases in the invariant vectors; the
  nonlinearity gates every vector channel by a sigmoid of invariants, its quadratic forms u^T S u for the
  group's invariant forms S, so the gate is a scalar and the channel stays a vector.
- :class:`InvariantMLP` feeds the quadratic invariants x_a^T S x_b of the components to an MLP, for scalar
  or class targets of a continuous group (with S the invariant metric this is the J-inner-product idea).
- :class:`ParticleNet` is a permutation-invariant network over a set of four-momenta whose only inputs
  are the J-inner products <p_i, p_j>_J (the LorentzNet / LieGNN idea, small enough for a CPU).
- :class:`GroupAveraged` averages any model over the elements of a cyclic group, g^-1 f(g x) (exactly
  equivariant), or over random elements of a continuous one (approximately).
"""

from __future__ import annotations

import torch
from torch import nn

from liegan.lie import act
from liegan.symmetric.group import Group
from liegan.symmetric.nullspace import NullSpace, commutant, invariant_forms, invariant_vectors


def augment(
    group: Group,
    x: torch.Tensor,
    y: torch.Tensor | None,
    y_is_vector: bool,
    gen: torch.Generator | None = None,
    pool: torch.Tensor | None = None,
):
    """(g x, g y) for one random g per sample (y passes through unless it is a vector).  ``pool``: draw the
    g from these pre-sampled elements (m, n, n) instead of sampling afresh (a matrix exponential per sample
    costs more than a small predictor's whole training step)."""
    if pool is None:
        g = group.sample(x.shape[0], gen)
    else:
        g = pool[torch.randint(0, len(pool), (x.shape[0],), generator=gen).to(pool.device)]
    g = g.to(device=x.device, dtype=x.dtype)
    return act(g, x), (act(g, y) if y_is_vector and y is not None else y)


def signed_log(t: torch.Tensor) -> torch.Tensor:
    """sign(t) log(1 + |t|): inner products of momenta span orders of magnitude."""
    return torch.sign(t) * torch.log1p(t.abs())


def mlp(n_in: int, hidden: list[int], n_out: int) -> nn.Sequential:
    layers, d = [], n_in
    for h in hidden:
        layers += [nn.Linear(d, h), nn.ReLU()]
        d = h
    return nn.Sequential(*layers, nn.Linear(d, n_out))


class PlainMLP(nn.Module):
    """The unconstrained baseline: flatten x (b, k, n), MLP, reshape to ``out_shape``."""

    def __init__(self, k_in: int, n: int, out_shape: tuple[int, ...], hidden: list[int]):
        super().__init__()
        self.out_shape = tuple(out_shape)
        self.net = mlp(k_in * n, hidden, int(torch.tensor(out_shape).prod()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1)).reshape(len(x), *self.out_shape)


class GroupSpaces:
    """The null spaces an equivariant model of one group needs, solved once: maps V -> V, invariant vectors,
    invariant symmetric forms.  ``report()`` says how well each is determined."""

    def __init__(self, group: Group, **tol):
        kind, A = group.constraints()
        self.hom: NullSpace = commutant(kind, A, **tol)
        self.bias: NullSpace = invariant_vectors(kind, A, **tol)
        self.forms: NullSpace = invariant_forms(kind, A, **tol)
        if self.hom.dim == 0:
            raise ValueError(f"no linear map commutes with the group ({self.hom.describe()})")

    def report(self) -> dict:
        return {
            name: {**ns.summary(), "message": ns.describe()}
            for name, ns in (("maps", self.hom), ("bias", self.bias), ("forms", self.forms))
        }


class EquivariantLinear(nn.Module):
    """V^k_in -> V^k_out with every n x n block in the commutant of the group."""

    def __init__(self, spaces: GroupSpaces, k_in: int, k_out: int):
        super().__init__()
        B, n = spaces.hom.basis.float(), spaces.hom.basis.shape[-1]
        self.register_buffer("B", B)
        r = B.shape[0]
        # unit-variance outputs for unit-variance inputs: each entry of W has variance std^2 r / n^2
        std = (n / (k_in * r)) ** 0.5
        self.coef = nn.Parameter(torch.randn(k_out, k_in, r) * std)
        self.register_buffer("V", spaces.bias.basis.float())  # (r0, n)
        self.bias = nn.Parameter(torch.zeros(k_out, self.V.shape[0]))

    def weight(self) -> torch.Tensor:
        return torch.einsum("abr,rij->abij", self.coef, self.B)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # one (b, k_in n) x (k_in n, k_out n) matmul: einsum picks a batched product of tiny matrices here
        W = self.weight().permute(0, 2, 1, 3).reshape(self.coef.shape[0] * self.B.shape[-1], -1)
        return (x.flatten(1) @ W.T).reshape(len(x), self.coef.shape[0], -1) + self.bias @ self.V


def quadratic_invariants(x: torch.Tensor, S: torch.Tensor, pairs: bool = False) -> torch.Tensor:
    """x_a^T S_f x_a for every component a and form f (b, k * F), or with ``pairs`` x_a^T S_f x_b for
    a <= b (b, k (k + 1) / 2 * F)."""
    if not pairs:  # (x_a x_a^T) flattened against each flattened S: one matmul, not a batch of tiny ones
        outer = (x[..., :, None] * x[..., None, :]).flatten(2)
        return (outer @ S.flatten(1).T).flatten(1)
    G = torch.einsum("zai,fij,zbj->zabf", x, S, x)
    a, b = torch.triu_indices(x.shape[1], x.shape[1], device=x.device)
    return G[:, a, b].flatten(1)


class GatedBlock(nn.Module):
    """EquivariantLinear then u_a * sigmoid(gate_a), the gates a linear function of u's quadratic invariants
    (a learned constant per channel when the group has no invariant form)."""

    def __init__(self, spaces: GroupSpaces, k_in: int, k_out: int):
        super().__init__()
        self.lin = EquivariantLinear(spaces, k_in, k_out)
        self.register_buffer("S", spaces.forms.basis.float())
        self.gate = nn.Linear(k_out * self.S.shape[0], k_out) if self.S.shape[0] else None
        self.gate_bias = nn.Parameter(torch.zeros(k_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = self.lin(x)
        g = self.gate_bias if self.gate is None else self.gate(signed_log(quadratic_invariants(u, self.S)))
        return u * torch.sigmoid(g)[..., None]


class EMLP(nn.Module):
    """An equivariant MLP V^k_in -> V^k_out for ``spaces`` of a group: gated blocks of ``hidden`` vector
    channels, then an equivariant linear read-out."""

    def __init__(self, spaces: GroupSpaces, k_in: int, k_out: int, hidden: list[int]):
        super().__init__()
        dims = [k_in, *hidden]
        self.blocks = nn.Sequential(*[GatedBlock(spaces, a, b) for a, b in zip(dims[:-1], dims[1:], strict=True)])
        self.out = EquivariantLinear(spaces, dims[-1], k_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.blocks(x))


class InvariantMLP(nn.Module):
    """An MLP on the quadratic invariants x_a^T S_f x_b (a <= b) of the components: invariant under every
    group that preserves the forms S (F, n, n)."""

    def __init__(self, forms: torch.Tensor, k_in: int, n_out: int, hidden: list[int]):
        super().__init__()
        self.register_buffer("S", torch.as_tensor(forms, dtype=torch.float32).reshape(-1, *forms.shape[-2:]))
        self.net = mlp(k_in * (k_in + 1) // 2 * self.S.shape[0], hidden, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(signed_log(quadratic_invariants(x, self.S, pairs=True)))


class ParticleNet(nn.Module):
    """Permutation-invariant classifier of a set of four-momenta p (b, k, 4) seen only through J-inner
    products: an edge network on (<p_i, p_j>, <p_i, p_i>, <p_j, p_j>, <p_i, P>, <p_j, P>) with P the summed
    momentum, summed over j into a node state, summed over i with <P, P> into the jet state.  Zero rows
    (padding) are masked out."""

    def __init__(self, J, n_out: int = 2, hidden: int = 32):
        super().__init__()
        self.register_buffer("J", torch.as_tensor(J, dtype=torch.float32))
        self.edge = mlp(5, [hidden], hidden)
        self.node = mlp(hidden, [hidden], hidden)
        self.head = mlp(hidden + 1, [hidden], n_out)

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        mask = (p != 0).any(-1).to(p.dtype)  # (b, k)
        P = p.sum(1, keepdim=True)
        G = torch.einsum("zai,ij,zbj->zab", p, self.J, p)
        gP = torch.einsum("zai,ij,zj->za", p, self.J, P[:, 0])
        gPP = torch.einsum("zi,ij,zj->z", P[:, 0], self.J, P[:, 0])
        k = p.shape[1]
        diag = torch.diagonal(G, dim1=1, dim2=2)
        e = torch.stack(
            [
                G,
                diag[:, :, None].expand(-1, -1, k),
                diag[:, None, :].expand(-1, k, -1),
                gP[:, :, None].expand(-1, -1, k),
                gP[:, None, :].expand(-1, k, -1),
            ],
            -1,
        )
        pair = mask[:, :, None] * mask[:, None, :]
        h = (self.edge(signed_log(e)) * pair[..., None]).sum(2) / k
        jet = (self.node(h) * mask[..., None]).sum(1) / k
        return self.head(torch.cat([jet, signed_log(gPP)[:, None]], -1))


class GroupAveraged(nn.Module):
    """f_avg(x) = mean_g g^-1 f(g x) (vector outputs) or mean_g f(g x) (invariant outputs) over every element
    of a cyclic group (exact), or over ``members`` random elements of a continuous group drawn afresh per
    call (the original's evaluation-time averaging)."""

    def __init__(self, model: nn.Module, group: Group, vector_output: bool, members: int = 16):
        super().__init__()
        self.model, self.group, self.vector, self.members = model, group, vector_output, members

    def elements(self) -> torch.Tensor:
        return self.group.elements() if self.group.discrete else self.group.sample(self.members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = 0.0
        G = self.elements().to(device=x.device, dtype=x.dtype)
        for g in G:
            gx = act(g.expand(len(x), -1, -1), x)
            fx = self.model(gx)
            if self.vector:
                fx = act(torch.linalg.inv(g).expand(len(x), -1, -1), fx)
            out = out + fx
        return out / len(G)
