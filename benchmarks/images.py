"""Rotated digits (and upright digits, the negative control): for each seed, the learned affine generator's
rotation share (|cos| with the rotation of aff(2)), its parts in words, how far its rotation reaches, the
discriminator's final real/fake probabilities, and the wall time of the run.

    python benchmarks/images.py [--dataset rotmnist|mnist] [--preset default|paper] [--seeds 0 1 2]
                                [--set train.epochs=...]

Time counts the whole ``train`` call (reading the built-in digits and rotating them included).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from liegan.affine import affine_parts, describe_affine
from liegan.cli import Parser
from liegan.trainers import resolve_config, train
from liegan.trainers.configure import set_options

DIGIT_SIZE = 28  # pixels per side of the digits (built-in, and MNIST's own files)


def run(dataset: str, preset: str, seed: int, overrides: dict, logdir: str) -> dict:
    cfg = resolve_config(
        dataset,
        preset,
        overrides={**overrides, "train.seed": seed, "run.logdir": logdir, "run.name": f"{dataset}-{preset}-{seed}"},
    )
    start = time.perf_counter()
    result = train(cfg, progress=False)
    L = result.algebra.generators[0]
    last = result.history[-1]
    return {
        "seed": seed,
        "run_s": time.perf_counter() - start,
        "epochs": int(result.metrics["epochs"]),
        "converged": bool(result.algebra.verdict.get("converged")),
        "rotation_share": affine_parts(L)["rotation"]["share"],
        "norm": float(np.linalg.norm(L)),
        "words": describe_affine(L, cfg.generator.sigma, DIGIT_SIZE),
        "real_prob": last["disc/real_prob"],
        "fake_prob": last["disc/fake_prob"],
    }


def main() -> None:
    ap = Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="rotmnist")
    ap.add_argument("--preset", default="default")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    args = ap.parse_args()
    overrides = set_options(args.set)[0]
    with tempfile.TemporaryDirectory() as logdir:
        for seed in args.seeds:
            r = run(args.dataset, args.preset, seed, overrides, logdir)
            print(
                f"{args.dataset} --preset {args.preset} seed {seed}: rotation share {r['rotation_share']:.4f}, "
                f"||L|| {r['norm']:.3f}, D real/fake {r['real_prob']:.2f}/{r['fake_prob']:.2f}, "
                f"{r['run_s']:.0f} s for {r['epochs']} epochs (verdict converged: {r['converged']}); {r['words']}",
                flush=True,
            )


if __name__ == "__main__":
    main()
