"""`liegan data fetch` and `liegan data synth`: put built-in datasets' files in place."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

TOPQUARK_RECORD = 2603256
SPLIT_CHOICES = ["train", "val", "test", "all"]


def register(sub) -> None:
    p = sub.add_parser(
        "data",
        help="download or synthesise dataset files (fetch, synth)",
        description="Put a built-in dataset's files where `liegan train` finds them.",
    )
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION")

    f = dsub.add_parser(
        "fetch",
        help="download a dataset's files and verify their md5",
        description="Download from Zenodo (record 2603256 for topquark) with a progress bar; "
        "resumes a partial download, verifies the md5 and renames atomically. "
        "Verified files are never downloaded again (no network access).",
    )
    f.add_argument("dataset", choices=["topquark"])
    f.add_argument("--split", choices=SPLIT_CHOICES, default="train", help="which file (default train)")
    f.add_argument(
        "--data-dir", help="data root (default $LIEGAN_DATA, else ~/.cache/liegan); files go to <root>/topquark/"
    )
    f.add_argument("--api", help="records API base URL (default $LIEGAN_ZENODO_API, else https://zenodo.org/api)")
    f.add_argument("--force", action="store_true", help="download again even if a file is present")
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    f.set_defaults(func=cmd_fetch)

    s = dsub.add_parser(
        "synth",
        help="write synthetic jets in the real files' format",
        description="Write train/val/test.h5 of synthetic top and QCD jets with the real "
        "dataset's columns and pandas/PyTables layout (needs pandas and tables: "
        "pip install 'liegan[topquark]').",
    )
    s.add_argument("dataset", choices=["topquark"])
    s.add_argument(
        "--jets", type=int, default=200_000, help="training jets (val and test get a third each; default 200000)"
    )
    s.add_argument("--out", help="output folder (default <data root>/topquark, where `liegan train` looks)")
    s.add_argument("--data-dir", help="data root used when --out is not given")
    s.add_argument("--split", choices=SPLIT_CHOICES, default="all", help="which files to write (default all)")
    s.add_argument("--seed", type=int, default=0, help="the jets are a pure function of this seed")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_synth)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _root(args: argparse.Namespace) -> Path:
    from liegan.config import DataConfig
    from liegan.datasets.base import data_root

    return data_root(DataConfig(data_dir=args.data_dir)) / "topquark"


def _splits(choice: str) -> list[str]:
    return ["train", "val", "test"] if choice == "all" else [choice]


def cmd_fetch(args: argparse.Namespace) -> int:
    from liegan.datasets.fetch import check_folder, fetch_record_files, is_verified

    dest = check_folder(_root(args), f"--data-dir {args.data_dir}" if args.data_dir else None)
    names = [f"{s}.h5" for s in _splits(args.split)]
    already = [n for n in names if is_verified(dest / n) and not args.force]
    paths = fetch_record_files(TOPQUARK_RECORD, names, dest, api=args.api, progress=not args.quiet, force=args.force)
    for p in paths:
        print(f"{p}: {'verified earlier' if p.name in already else 'verified'}")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from liegan.datasets.topquark_synth import synthesize

    out = Path(args.out).expanduser() if args.out else _root(args)
    summaries = synthesize(
        out, args.jets, seed=args.seed, splits=_splits(args.split), progress=not args.quiet and sys.stderr.isatty()
    )
    for split, s in summaries.items():
        print(
            f"{out / (split + '.h5')}: top jet mass median {s['top_mass_median']:.1f} GeV, "
            f"QCD jet mass median {s['qcd_mass_median']:.1f} GeV "
            f"(falling spectrum: {s['qcd_mass_falls']}), "
            f"W-like subjet pair in {100 * s['w_pair_fraction_top']:.0f}% of top jets "
            f"vs {100 * s['w_pair_fraction_qcd']:.0f}% of QCD jets"
        )
    return 0
