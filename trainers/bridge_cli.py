"""`liegan bridge RUN`: discovered generators as parameter-space symmetries of a predictor.

Settings resolve as: the defaults of liegan.config.BridgeConfig < --config TOML < the named options < --set.
"""

from __future__ import annotations

import argparse

# option -> (config key, help); a None value means "not given" and leaves the config alone
BRIDGE_OPTIONS = {
    "--model": ("predictor.model", "the predictor's hidden activation: mlp (ReLU), leaky (leaky ReLU) or linear"),
    "--max-samples": ("predictor.max_samples", "samples of the run's dataset used (a quarter held out for testing)"),
    "--fit-steps": ("predictor.fit_steps", "Adam steps (full batch) fitting the predictor"),
    "--seed": ("predictor.seed", "seed of the sample choice, the initialisation and the random controls"),
    "--ensemble-members": ("ensemble.members", "copies of the predictor moved along the algebra, predictions averaged"),
    "--ensemble-sigma": (
        "ensemble.sigma",
        "spread of the members' coefficients (unset: the spread the algebra was "
        "trained with; for a discrete symmetry, the powers of its element)",
    ),
    "--gd-steps": ("descent.steps", "gradient descent steps, plain and teleported, from a fresh initialisation"),
    "--gd-lr": ("descent.lr", "step size of that descent"),
    "--teleport-every": ("descent.teleport_every", "also teleport every K descent steps (0: only at the start)"),
    "--teleport-action": (
        "descent.teleport_action",
        "exact (the architecture's symmetry, whole training set) or data (the data-dependent action on mini-batches)",
    ),
    "--objective": ("descent.objective", "what a teleport maximises: grad_norm or lookahead (one step's decrease)"),
    "--target": ("descent.target", "the speed-up is measured to this fraction of the initial training loss"),
}


# options counted in whole positive numbers: checked by argparse, one line naming the option
COUNTS = ("--max-samples", "--fit-steps", "--ensemble-members", "--gd-steps")


def positive_int(v: str) -> int:
    """An argparse type: a positive integer."""
    try:
        n = int(v)
    except ValueError:
        n = 0
    if n <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v!r}")
    return n


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def _default(key: str):
    from liegan.config import BridgeConfig

    section, _, name = key.partition(".")
    return getattr(getattr(BridgeConfig(), section), name)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "bridge",
        help="loss invariance, symmetry ensembles, conserved quantities and teleportation from a discovered algebra",
        description="Train a small predictor on the run's dataset and use the discovered generators as "
        "parameter-space symmetries; writes OUT/bridge.json and TensorBoard logs, and prints a summary.",
    )
    p.add_argument("run", metavar="RUN", help="run folder, algebra.npz/.json or .pt export")
    p.add_argument("--out", default=None, help="output folder (default: RUN/bridge)")
    p.add_argument(
        "--config",
        default=None,
        metavar="TOML",
        help="TOML file with [predictor] [invariance] [ensemble] [descent] sections",
    )
    for flag, (key, text) in BRIDGE_OPTIONS.items():
        kind = positive_int if flag in COUNTS else None
        p.add_argument(
            flag, type=kind, default=None, metavar=_dest(flag).upper(), help=f"{text} (default: {_default(key)})"
        )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override any setting, e.g. --set descent.teleport_at=0,100 (repeatable)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=main)


def resolve(args: argparse.Namespace):
    from liegan.config import BridgeConfig, apply_overrides, load_toml
    from liegan.trainers.configure import set_options

    cfg = BridgeConfig()
    if args.config:
        apply_overrides(cfg, load_toml(args.config), source=args.config)
    given = {key: v for flag, (key, _) in BRIDGE_OPTIONS.items() if (v := getattr(args, _dest(flag))) is not None}
    flags = {key: flag for flag, (key, _) in BRIDGE_OPTIONS.items()}
    apply_overrides(cfg, given, source="command line", labels=flags)
    overrides, labels = set_options(args.set)
    apply_overrides(cfg, overrides, source="--set", labels=labels)
    return cfg


def main(args: argparse.Namespace) -> int:
    from liegan.io import InputError
    from liegan.trainers.bridge import run_bridge
    from liegan.trainers.bridge_summary import summary

    cfg = resolve(args)
    try:
        res = run_bridge(args.run, cfg, args.out, progress=not args.quiet)
    except ValueError as e:  # shape mismatches between algebra and data surface as one line
        raise InputError(f"{args.run}: {e}") from None
    print("\n".join(summary(res)))
    return 0
