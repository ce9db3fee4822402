"""`liegan fit RUN`: put a discovered symmetry to work and measure what it buys.

Stages (TensorBoard under OUT, the figures in OUT/fit.json, OUT = RUN/fit by default):
  1. task     the run's dataset as a prediction task with an in-distribution and an out-of-distribution
              split (fit_tasks.py)
  2. groups   the group the discovered algebra generates (its coefficient distribution, or the cyclic group
              of an integer-coefficient run) and, when the dataset declares one, the known symmetry's group
              at the same reach; the null spaces an equivariant model needs, with their gaps
  3. modes    per seed, train a predictor per mode: plain; augmented by the discovered group; equivariant
              to it (EMLP for vector targets, an invariant-feature model for scalar and class targets, the
              J-inner-product particle network for top tagging, group averaging for a cyclic group); the
              same two with the known symmetry; the tagger with the Euclidean metric as a control
  4. score    test loss, out-of-distribution test loss, test loss against training-set size, equivariance
              error under the known group (else the discovered one); medians over seeds

The verdict rule: an invariant-feature model needs the algebra's invariant metric, and when the shipped
solver does not accept one (``metric`` is None) the mode is skipped with the solver's message.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from liegan.algebra import Algebra, load_algebra
from liegan.config import YKind
from liegan.io import InputError, jsonable, write_text_atomic
from liegan.metric import solve_metric
from liegan.symmetric import (
    EMLP,
    Group,
    GroupAveraged,
    GroupSpaces,
    InvariantMLP,
    ParticleNet,
    PlainMLP,
    augment,
    commutant,
    equivariance_error,
    group_of,
    merged_generator,
)
from liegan.symmetric.nullspace import EXACT
from liegan.trainers.bridge import data_config_for
from liegan.trainers.distributed import Dist, rank_seed, setup, shard, wrap
from liegan.trainers.fit_tasks import FitTask, Split, pairs_task, twobody_task
from liegan.trainers.writer import RunWriter

MODES = ("plain", "augmented", "equivariant", "augmented_true", "equivariant_true", "equivariant_euclidean")


@dataclass
class FitConfig:
    protocol: str = "fast"
    seeds: int = 3
    epochs: int = 60  # passes over the full training set; smaller sets train for the same number of steps
    batch_size: int = 256
    lr: float = 3e-3
    hidden: list[int] = field(default_factory=lambda: [32, 32, 32])  # plain MLP widths (scalars)
    emlp_hidden: list[int] = field(default_factory=lambda: [16, 16])  # EMLP widths (copies of V)
    sigma: float | None = None  # augmentation spread; None: the algebra's own coefficient distribution
    sizes: list[float] = field(default_factory=lambda: [0.1])  # training-set fractions (the full set is free)
    modes: list[str] = field(default_factory=lambda: list(MODES))
    # two-body windows: trajectories of `steps` states, w_in past -> w_out future, n_train / n_test orbits
    steps: int = 20
    w_in: int = 5
    w_out: int = 5
    n_train: int = 300
    n_test: int = 300
    max_samples: int = 20_000  # other datasets: samples used (a quarter held out)
    constituents: int | None = None  # top tagging: constituents per jet (None: the run's)
    ood: bool = True  # also train on the out-of-distribution slice
    eval_average: int = 0  # > 0: also score augmented models averaged over this many g^-1 f(g x) at test
    data_dir: str | None = None
    device: str = "auto"
    threads: int = 1  # torch CPU threads: the predictors are too small to gain from more, and lose on a busy machine


# The original's augmentation experiment: 814 / 790 orbits of 20 steps, 10 windows 5 -> 5 (8,140 / 7,900
# samples), MLP 3 x 32 ReLU, Adam 1e-4, batch 512, 2,000 epochs, z ~ N(0, 3^2).  Only in-distribution.
PROTOCOLS = {
    "fast": {},
    "paper": {
        "n_train": 814,
        "n_test": 790,
        "epochs": 2000,
        "batch_size": 512,
        "lr": 1e-4,
        "sigma": 3.0,
        "sizes": [],
        "modes": ["plain", "augmented", "augmented_true"],
        "ood": False,
        "eval_average": 16,
    },
}


def config_for(protocol: str, **overrides) -> FitConfig:
    if protocol not in PROTOCOLS:
        raise InputError(f"--protocol {protocol!r}: use one of {sorted(PROTOCOLS)}")
    cfg = FitConfig(protocol=protocol, **PROTOCOLS[protocol])
    cfg = dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", cfg.device):
        raise InputError(f"--device {cfg.device!r}: use auto, cpu, cuda or cuda:N")
    return cfg


def device_of(cfg: FitConfig) -> torch.device:
    if cfg.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(cfg.device)


# ------------------------------------------------------------------------------------------- 2. groups


@dataclass
class Groups:
    """The discovered group, the known one (None when the dataset declares none) at the same reach, their
    invariant metrics (None when not accepted, with the solver's message) and equivariant-map spaces."""

    discovered: Group
    true: Group | None
    metric: np.ndarray | None
    metric_message: str
    true_metric: np.ndarray | None
    spaces: dict = field(default_factory=dict)
    # the discovered generator with its eigenvalue clusters merged (one continuous generator only; else None,
    # with the reason): the nearby algebra whose exact commutant the equivariant model's maps approximate
    merged: Group | None = None
    merged_note: str = ""

    def eval_group(self) -> Group:
        """Equivariance errors are measured under the known symmetry when there is one."""
        return self.true if self.true is not None else self.discovered


def reach(group: Group) -> float:
    """How far the group's samples move: coefficient spread times the mean generator norm."""
    return (group.scale if not group.discrete else 1.0) * float(group.generators.norm(dim=(-2, -1)).mean())


def known_group(symmetry, discovered: Group) -> Group:
    """The group of a dataset's known Symmetry: its cyclic group exp(2 pi k / m T) when it is discrete, else
    its Lie group sampled at the discovered group's reach."""
    T = torch.as_tensor(symmetry.generators)
    if symmetry.discrete is not None:
        return Group(2 * math.pi / symmetry.discrete.order * T, "cyclic", order=symmetry.discrete.order)
    return Group(T, "normal", reach(discovered) / reach(Group(T, "normal", 1.0)))


def build_groups(algebra: Algebra, info, cfg: FitConfig) -> Groups:
    from liegan.bridge.ensemble import cyclic_powers

    powers = cyclic_powers(algebra) if cfg.sigma is None else None
    disc = group_of(algebra, order=None if powers is None else len(powers), sigma=cfg.sigma)
    res = solve_metric(algebra.generators, mask=algebra.mask)
    msg = f"{res.solve} solve: {res.message}"
    true = true_metric = None
    if info.symmetry is not None:
        true = known_group(info.symmetry, disc)
        true_metric = info.symmetry.metric  # None when the known symmetry preserves a family, or nothing
    groups = Groups(disc, true, res.metric, msg, true_metric)
    groups.merged, groups.merged_note = merged_group(disc)
    for name, g in (("discovered", disc), ("true", true)):
        if g is not None and not g.discrete:
            try:
                groups.spaces[name] = GroupSpaces(g)
            except ValueError as e:
                groups.spaces[name] = str(e)
    return groups


def merged_group(disc: Group) -> tuple[Group | None, str]:
    if disc.discrete or disc.generators.shape[0] != 1:
        return None, "defined for one continuous generator"
    M = merged_generator(disc.generators[0])
    if M is None:
        return None, "the generator is not diagonalisable to working precision"
    return Group(M[None], disc.distribution, disc.scale), "eigenvalue clusters merged"


def relative_distance(A: torch.Tensor, B: torch.Tensor) -> float:
    """||A - s B|| / ||s B|| with s the least-squares scale of B onto A (how far apart two generators point)."""
    s = (A * B).sum() / (B * B).sum()
    return float((A - s * B).norm() / (s * B).norm())


# ---------------------------------------------------------------------------------------- 3. models


class Skip(Exception):
    """A mode that cannot be run for this algebra or dataset; the message says why."""


def symmetric_model(task: FitTask, group: Group | None, spaces, metric, metric_note: str, cfg: FitConfig):
    """The model equivariant (or invariant) to ``group`` that fits the task."""
    if group is None:
        raise Skip("the dataset declares no known symmetry")
    vector = task.y_kind == YKind.VECTOR
    if task.particles or not (vector or group.discrete):
        if metric is None:
            raise Skip(f"no invariant metric accepted ({metric_note}); the invariant-feature model needs one")
        if task.particles:
            return ParticleNet(metric, task.n_out, cfg.hidden[0])
        return InvariantMLP(np.asarray(metric)[None], task.k_in, task.n_out, cfg.hidden)
    if group.discrete:
        return GroupAveraged(PlainMLP(task.k_in, task.n, task.out_shape, cfg.hidden), group, vector)
    if isinstance(spaces, str):
        raise Skip(spaces)
    return EMLP(spaces, task.k_in, task.out_shape[0], cfg.emlp_hidden)


def group_of_mode(mode: str, groups: Groups) -> Group | None:
    """The group an augmented mode trains with (None for the other modes)."""
    return {"augmented": groups.discovered, "augmented_true": groups.true}.get(mode)


def make_model(mode: str, task: FitTask, groups: Groups, cfg: FitConfig) -> tuple[torch.nn.Module, Group | None]:
    """(model, augmentation group or None) for a mode; raises Skip when the mode does not apply."""
    plain = lambda: PlainMLP(task.k_in, task.n, task.out_shape, cfg.hidden)  # noqa: E731
    if mode == "plain":
        return plain(), None
    if mode in ("augmented", "augmented_true"):
        if group_of_mode(mode, groups) is None:
            raise Skip("the dataset declares no known symmetry")
        return plain(), group_of_mode(mode, groups)
    if mode == "equivariant":
        return symmetric_model(
            task, groups.discovered, groups.spaces.get("discovered"), groups.metric, groups.metric_message, cfg
        ), None
    if mode == "equivariant_true":
        return symmetric_model(
            task, groups.true, groups.spaces.get("true"), groups.true_metric, "the dataset's known metric", cfg
        ), None
    if mode == "equivariant_euclidean":
        if not task.particles:
            raise Skip("the Euclidean control is for the particle tagger only")
        return ParticleNet(np.eye(task.n), task.n_out, cfg.hidden[0]), None
    raise InputError(f"unknown mode {mode!r}: use any of {list(MODES)}")


# ------------------------------------------------------------------------------------------ 4. training


def loss_fn(task: FitTask):
    if task.y_kind == YKind.CLASS:
        return torch.nn.functional.cross_entropy
    return torch.nn.functional.mse_loss


def predict(model: torch.nn.Module, x: torch.Tensor, device: torch.device, batch: int = 4096) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model(x[i : i + batch].to(device)).cpu() for i in range(0, len(x), batch)])


# Augmentation draws each batch's elements from a pool of POOL fresh group samples, redrawn every POOL_EVERY
# steps: a matrix exponential per sample per step costs more than the small predictors' whole step.
POOL, POOL_EVERY = 4096, 64
ALONE = Dist()  # one process: rank 0 of 1, every collective a no-op


def train_model(
    model,
    split: Split,
    task: FitTask,
    group: Group | None,
    cfg: FitConfig,
    steps: int,
    seed: int,
    log=None,
    ctx: Dist = ALONE,
) -> torch.nn.Module:
    """Adam on minibatches for ``steps`` steps; with ``group``, every batch moved by fresh group elements.
    Under torchrun (``ctx``) every rank draws the same global batch of ``cfg.batch_size`` and trains on its
    shard, DDP averaging the gradients, so W processes take the steps one process takes."""
    device = device_of(cfg)
    model.to(device)
    net = wrap(model, ctx, device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(seed)  # the batches: the same stream on every rank
    # the group elements: a stream per rank, as the adversarial loop draws its coefficients
    aug = gen if not ctx.enabled else torch.Generator().manual_seed(rank_seed(seed, ctx.rank + 1))
    x_all, y_all = split.x_train.to(device), split.y_train.to(device)
    crit, n = loss_fn(task), len(split.x_train)
    every = max(1, steps // 50)
    for step in range(steps):
        idx = shard(torch.randint(0, n, (min(cfg.batch_size, n),), generator=gen), ctx).to(device)
        x, y = x_all[idx], y_all[idx]
        if group is not None:
            if step % POOL_EVERY == 0:
                pool = group.sample(POOL, aug).to(device=device, dtype=x.dtype)
            x, y = augment(group, x, y, task.y_kind == YKind.VECTOR, aug, pool)
        loss = crit(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if log is not None and (step % every == 0 or step == steps - 1):
            log(float(loss.detach()), step)
    return model.eval()


def rejection(prob: np.ndarray, y: np.ndarray, eps_s: float = 0.3) -> float:
    """1 / eps_B at signal efficiency eps_s (inf when no background passes the cut)."""
    cut = np.quantile(prob[y == 1], 1 - eps_s)
    eps_b = float(np.mean(prob[y == 0] >= cut))
    return 1.0 / eps_b if eps_b > 0 else math.inf


def scores(model, x: torch.Tensor, y: torch.Tensor, task: FitTask, cfg: FitConfig) -> dict:
    out = predict(model, x, device_of(cfg))
    res = {"loss": float(loss_fn(task)(out, y))}
    if task.y_kind == YKind.CLASS and task.n_out == 2 and len(torch.unique(y)) == 2:
        from sklearn.metrics import roc_auc_score

        prob, yy = torch.softmax(out, -1)[:, 1].numpy(), y.numpy()
        res.update(
            accuracy=float(np.mean((prob > 0.5) == yy)),
            auc=float(roc_auc_score(yy, prob)),
            rejection_30=rejection(prob, yy),
        )
    return res


# --------------------------------------------------------------------------------------- 5. per mode


def run_seed(
    mode: str,
    task: FitTask,
    groups: Groups,
    cfg: FitConfig,
    seed: int,
    steps: int,
    writer: RunWriter,
    ctx: Dist = ALONE,
) -> dict:
    """One seed of one mode: the in-distribution fit, the out-of-distribution fit and the size curve.  Under
    torchrun every rank scores the same trained model on the whole test set (rank 0 reports)."""

    def fit(split: Split, tag: str):
        torch.manual_seed(seed)
        model, group = make_model(mode, task, groups, cfg)
        log = lambda v, s: writer.scalars({f"{mode}/{tag}/seed{seed}/train_loss": v}, s)  # noqa: E731
        return train_model(model, split, task, group, cfg, steps, seed, log, ctx)

    vector, device = task.y_kind == YKind.VECTOR, device_of(cfg)
    model = fit(task.iid, "iid")
    iid = scores(model, task.iid.x_test, task.iid.y_test, task, cfg)
    x_eq = task.iid.x_test[:2000].to(device)
    out = {f"test_{k}" if k != "loss" else "test_loss": v for k, v in iid.items()}
    out["equivariance_error"] = equivariance_error(model, x_eq, groups.eval_group(), vector, seed)
    out["equivariance_error_discovered"] = equivariance_error(model, x_eq, groups.discovered, vector, seed)
    if groups.merged is not None:
        out["equivariance_error_merged"] = equivariance_error(model, x_eq, groups.merged, vector, seed)
    if cfg.eval_average and group_of_mode(mode, groups) is not None:  # the original's aug_eval
        avg = GroupAveraged(model, group_of_mode(mode, groups), vector, cfg.eval_average)
        out["test_loss_averaged"] = scores(avg, task.iid.x_test, task.iid.y_test, task, cfg)["loss"]
    if cfg.ood:
        ood = scores(fit(task.ood, "ood"), task.ood.x_test, task.ood.y_test, task, cfg)
        out.update({f"ood_test_{k}" if k != "loss" else "ood_test_loss": v for k, v in ood.items()})
    curve = {}
    for frac in cfg.sizes:
        n = max(2, int(round(frac * len(task.iid.x_train))))
        curve[n] = scores(fit(task.iid.head(n), f"n{n}"), task.iid.x_test, task.iid.y_test, task, cfg)["loss"]
    curve[len(task.iid.x_train)] = iid["loss"]
    out["size_curve"] = curve
    return out


def medians(per_seed: list[dict]) -> dict:
    """Median over seeds of every figure (size curves point by point)."""
    out = {}
    for k, v in per_seed[0].items():
        if isinstance(v, dict):
            out[k] = {n: float(np.median([r[k][n] for r in per_seed])) for n in v}
        else:
            out[k] = float(np.median([r[k] for r in per_seed]))
    return out


# ------------------------------------------------------------------------------------------ pipeline


def build_task(algebra: Algebra, src: Path, cfg: FitConfig) -> tuple[FitTask, object]:
    """The task and the dataset's DatasetInfo (for its known symmetry)."""
    from liegan.datasets import get_spec, load_dataset

    dc = data_config_for(algebra, src)
    dc = dataclasses.replace(dc, data_dir=cfg.data_dir or dc.data_dir, constituents=cfg.constituents or dc.constituents)
    if dc.dataset == "twobody" and not dc.data_file:  # windows of whole orbits, not the run's pairs
        info = get_spec("twobody").load(dataclasses.replace(dc, n_samples=1)).info
        task = twobody_task(cfg, dc.seed)
    else:
        task = pairs_task(dc, cfg, dc.seed)
        info = load_dataset(dataclasses.replace(dc, n_samples=1)).info
    if info.n_dim != algebra.n_dim:
        raise InputError(
            f"{src}: the algebra acts on R^{algebra.n_dim} but dataset {dc.dataset!r} has n = {info.n_dim}"
        )
    return task, info


def run_fit(
    run: str | Path,
    cfg: FitConfig | None = None,
    out: str | Path | None = None,
    progress=print,
    task: FitTask | None = None,
) -> dict:
    """The whole pipeline; returns the dict written to OUT/fit.json.  ``task``: train on this task instead
    of the one built from the run's dataset (the dataset still supplies the known symmetry).  Started by
    torchrun, the processes train each model together (DDP; gloo on CPU) and rank 0 writes OUT."""
    cfg = cfg or FitConfig()
    ctx, device = setup(device_of(cfg))
    try:
        return _run_fit(run, dataclasses.replace(cfg, device=str(device)), out, progress, task, ctx)
    finally:
        ctx.close()


def _run_fit(run, cfg: FitConfig, out, progress, task: FitTask | None, ctx: Dist) -> dict:
    src = Path(run)
    algebra = load_algebra(src)
    out = Path(out) if out is not None else (src if src.is_dir() else src.parent) / "fit"
    unknown = [m for m in cfg.modes if m not in MODES]
    if unknown:
        raise InputError(f"--modes: unknown mode(s) {unknown}; use any of {list(MODES)}")
    t0 = time.time()
    built, info = build_task(algebra, src, cfg)
    task = task or built
    groups = build_groups(algebra, info, cfg)
    steps = cfg.epochs * math.ceil(len(task.iid.x_train) / cfg.batch_size)
    writer = RunWriter(out, info, every=1, enabled=ctx.is_main)
    progress = progress if ctx.is_main else (lambda _: None)
    if writer.enabled:  # the algebra put to work, beside the figures it buys
        writer.images(algebra.generators, None, 0)
    modes, skipped = {}, {}
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        for mode in cfg.modes:
            t_mode = time.time()
            try:
                per_seed = [run_seed(mode, task, groups, cfg, s, steps, writer, ctx) for s in range(cfg.seeds)]
            except Skip as e:
                skipped[mode] = str(e)
                progress(f"{mode}: skipped ({e})")
                continue
            modes[mode] = {**medians(per_seed), "seconds": time.time() - t_mode, "per_seed": per_seed}
            writer.scalars({f"fit/{mode}/{k}": v for k, v in modes[mode].items() if isinstance(v, float)}, 0)
            progress(row(mode, modes[mode]))
        writer.text("fit/table", "\n".join(["    " + HEADER] + ["    " + row(m, r) for m, r in modes.items()]), 0)
    finally:
        torch.set_num_threads(threads)
        writer.close()
    result = jsonable(
        {
            "algebra": str(src),
            "dataset": info.name,
            "task": task.info,
            "config": dataclasses.asdict(cfg),
            "steps": steps,
            "groups": groups_report(groups),
            "modes": modes,
            "skipped": skipped,
            "seconds": time.time() - t0,
            "device": str(device_of(cfg)),
            "processes": ctx.world,
            "equivariance_error_under": {
                "equivariance_error": "the known symmetry's group" if groups.true else "the discovered group",
                "equivariance_error_discovered": "the discovered algebra's group (its coefficient distribution)",
                "equivariance_error_merged": "the group of the discovered generator with its eigenvalue clusters "
                "merged (groups.merged), at the discovered group's coefficients",
            },
            "out": str(out),
        }
    )
    if ctx.is_main:
        write_text_atomic(out / "fit.json", json.dumps(result, indent=2) + "\n")
    return result


def groups_report(groups: Groups) -> dict:
    rep = {
        "discovered": {
            "distribution": groups.discovered.distribution,
            "scale": groups.discovered.scale,
            "order": groups.discovered.order,
            "metric": groups.metric,
            "metric_message": groups.metric_message,
        },
        "true": None if groups.true is None else {"scale": groups.true.scale, "metric": groups.true_metric},
    }
    for name, sp in groups.spaces.items():
        rep[name]["null_spaces"] = sp if isinstance(sp, str) else sp.report()
    L = groups.discovered.generators
    rep["merged"] = {"note": groups.merged_note}
    if groups.merged is not None:
        rep["merged"]["distance_from_discovered"] = relative_distance(groups.merged.generators, L)
        rep["merged"]["exact_maps"] = commutant("lie", groups.merged.generators, tol=EXACT).describe()
    if groups.true is not None and not groups.discovered.discrete and L.shape[0] == 1:
        T = groups.true.generators
        rep["discovered"]["distance_from_true"] = relative_distance(L, T)
        if groups.merged is not None:
            rep["merged"]["distance_from_true"] = relative_distance(groups.merged.generators, T)
    return rep


HEADER = f"{'mode':<22} {'test loss':>10} {'OOD loss':>10} {'equiv err':>10}  extra"


def row(mode: str, r: dict) -> str:
    extra = "  ".join(f"{k[5:]} {r[k]:.4g}" for k in ("test_accuracy", "test_auc", "test_rejection_30") if k in r)
    if "test_loss_averaged" in r:
        extra += f"averaged at test {r['test_loss_averaged']:.4g}"
    curve = "  n->loss " + ", ".join(f"{n}: {v:.3g}" for n, v in r["size_curve"].items())
    ood = f"{r['ood_test_loss']:>10.4g}" if "ood_test_loss" in r else f"{'-':>10}"
    return (
        f"{mode:<22} {r['test_loss']:>10.4g} {ood} {r['equivariance_error']:>10.3g}  {extra}"
        f"{curve if len(r['size_curve']) > 1 else ''}  ({r['seconds']:.0f} s)"
    )
