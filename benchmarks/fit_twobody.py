"""Two-body: what a discovered so(2) buys a predictor (`liegan fit`), three studies.

    python benchmarks/fit_twobody.py RUN --study paper    # the original's augmentation protocol, 3 seeds
    python benchmarks/fit_twobody.py RUN --study windows  # the same with 50-step orbits and 4 -> 1 windows
    python benchmarks/fit_twobody.py RUN --study ood      # the fast protocol: OOD split, size curve, EMLP

RUN is a two-body run folder (e.g. from a default `liegan train`).  Each study writes OUT/fit.json
(default RUN/fit-<study>) and prints the table with medians over seeds.

paper: 814 / 790 orbits of 20 steps, 10 windows 5 -> 5 each (8,140 / 7,900 samples), MLP 3 x 32 ReLU,
Adam 1e-4, batch 512, 2,000 epochs, augmentation z ~ N(0, 3^2); test MSE on the unrotated test set, and the
same models averaged over 16 random g^-1 f(g x) at test time (the original notebook's aug_eval).  The
published single-run figures: ground-truth SO(2) 1.39e-5, LieGAN 2x2 3.79e-5.
windows: the original dataset class's defaults instead (trajectories of 50 steps, 4 states -> the next
one), at about the same number of samples (181 / 176 orbits x 45 windows), plain and ground truth only.
ood: every mode, with the out-of-distribution split (train on windows whose q1 phase lies in [0, pi/2),
test on the rest) and the training-size curve; targets: augmentation and the EMLP from the discovered
algebra >= 10x below plain's OOD loss and within 1.5x of the ground truth's; the EMLP's equivariance error
>= 100x below plain's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from liegan.trainers.fit import HEADER, config_for, run_fit

STUDIES = {
    "paper": ("paper", {}),
    "windows": (
        "paper",
        {"steps": 50, "w_in": 4, "w_out": 1, "n_train": 181, "n_test": 176, "modes": ["plain", "augmented_true"]},
    ),
    "ood": ("fast", {}),
}


def ratios(modes: dict) -> list[str]:
    """The targets of the ood study, as measured."""
    out = []
    plain = modes.get("plain", {})
    for name in ("augmented", "equivariant"):
        m, t = modes.get(name), modes.get(f"{name}_true")
        if m and t and "ood_test_loss" in m:
            out.append(
                f"{name}: plain OOD / {name} OOD = {plain['ood_test_loss'] / m['ood_test_loss']:.3g} "
                f"(target >= 10); {name} / {name}_true OOD = {m['ood_test_loss'] / t['ood_test_loss']:.3g} "
                f"(target <= 1.5)"
            )
    if "equivariant" in modes and plain:
        out.append(
            f"equivariance error plain / equivariant = "
            f"{plain['equivariance_error'] / max(modes['equivariant']['equivariance_error'], 1e-300):.3g} "
            "(target >= 100)"
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("--study", choices=sorted(STUDIES), default="ood")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    protocol, overrides = STUDIES[args.study]
    cfg = config_for(protocol, seeds=args.seeds, epochs=args.epochs, **overrides)
    out = args.out or str(Path(args.run) / f"fit-{args.study}")
    print(HEADER, flush=True)
    res = run_fit(args.run, cfg, out, progress=lambda s: print(s, flush=True))
    print(f"task: {res['task']}")
    nulls = res["groups"]["discovered"].get("null_spaces", {})
    if nulls:
        print(
            f"discovered algebra's equivariant maps V -> V: {nulls['maps']['message']}; "
            f"invariant forms: {nulls['forms']['message']}"
        )
    for line in ratios(res["modes"]):
        print(line)
    print(f"{res['seconds']:.0f} s on {res['device']}; written {out}/fit.json")


if __name__ == "__main__":
    main()
