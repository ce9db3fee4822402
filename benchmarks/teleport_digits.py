"""Teleportation on a real classifier: scikit-learn's 8x8 digits, a 3-hidden-layer leaky-ReLU MLP.

    python benchmarks/teleport_digits.py [--seeds 5] [--steps 400] [--lrs 0.5,0.1] [--hidden 32]

Full-batch gradient descent on the cross-entropy (1,347 training images, 450 for validation), each seed's
plain run against teleported runs from the same initialisation with the same steps:
  rescale/grad_norm    the exact neuron-rescaling symmetry of every hidden layer (whole training set),
                       maximising ||grad L||^2 (the paper's objective), a step kept only while five descent
                       steps from it gain more (without that guard the 80x larger gradient diverges)
  rescale/grad_norm/5  five unguarded ascent steps of the same, computed from one gradient (closed form)
  rescale/lookahead    the same orbit, maximising the decrease of the next descent step (at the descent's lr)
  rescale/lookahead/25 ... and again every 25 steps
  data/grad_norm       the data-dependent GL action on every pair of consecutive layers, on 4 mini-batches of
                       32 images (the hidden width: exact on each batch), as the paper teleports
  --study bound        what a rescaling teleport at step 0 can do at all: plain descent over a grid of step
                       sizes and linear warm-ups (the baseline a teleport must beat), and every layer-uniform
                       rescaling exp(a_l) of the three hidden layers with a_l in --scales, chosen per seed
                       after the fact (an oracle no teleport objective over those scalings can beat)
Prints, per learning rate, the median over seeds of steps and training seconds (teleports included) to
half and a fifth of the initial training loss, the speed-ups, the largest relative loss change at a
teleport on its batch and on the whole training set, the factor the first teleport gained in ||grad L||^2,
the seconds spent teleporting, and the validation loss at the end.
"""

from __future__ import annotations

import itertools
import statistics
import time

import torch
from sklearn.datasets import load_digits

from liegan.bridge.actions import actions_for, load_params, mlp, params_of
from liegan.bridge.data import prediction_loss, subset
from liegan.bridge.teleport import TeleportSchedule
from liegan.cli import Parser
from liegan.trainers.predictor import Teleporting, descend, labelled

VARIANTS = {
    "plain": None,
    "rescale/grad_norm": dict(steps=20, lr=0.2, guard=5),
    "rescale/grad_norm/5": dict(steps=5, lr=0.2),
    "rescale/lookahead": dict(steps=20, lr=0.2, objective="lookahead"),
    "rescale/lookahead/25": dict(steps=20, lr=0.2, objective="lookahead", every=25),
    "data/grad_norm": dict(actions="data", batches=4, steps=10, lr=0.1),
}


def digits(seed: int = 0):
    d = load_digits()
    X = torch.tensor(d.data, dtype=torch.float64)[:, None, :] / 16.0
    perm = torch.randperm(len(X), generator=torch.Generator().manual_seed(seed))
    data = labelled(X[perm], torch.tensor(d.target)[perm], "class", "digits")
    return subset(data, slice(0, 1347)), subset(data, slice(1347, None))


def plan(spec: dict | None) -> Teleporting | None:
    if spec is None:
        return None
    spec = dict(spec)
    every = spec.pop("every", 0)
    return Teleporting(schedule=TeleportSchedule(at=(0,), every=every), **spec)


def one(variant: str, seed: int, lr: float, steps: int, hidden: int, train, val) -> dict:
    torch.manual_seed(seed)
    model = mlp(64, [hidden] * 3, 10, "leaky_relu").double()
    run = descend(model, train, lr, steps, teleporting=plan(VARIANTS[variant]), val=val, seed=seed)
    L0 = run.losses[0]
    out = {"L0": L0, "final": run.losses[-1], "val": run.val_losses[-1]}
    for name, f in (("half", 0.5), ("fifth", 0.2)):
        out[name], out[name + "_s"] = run.steps_to(f * L0), run.seconds_to(f * L0)
    tele = run.teleports
    out["batch_change"] = max((b.loss_change for t in tele for b in t.batches), default=0.0)
    out["train_change"] = max((abs(t.train_after - t.train_before) / t.train_before for t in tele), default=0.0)
    first = tele[0].batches if tele else []
    out["gsq_gain"] = statistics.median(b.grad_sq_after / b.grad_sq_before for b in first) if first else 1.0
    out["teleport_s"] = sum(t.seconds for t in tele)
    return out


def _to_half(seed: int, hidden: int, train, lr: float, steps: int, warmup: int = 0, scales=None) -> tuple:
    """Steps to half the initial training loss from seed's initialisation, rescaled first by exp(scales[l]) on
    hidden layer l when given; and the relative loss change that rescaling made."""
    torch.manual_seed(seed)
    model = mlp(64, [hidden] * 3, 10, "leaky_relu").double()
    with torch.no_grad():
        before = float(prediction_loss(model, train))
    if scales is not None:
        theta = params_of(model)
        for a, v in zip(actions_for(model), scales, strict=True):
            theta = a.transform(theta, a.element(torch.full((hidden,), float(v), dtype=torch.float64)))
        load_params(model, theta)
    with torch.no_grad():
        change = abs(float(prediction_loss(model, train)) - before) / before
    run = descend(model, train, lr, steps, seed=seed, stop_at=0.5 * before, warmup=warmup)
    return run.steps_to(0.5 * before), change


def bound(args, train) -> None:
    """Tuned plain descent (step size and warm-up) against the best layer-uniform rescaling at step 0."""
    lrs, warmups = [float(v) for v in args.lrs.split(",")], [int(v) for v in args.warmups.split(",")]
    grid = list(itertools.product([float(v) for v in args.scales.split(",")], repeat=3))
    big = args.steps + 1  # "not reached" counts as one step past the end
    print(f"steps to half the initial loss, {args.steps} steps at most; lr in {lrs}, warm-up in {warmups}")
    rows = []
    for seed in range(args.seeds):
        settings = itertools.product(lrs, warmups)
        plain = {(lr, w): _to_half(seed, args.hidden, train, lr, args.steps, w)[0] or big for lr, w in settings}
        (lr, w), n_plain = min(plain.items(), key=lambda kv: kv[1])
        tele = {a: _to_half(seed, args.hidden, train, lr, args.steps, 0, a) for a in grid}
        a_best, (n_tele, _) = min(tele.items(), key=lambda kv: kv[1][0] or big)
        worst = max(c for _, c in tele.values())
        typical = statistics.median(n or big for n, _ in tele.values())
        rows.append((n_plain, n_tele or big))
        print(
            f"seed {seed}: plain at lr {lr} warm-up {w}: {n_plain} (of {len(plain)} settings); best of {len(grid)} "
            f"layer rescalings {a_best} at that lr: {n_tele or 'not reached'} ({n_plain / (n_tele or big):.2f}x), "
            f"their median {typical:.0f}; largest loss change at a rescaling {worst:.1e}"
        )
    ratio = statistics.median(p / t for p, t in rows)
    print(f"median over seeds of (tuned plain / best rescaling) steps: {ratio:.2f}x")


def _med(rows: list[dict], key: str) -> float:
    vals = [r[key] if r[key] is not None else float("inf") for r in rows]
    return statistics.median(vals)


def main() -> None:
    ap = Parser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--lrs", default="0.5,0.1", help="0.5: the best of 0.2/0.5/1.0 for plain descent")
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--study", choices=("compare", "bound"), default="compare")
    ap.add_argument("--warmups", default="0,20,50", help="--study bound: linear warm-up lengths tried for plain")
    ap.add_argument("--scales", default="-0.6,0,0.6", help="--study bound: log-scales a_l tried per hidden layer")
    args = ap.parse_args()
    torch.set_num_threads(1)  # tiny matrices: threads cost more than they gain on a shared machine
    train, val = digits()
    if args.study == "bound":
        bound(args, train)
        return
    t0 = time.time()
    for lr in (float(v) for v in args.lrs.split(",")):
        rows = {
            v: [one(v, s, lr, args.steps, args.hidden, train, val) for s in range(args.seeds)]
            for v in args.variants.split(",")
        }
        base = rows["plain"]
        print(f"\nlr {lr}, {args.steps} steps, {args.seeds} seeds (median; speed-up = plain / teleported, per seed)")
        print(
            f"{'variant':22s} {'to 1/2: steps':>13s} {'s':>6s} {'x steps':>7s} {'x time':>6s} "
            f"{'to 1/5: steps':>13s} {'x steps':>7s} {'x time':>6s} {'batch dL':>8s} {'train dL':>8s} "
            f"{'gsq x':>6s} {'tele s':>6s} {'val end':>7s}"
        )
        for v, rs in rows.items():
            sp = {}
            for k in ("half", "fifth"):
                sp[k] = statistics.median(
                    (b[k] or args.steps + 1) / r[k] if r[k] else 0.0 for b, r in zip(base, rs, strict=True)
                )
                sp[k + "_s"] = statistics.median(
                    b[k + "_s"] / r[k + "_s"] if r[k + "_s"] and b[k + "_s"] else 0.0
                    for b, r in zip(base, rs, strict=True)
                )
            print(
                f"{v:22s} {_med(rs, 'half'):13.0f} {_med(rs, 'half_s'):6.2f} "
                f"{sp['half']:7.2f} {sp['half_s']:6.2f} {_med(rs, 'fifth'):13.0f} {sp['fifth']:7.2f} "
                f"{sp['fifth_s']:6.2f} {max(r['batch_change'] for r in rs):8.1e} "
                f"{max(r['train_change'] for r in rs):8.1e} {_med(rs, 'gsq_gain'):6.1f} "
                f"{_med(rs, 'teleport_s'):6.2f} {_med(rs, 'val'):7.3f}"
            )
    print(f"\n{time.time() - t0:.0f} s in all")


if __name__ == "__main__":
    main()
