"""`liegan train`, `liegan datasets`, `liegan export`, `liegan runs`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

MAX_NPROC = 64  # processes on one machine

# command-line option -> (config key, help); None values mean "not given" and leave the config alone
TRAIN_OPTIONS = {
    "--dataset": ("data.dataset", "registered dataset (see `liegan datasets`); default twobody"),
    "--preset": ("run.preset", "the dataset's preset to start from ('default'; 'paper' = published protocol)"),
    "--data-file": ("data.data_file", "your own data: an HNN two-body pickle, or .npz/.h5 for --dataset custom"),
    "--data-dir": ("data.data_dir", "where built-in data are cached (default $LIEGAN_DATA, else ~/.cache/liegan)"),
    "--data-seed": ("data.seed", "seed of simulated data (the data are a pure function of it)"),
    "--n-samples": ("data.n_samples", "use at most this many samples"),
    "--y-kind": ("data.y_kind", "custom data: what y is (vector, scalar, class, none)"),
    "--constituents": ("data.constituents", "top tagging: leading constituents per jet"),
    "--epochs": ("train.epochs", "training epochs"),
    "--batch-size": ("train.batch_size", "samples per step"),
    "--channels": ("generator.channels", "c, the dimension of the algebra searched"),
    "--seed": ("train.seed", "seed of initialisation, sampling and data order (runs are reproducible on CPU)"),
    "--device": ("train.device", "auto (CUDA when present), cpu, cuda or cuda:N"),
    "--mask": ("generator.mask", "search space: none, blocks:2,2,2,2, twobody4x4 or a .npy/.npz mask file"),
    "--subgroup-from": (
        "generator.subgroup_from",
        "subgroup mode: keep the basis of this algebra (run folder or algebra file) fixed and learn only the "
        "coefficient distribution",
    ),
    "--coefficients": ("generator.coefficients", "coefficient distribution: normal, uniform or integer"),
    "--sigma": ("generator.sigma", "standard deviation of normal coefficients"),
    "--lambda-id": ("train.lambda_id", "weight of the identity regulariser"),
    "--eta": ("train.eta_ch", "weight of the channel-orthogonality regulariser"),
    "--lr-g": ("train.lr_g", "generator learning rate"),
    "--lr-d": ("train.lr_d", "discriminator learning rate"),
    "--checkpoint-every": ("train.checkpoint_every", "epochs between checkpoints (also at the end and on Ctrl-C)"),
    "--logdir": ("run.logdir", "parent folder of run folders (default runs)"),
    "--name": ("run.name", "run folder name (default <dataset>-<yyyymmdd-hhmmss>)"),
}


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def register(sub) -> None:
    p = sub.add_parser(
        "train",
        help="discover the symmetry algebra of a dataset",
        description="Train a LieGAN generator adversarially; writes a run folder with TensorBoard "
        "events, checkpoints and the exported algebra (algebra.npz + algebra.json).",
    )
    p.add_argument("--config", help="TOML file with [data] [generator] [discriminator] [train] [run] sections")
    p.add_argument("--resume", metavar="RUN", help="continue the run in this folder from its last checkpoint")
    for flag, (_, helptext) in TRAIN_OPTIONS.items():
        p.add_argument(flag, help=helptext)
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override any config field, e.g. --set train.eta_ch=0.5 (repeatable)",
    )
    # a --set in disguise, so it travels with the other overrides (config file, torchrun's workers)
    p.add_argument(
        "--stop-when-converged",
        action="append_const",
        dest="set",
        const="train.stop_when_converged=true",
        help="end the run at the first scoring point (about 100 a run) where the verdict's convergence test "
        "passes: the targets met and the score steady over its window (20%% of the planned steps, at least 100)",
    )
    p.add_argument(
        "--nproc",
        type=int,
        default=1,
        metavar="N",
        help=f"train with N processes on this machine, 1 to {MAX_NPROC} (runs torchrun --standalone "
        "--nproc_per_node=N)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    # the resolved config a `--nproc N` launch hands to its workers (composed and checked once, in the launcher)
    p.add_argument("--resolved", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_train)

    d = sub.add_parser("datasets", help="list the registered datasets and their presets")
    d.set_defaults(func=cmd_datasets)

    e = sub.add_parser(
        "export",
        help="write a run's discovered generators as npz, json or pt",
        description="Export the algebra of a run folder (or an algebra file) for analysis scripts.",
    )
    e.add_argument("run", metavar="RUN", help="run folder or algebra file")
    e.add_argument("--format", choices=["npz", "json", "pt"], default="npz")
    e.add_argument("--out", help="output path (default <RUN>/algebra-export.<format>)")
    e.set_defaults(func=cmd_export)

    r = sub.add_parser(
        "runs",
        help="list run folders: dataset, start, state and verdict",
        description="One line per run folder under LOGDIR: its dataset, when it started, whether it "
        "finished, was interrupted (resumable), is running or failed, and its verdict.",
    )
    r.add_argument("logdir", metavar="LOGDIR", nargs="?", default="runs", help="parent folder of runs (default runs)")
    r.set_defaults(func=cmd_runs)


def overrides_from_args(args: argparse.Namespace) -> tuple[dict, dict[str, str]]:
    """The options given as {'section.key': value} (None: not given) and each key's option for errors."""
    from liegan.trainers.configure import set_options

    out = {key: getattr(args, _dest(flag)) for flag, (key, _) in TRAIN_OPTIONS.items()}
    labels = {key: flag for flag, (key, _) in TRAIN_OPTIONS.items()}
    extra, extra_labels = set_options(args.set)
    return out | extra, labels | extra_labels


def compose(args: argparse.Namespace):
    """The run's config from the command line, composed and checked here, before anything is created."""
    from liegan.config import config_from_dict, load_toml
    from liegan.io import InputError
    from liegan.trainers.configure import resolve_config, resume_config

    if args.resolved:
        return config_from_dict(load_toml(args.resolved), source=args.resolved)
    overrides, labels = overrides_from_args(args)
    if not args.resume:
        return resolve_config(toml_path=args.config, overrides=overrides, labels=labels)
    if args.config:
        raise InputError(
            f"--config {args.config}: a resumed run keeps its own config (options that may change "
            "on --resume: --epochs, --device, --checkpoint-every)"
        )
    return resume_config(args.resume, overrides=overrides, labels=labels)


def cmd_train(args: argparse.Namespace) -> int:
    from liegan.io import InputError
    from liegan.trainers.distributed import launch, launched_by_torchrun, worker_errors_reported

    if not 1 <= args.nproc <= MAX_NPROC:
        raise InputError(f"--nproc {args.nproc}: allowed: 1 to {MAX_NPROC} processes")
    cfg = compose(args)
    if args.nproc > 1 and not launched_by_torchrun():
        return launch(args.nproc, cfg, args.resume, args.quiet)
    from liegan.trainers import train

    with worker_errors_reported():
        result = train(cfg, resume=args.resume, progress=not args.quiet)
    summary = ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items() if isinstance(v, float))
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun rank 0 reports for all
        return 130 if result.interrupted else 0
    if result.interrupted:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        again = f"`liegan train --resume {result.run_dir}`"
        if world > 1:  # the same number of processes resumes exactly
            again = f"`liegan train --resume {result.run_dir} --nproc {world}` (or torchrun with {world} processes)"
        print(f"interrupted: checkpoint written; continue with {again}", file=sys.stderr)
        return 130
    print(f"run folder: {result.run_dir}")
    print("\n".join((result.algebra.verdict or {}).get("lines", [summary])))
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from liegan.datasets import REGISTRY

    for name, spec in sorted(REGISTRY.items()):
        presets = ", ".join(sorted(spec.presets)) or "-"
        print(f"{name:12s} {spec.description}  [presets: {presets}]")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from liegan.algebra import load_algebra

    algebra = load_algebra(args.run)
    src = Path(args.run)
    out = Path(args.out) if args.out else (src if src.is_dir() else src.parent) / f"algebra-export.{args.format}"
    path = algebra.export(args.format, out)
    print(f"wrote {path} ({algebra.n_channels} generators of size {algebra.n_dim}x{algebra.n_dim})")
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from liegan.trainers.runs import format_runs, list_runs

    print(format_runs(list_runs(args.logdir)))
    return 0
