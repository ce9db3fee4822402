"""`liegan bridge RUN`: discovered generators as parameter-space symmetries of a predictor."""

from __future__ import annotations

import argparse

from liegan.bridge.config import MODELS, BridgeConfig
from liegan.io import InputError


def _positive(v: str) -> int:
    try:
        n = int(v)
    except ValueError:
        n = 0
    if n <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v!r}")
    return n


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "bridge", help="loss invariance, symmetry ensembles, conserved quantities and teleportation from a "
                       "discovered algebra",
        description="Train a small predictor on the run's dataset and use the discovered generators as "
                    "parameter-space symmetries; writes OUT/bridge.json and TensorBoard logs.")
    p.add_argument("run", help="run folder, algebra.npz/.json or .pt export")
    p.add_argument("--model", choices=sorted(MODELS), default="mlp")
    p.add_argument("--teleport-every", type=_positive, default=None, metavar="K",
                   help="teleport every K descent steps (default: once, at the start)")
    p.add_argument("--out", default=None, help="output folder (default: RUN/bridge)")
    p.add_argument("--max-samples", type=_positive, default=BridgeConfig.max_samples)
    p.add_argument("--fit-steps", type=_positive, default=BridgeConfig.fit_steps)
    p.add_argument("--gd-steps", type=_positive, default=BridgeConfig.gd_steps)
    p.add_argument("--ensemble-members", type=_positive, default=BridgeConfig.ensemble_members,
                   help="copies of the predictor moved along the algebra whose predictions are averaged")
    p.add_argument("--ensemble-sigma", type=float, default=None, metavar="S",
                   help="spread of the members' coefficients (default: the one the algebra was trained with; "
                        "for a discrete symmetry, the powers of the group element)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=main)


def main(args) -> int:
    from liegan.bridge.run import run_bridge

    cfg = BridgeConfig(model=args.model, teleport_every=args.teleport_every, max_samples=args.max_samples,
                       fit_steps=args.fit_steps, gd_steps=args.gd_steps, ensemble_members=args.ensemble_members,
                       ensemble_sigma=args.ensemble_sigma, seed=args.seed)
    try:
        res = run_bridge(args.run, cfg, args.out)
    except ValueError as e:  # shape mismatches between algebra and data surface as one line
        raise InputError(f"{args.run}: {e}") from None
    d = res["descent"]
    print(f"invariance_ratio {res['invariance_ratio']:.3g}  (test loss {res['fit']['test_loss']:.3g})")
    e = res["ensemble"]
    print(f"ensemble of {e['members']} along the algebra ({e['coefficients']}): test loss {e['discovered']:.4g} "
          f"vs {e['single']:.4g} alone, {e['random']:.4g} along random generators")
    print(f"q_drift {res['q_drift']:.3g} over {cfg.gd_steps} descent steps")
    print(f"teleport_speedup {res['teleport_speedup']:.3g}  (to loss {d['threshold']:.3g}: "
          f"{d['steps_plain']} plain vs {d['steps_teleport']} teleported steps)")
    return 0
