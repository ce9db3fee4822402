"""Teleportation on the Rosenbrock and Booth functions, whose level sets a rotation group moves along.

    python benchmarks/teleport_functions.py [--steps 2000]

Each function is f(x) = |phi(x)|^2 for an invertible map phi of the plane, so x -> phi^-1(g phi(x)) with g
in SO(2) keeps f exactly: Rosenbrock f = (1 - x1)^2 + 100 (x2 - x1^2)^2 with phi = (1 - x1, 10 (x2 - x1^2)),
Booth f = (x1 + 2 x2 - 7)^2 + (2 x1 + x2 - 5)^2 with phi = A x - b.  From each start, gradient descent with
and without teleports (liegan.bridge.teleport over this action, maximising ||grad f||^2, a step kept only
while five descent steps from it gain more) at step 0, and at step 0 and every 50 steps; prints the steps
to f <= 1e-2 and 1e-4 and the value after the last step.
"""

from __future__ import annotations

import torch
from torch import nn

from liegan.bridge.teleport import teleport
from liegan.cli import Parser
from liegan.lie import exp_map

J = torch.tensor([[[0.0, -1.0], [1.0, 0.0]]], dtype=torch.float64)
A = torch.tensor([[1.0, 2.0], [2.0, 1.0]], dtype=torch.float64)
B = torch.tensor([7.0, 5.0], dtype=torch.float64)

FUNCTIONS = {  # name: (phi, phi^-1, starts, lr)
    "rosenbrock": (
        lambda x: torch.stack([1 - x[0], 10 * (x[1] - x[0] ** 2)]),
        lambda z: torch.stack([1 - z[0], (1 - z[0]) ** 2 + z[1] / 10]),
        [(-1.5, 2.5), (-1.0, -0.5), (1.5, 0.5)],
        1e-3,
    ),
    "booth": (
        lambda x: A @ x - B,
        lambda z: torch.linalg.solve(A, z + B),
        [(-8.0, 8.0), (9.0, -6.0), (0.0, 0.0)],
        1e-2,
    ),
}


class LevelSetRotation:
    """SO(2) acting on the plane through phi: exact on every level set of |phi|^2."""

    def __init__(self, phi, inverse):
        self.phi, self.inverse = phi, inverse

    def basis(self, dtype=torch.float64) -> torch.Tensor:
        return J.to(dtype)

    def element(self, z: torch.Tensor) -> torch.Tensor:
        return exp_map(z[None], self.basis(z.dtype))[0]

    def transform(self, params: dict, g: torch.Tensor) -> dict:
        return {"x": self.inverse(g @ self.phi(params["x"]))}


class Point(nn.Module):
    def __init__(self, x0):
        super().__init__()
        self.x = nn.Parameter(torch.tensor(x0, dtype=torch.float64))


def descend(name: str, x0, steps: int, every: int | None) -> list[float]:
    phi, inverse, _, lr = FUNCTIONS[name]
    point, action = Point(x0), LevelSetRotation(phi, inverse)
    f = lambda p: (phi(p["x"]) ** 2).sum()  # noqa: E731
    values = []
    for i in range(steps + 1):
        if every is not None and (i == 0 or (every and i % every == 0)) and i < steps:
            teleport(point, f, [action], steps=20, lr=0.3, loss_tol=1e-9, descent_lr=lr, guard=5)
        loss = f({"x": point.x})
        values.append(float(loss.detach()))
        if i == steps:
            break
        (g,) = torch.autograd.grad(loss, [point.x])
        with torch.no_grad():
            point.x -= lr * g
    return values


def steps_to(values: list[float], level: float):
    return next((i for i, v in enumerate(values) if v <= level), None)


def main() -> None:
    ap = Parser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    args = ap.parse_args()
    print(
        f"{'function':11s} {'start':13s} {'run':22s} {'f(start)':>9s} {'to 1e-2':>8s} {'to 1e-4':>8s} {'f(end)':>10s}"
    )
    for name, (_, _, starts, lr) in FUNCTIONS.items():
        for x0 in starts:
            for label, every in (("plain", None), ("teleport at 0", 0), ("teleport every 50", 50)):
                v = descend(name, x0, args.steps, every)
                print(
                    f"{name:11s} {str(x0):13s} {label + f' (lr {lr:g})':22s} {v[0]:9.3g} "
                    f"{steps_to(v, 1e-2)!s:>8s} {steps_to(v, 1e-4)!s:>8s} {v[-1]:10.3g}"
                )


if __name__ == "__main__":
    main()
