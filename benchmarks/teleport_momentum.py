"""Noether's charge of heavy-ball momentum decays at the predicted rate.

    python benchmarks/teleport_momentum.py [--betas 0.5,0.8,0.9,0.95] [--lr 0.01] [--steps 200]

Second-order gradient flow x'' + gamma x' + grad L(x) = 0 with a loss invariant under a one-parameter group
with antisymmetric generator T has the charge Q_0 = <T x, x'>, which decays as exp(-gamma t).  Heavy-ball
momentum (v <- beta v - lr grad L, x <- x + v) is its discretisation with time step dt = sqrt(lr) and
gamma = (1 - beta) / dt.  Here x = (U, V) of a two-layer linear regression network x -> U V x (U 6x5, V 5x4),
T the generator (V, U) -> (M V, -U M) of the GL_5 symmetry for an antisymmetric M (a rotation of the hidden
layer): per step, Q_0 should shrink by beta exactly (<T x, grad L> = 0 by invariance and <T v, v> = 0 by
antisymmetry).  Prints, per beta, the measured decay rate per unit time (fit of log |Q_0| over the steps)
against the continuous prediction gamma = (1 - beta) / dt and the discrete one -ln(beta) / dt; and, as a
control, the same fit for a symmetric M (not a charge of momentum: it drifts at its own pace).
"""

from __future__ import annotations

import numpy as np
import torch

from liegan.cli import Parser


def charge(U, V, vU, vV, M) -> float:
    """<T x, v> with T x = (M V, -U M)."""
    return float((M @ V * vV).sum() - (U @ M * vU).sum())


def heavy_ball(beta: float, lr: float, steps: int, M: torch.Tensor, seed: int = 0) -> np.ndarray:
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(32, 4, generator=gen, dtype=torch.float64)
    Y = X @ torch.randn(4, 6, generator=gen, dtype=torch.float64)
    U = torch.randn(6, 5, generator=gen, dtype=torch.float64).requires_grad_(True)
    V = torch.randn(5, 4, generator=gen, dtype=torch.float64).requires_grad_(True)
    # a start with velocity along the symmetry as well, so that Q_0 is not zero to begin with
    vU = -0.1 * U.detach() @ M + 0.01 * torch.randn(6, 5, generator=gen, dtype=torch.float64)
    vV = 0.1 * M @ V.detach()
    out = []
    for _ in range(steps):
        out.append(charge(U.detach(), V.detach(), vU, vV, M))
        loss = ((X @ V.T @ U.T - Y) ** 2).mean()
        gU, gV = torch.autograd.grad(loss, (U, V))
        vU, vV = beta * vU - lr * gU, beta * vV - lr * gV
        with torch.no_grad():
            U += vU
            V += vV
    return np.array(out)


def rate(q: np.ndarray, dt: float) -> float:
    """Decay rate per unit time from a least-squares fit of log |Q_0| against t."""
    t = np.arange(len(q)) * dt
    return float(-np.polyfit(t, np.log(np.abs(q)), 1)[0])


def main() -> None:
    ap = Parser(description=__doc__.splitlines()[0])
    ap.add_argument("--betas", default="0.5,0.8,0.9,0.95")
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args()
    dt = args.lr**0.5
    A = torch.randn(5, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    anti, sym = A - A.T, A + A.T
    print(f"dt = sqrt(lr) = {dt:.3g}")
    print(
        f"{'beta':>5s} {'gamma=(1-beta)/dt':>18s} {'-ln(beta)/dt':>13s} {'measured':>10s} {'rel. err (discrete)':>20s} "
        f"{'symmetric M (control)':>22s}"
    )
    for beta in (float(b) for b in args.betas.split(",")):
        q = heavy_ball(beta, args.lr, args.steps, anti)
        decay = -np.log(np.maximum(np.abs(q / q[0]), 1e-300))
        n = int(np.searchsorted(decay, 30.0))  # stop before Q_0 meets rounding
        measured = rate(q[: max(n, 10)], dt)
        discrete = -np.log(beta) / dt
        control = rate(heavy_ball(beta, args.lr, args.steps, sym), dt)
        print(
            f"{beta:5.2f} {(1 - beta) / dt:18.4f} {discrete:13.4f} {measured:10.4f} "
            f"{abs(measured - discrete) / discrete:20.2e} {control:22.4f}"
        )


if __name__ == "__main__":
    main()
