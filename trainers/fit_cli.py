"""`liegan fit RUN`: train predictors with and without the discovered symmetry and compare them."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
from pathlib import Path

from liegan.io import InputError
from liegan.trainers.bridge_cli import positive_int as _positive  # the option type `liegan bridge` uses


def _fractions(v: str) -> list[float]:
    try:
        out = [float(s) for s in v.split(",") if s.strip()]
    except ValueError:
        out = [-1.0]
    if any(not 0 < f <= 1 for f in out):
        raise argparse.ArgumentTypeError(f"expected comma-separated fractions in (0, 1], got {v!r}")
    return out


def register(subparsers) -> None:
    # nothing here imports torch: `liegan --help` and the commands that do not train stay fast
    p = subparsers.add_parser(
        "fit",
        help="put a discovered symmetry to work: augmentation and equivariant models vs a plain one",
        description="Train a predictor on the run's dataset in each mode (plain; augmented by the discovered "
        "group; equivariant to the discovered algebra; the same two with the dataset's known "
        "symmetry), over several seeds; report test loss, out-of-distribution test loss, test "
        "loss against training-set size and equivariance error. Writes OUT/fit.json and "
        "TensorBoard logs (OUT defaults to RUN/fit).",
    )
    p.add_argument("run", metavar="RUN", help="run folder, algebra.npz/.json or .pt export")
    p.add_argument(
        "--protocol",
        default="fast",
        help="fast (default, about a minute per mode) or paper (the original's two-body "
        "augmentation experiment: 2,000 epochs, 3 seeds)",
    )
    p.add_argument(
        "--modes",
        default=None,
        help="comma-separated subset of plain, augmented, equivariant, augmented_true, "
        "equivariant_true, equivariant_euclidean (default: all that apply)",
    )
    p.add_argument("--seeds", type=_positive, default=None, help="seeds per mode (medians are reported)")
    p.add_argument("--epochs", type=_positive, default=None, help="passes over the full training set")
    p.add_argument(
        "--sizes",
        type=_fractions,
        default=None,
        metavar="F1,F2",
        help="training-set fractions for the size curve (the full set is always included)",
    )
    p.add_argument(
        "--sigma",
        type=float,
        default=None,
        help="augmentation spread (default: the algebra's own coefficient distribution)",
    )
    p.add_argument("--constituents", type=_positive, default=None, help="top tagging: constituents per jet")
    p.add_argument("--max-samples", type=_positive, default=None, help="samples used (other than two-body)")
    p.add_argument("--data-dir", default=None, help="where the dataset lives (default: the run's)")
    p.add_argument("--device", default=None, help="auto (CUDA when present), cpu or cuda:N")
    p.add_argument("--out", default=None, help="output folder (default RUN/fit)")
    p.add_argument(
        "--nproc",
        type=int,
        default=1,
        metavar="N",
        help="train each model with N processes on this machine (DDP; runs torchrun --standalone --nproc_per_node=N)",
    )
    # the resolved config a `--nproc N` launch hands to its workers (composed and checked once, in the launcher)
    p.add_argument("--resolved", help=argparse.SUPPRESS)
    p.set_defaults(func=main)


def compose(args):
    """The FitConfig of the command line (or of the launcher's resolved file, in a worker)."""
    from liegan.trainers.fit import FitConfig, config_for

    if args.resolved:
        return FitConfig(**json.loads(Path(args.resolved).read_text()))
    modes = None if args.modes is None else [m.strip() for m in args.modes.split(",") if m.strip()]
    if args.sigma is not None and not args.sigma > 0:
        raise InputError(f"--sigma must be positive, got {args.sigma}")
    return config_for(
        args.protocol,
        modes=modes,
        seeds=args.seeds,
        epochs=args.epochs,
        sizes=args.sizes,
        sigma=args.sigma,
        constituents=args.constituents,
        max_samples=args.max_samples,
        data_dir=args.data_dir,
        device=args.device,
    )


def launch(args, cfg) -> int:
    """``liegan fit --nproc N``: the workers read the config composed here from a file."""
    from liegan.trainers.distributed import launch_command

    with tempfile.TemporaryDirectory(prefix="liegan-fit-") as tmp:
        resolved = Path(tmp) / "fit-config.json"
        resolved.write_text(json.dumps(dataclasses.asdict(cfg)))
        out = ["--out", args.out] if args.out else []
        return launch_command(args.nproc, ["fit", args.run, "--resolved", str(resolved), *out])


def main(args) -> int:
    from liegan.trainers.cli import MAX_NPROC
    from liegan.trainers.distributed import launched_by_torchrun, worker_errors_reported
    from liegan.trainers.fit import HEADER, run_fit

    if not 1 <= args.nproc <= MAX_NPROC:
        raise InputError(f"--nproc {args.nproc}: allowed: 1 to {MAX_NPROC} processes")
    cfg = compose(args)
    if args.nproc > 1 and not launched_by_torchrun():
        return launch(args, cfg)
    main_rank = int(os.environ.get("RANK", "0")) == 0  # under torchrun rank 0 reports for all
    if main_rank:
        print(HEADER)
    with worker_errors_reported("fit"):
        res = run_fit(args.run, cfg, args.out)
    if not main_rank:
        return 0
    for mode, why in res["skipped"].items():
        print(f"note: {mode} skipped: {why}")
    print(
        f"medians over {cfg.seeds} seeds; equivariance error: relative, under the "
        f"{'known' if res['groups']['true'] else 'discovered'} group; {res['seconds']:.0f} s; "
        f"written {res['out']}"
    )
    return 0
