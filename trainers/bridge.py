"""The `liegan bridge RUN` pipeline: put a discovered algebra to work on a network trained on the same data.

Stages (each a progress bar; logged to TensorBoard under OUT, the figures collected in OUT/bridge.json):
  1. data        rebuild the run's dataset from algebra.json ('config'.data, else the dataset name)
  2. fit         train a small predictor (Adam, full batch): next state from state, or the class
  3. invariance  test-loss change along the discovered generators vs random generators of equal norm
     ensemble    test loss of copies of the predictor moved along the algebra, predictions averaged, vs the
                 predictor alone and vs the same ensemble along random generators
  4. descent     plain gradient descent of the same architecture from a fresh start, tracking the conserved
                 quantities' drift, and the same descent with symmetry teleportation; steps and training
                 seconds each needs to reach a fraction of the initial training loss
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import torch

from liegan.algebra import Algebra, load_algebra
from liegan.bridge.actions import mlp
from liegan.bridge.conserved import ConservationTracker
from liegan.bridge.data import TARGETS, n_in, n_out, subset
from liegan.bridge.ensemble import coefficient_sigma, cyclic_powers, symmetry_ensemble
from liegan.bridge.induced import loss_invariance_error
from liegan.bridge.teleport import OBJECTIVES, TeleportSchedule
from liegan.config import BridgeConfig, DataConfig, TrainCommandConfig, YKind, apply_overrides
from liegan.datasets import Dataset, load_dataset
from liegan.io import InputError, jsonable, write_text_atomic
from liegan.trainers.predictor import Descent, Teleporting, descend, fit_predictor
from liegan.trainers.writer import RunWriter

MODELS = {"mlp": "relu", "leaky": "leaky_relu", "linear": "identity"}  # each has an exact action


def check_config(cfg: BridgeConfig) -> None:
    """One line naming the option for a value the pipeline cannot use."""
    p, d = cfg.predictor, cfg.descent
    if p.model not in MODELS:
        raise InputError(f"predictor.model {p.model!r}: use one of {', '.join(sorted(MODELS))}")
    if d.objective not in OBJECTIVES:
        raise InputError(f"descent.objective {d.objective!r}: use one of {', '.join(OBJECTIVES)}")
    if d.teleport_action not in ("exact", "data"):
        raise InputError(f"descent.teleport_action {d.teleport_action!r}: use 'exact' or 'data'")
    if not 0 < p.test_fraction < 1:
        raise InputError(f"predictor.test_fraction {p.test_fraction}: must lie strictly between 0 and 1")
    if not 0 < d.target < 1:
        raise InputError(f"descent.target {d.target}: must lie strictly between 0 and 1")
    if not p.hidden or min(p.hidden) < 1:
        raise InputError(f"predictor.hidden {p.hidden}: needs at least one hidden layer, each of width >= 1")


def data_config_for(algebra: Algebra, src: Path) -> DataConfig:
    """The run's DataConfig: from algebra.json's config['data'] when present, else from its dataset name."""
    data = algebra.config.get("data") if isinstance(algebra.config, dict) else None
    if isinstance(data, dict):
        return apply_overrides(TrainCommandConfig(), {"data": data}, source=f"{src}: data config").data
    if algebra.dataset in ("", "unknown"):
        raise InputError(f"{src}: the algebra names no dataset and holds no data config; the bridge needs the data")
    return DataConfig(dataset=algebra.dataset)


def load_data(algebra: Algebra, src: Path, cfg: BridgeConfig) -> tuple[Dataset, Dataset, dict]:
    """Train and test splits in float64, scaled by one scalar (which commutes with every linear action)."""
    dc = data_config_for(algebra, src)
    ds = load_dataset(dc)
    kind = str(ds.info.y_kind)
    if kind not in TARGETS or ds.y is None:
        raise InputError(
            f"{src}: dataset {dc.dataset!r} has no target (y kind {kind!r}); the bridge trains a predictor"
        )
    if ds.info.n_dim != algebra.n_dim:
        raise InputError(
            f"{src}: the algebra acts on R^{algebra.n_dim} but dataset {dc.dataset!r} has n = {ds.info.n_dim}"
        )
    gen = torch.Generator().manual_seed(cfg.predictor.seed)
    idx = torch.randperm(len(ds), generator=gen)[: cfg.predictor.max_samples]
    x = ds.x[idx].double()
    scale = float(x.std()) or 1.0
    y = ds.y[idx] if kind == YKind.CLASS else ds.y[idx].double()
    data = Dataset(x / scale, y / scale if kind == YKind.VECTOR else y, ds.info)
    n_test = max(1, int(len(idx) * cfg.predictor.test_fraction))
    info = {"dataset": dc.dataset, "y_kind": kind, "n_train": len(idx) - n_test, "n_test": n_test, "input_scale": scale}
    return subset(data, slice(n_test, None)), subset(data, slice(0, n_test)), info


def _bar(enabled: bool, total: int, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="step", disable=not enabled, dynamic_ncols=True, leave=True)


def _fit_stage(model, train, test, cfg: BridgeConfig, writer: RunWriter, progress: bool) -> dict:
    with _bar(progress, cfg.predictor.fit_steps, "1/4 fit predictor") as bar:

        def on_step(step: int, values: dict) -> None:
            bar.update(1)
            if "test_loss" in values:
                writer.scalars({f"fit/{k}": v for k, v in values.items()}, step)
                bar.set_postfix(train=f"{values['train_loss']:.3g}", test=f"{values['test_loss']:.3g}")

        return fit_predictor(model, train, cfg.predictor.fit_steps, cfg.predictor.fit_lr, test, on_step)


def _symmetry_stage(model, test, algebra: Algebra, cfg: BridgeConfig, writer: RunWriter, progress: bool):
    with _bar(progress, 2, "2/4 invariance, ensemble") as bar:
        inv = loss_invariance_error(
            model, test, algebra, t=cfg.invariance.t, n_random=cfg.invariance.n_random, seed=cfg.predictor.seed
        )
        bar.update(1)
        powers = cyclic_powers(algebra) if cfg.ensemble.sigma is None else None
        sigma = cfg.ensemble.sigma if cfg.ensemble.sigma is not None else coefficient_sigma(algebra)
        ens = symmetry_ensemble(
            model, test, algebra, members=cfg.ensemble.members, sigma=sigma, seed=cfg.predictor.seed, z=powers
        )
        bar.update(1)
    values = {"invariance/ratio": inv.ratio}
    values |= {f"invariance/discovered_{i}": c.change for i, c in enumerate(inv.discovered)}
    values |= {f"invariance/random_{i}": c.change for i, c in enumerate(inv.random)}
    values |= {f"ensemble/test_loss_{k}": getattr(ens, k) for k in ("single", "discovered", "random")}
    writer.scalars(values, 0)
    return inv, ens


def _descent(
    model,
    train,
    test,
    cfg: BridgeConfig,
    writer: RunWriter,
    progress: bool,
    teleporting,
    desc: str,
    tracker: ConservationTracker | None = None,
) -> Descent:
    d, tag = cfg.descent, "plain" if teleporting is None else "teleport"
    with _bar(progress, d.steps + 1, desc) as bar:

        def on_step(step: int, loss: float) -> None:
            bar.update(1)
            writer.scalars({f"descent/train_loss_{tag}": loss}, step)
            if tracker is not None:
                tracker.update(step)

        return descend(
            model,
            train,
            d.lr,
            d.steps,
            batch_size=d.batch_size,
            teleporting=teleporting,
            val=test,
            seed=cfg.predictor.seed,
            on_step=on_step,
        )


def _larger_steps(fresh, train, cfg: BridgeConfig, target: float, n_plain: int | None) -> dict:
    """Steps plain descent needs to the target at lr and at each of descent.plain_lr_factors times lr (each run
    stopped there), and the fastest of them: a teleport gains nothing that a larger step size gives as well."""
    d = cfg.descent
    steps = {d.lr: n_plain}
    for factor in d.plain_lr_factors:
        lr = d.lr * factor
        run = descend(copy.deepcopy(fresh), train, lr, d.steps, d.batch_size, seed=cfg.predictor.seed, stop_at=target)
        steps[lr] = run.steps_to(target)
    reached = {lr: n for lr, n in steps.items() if n is not None}
    best = min(reached, key=reached.get) if reached else None
    return {"steps": [[lr, n] for lr, n in steps.items()], "best_lr": best, "best_steps": reached.get(best)}


def _descent_stage(fresh, train, test, cfg: BridgeConfig, writer: RunWriter, progress: bool) -> tuple[dict, float]:
    d = cfg.descent
    plain_model, tele_model = copy.deepcopy(fresh), copy.deepcopy(fresh)
    tracker = ConservationTracker(plain_model, writer, tag="conserved")
    plain = _descent(plain_model, train, test, cfg, writer, progress, None, "3/4 plain descent", tracker)
    teleporting = Teleporting(
        schedule=TeleportSchedule(at=tuple(d.teleport_at), every=d.teleport_every),
        actions=d.teleport_action,
        batches=d.teleport_batches,
        batch_size=d.teleport_batch_size,
        steps=d.teleport_steps,
        lr=d.teleport_lr,
        objective=d.objective,
        loss_tol=d.loss_tol,
    )
    tele = _descent(tele_model, train, test, cfg, writer, progress, teleporting, "4/4 teleported descent")
    target = d.target * plain.losses[0]
    n_plain, n_tele = plain.steps_to(target), tele.steps_to(target)
    s_plain, s_tele = plain.seconds_to(target), tele.seconds_to(target)
    tuned = _larger_steps(fresh, train, cfg, target, n_plain)
    out = {
        "initial_loss": plain.losses[0],
        "target": target,
        "target_fraction": d.target,
        "steps_plain": n_plain,
        "steps_teleport": n_tele,
        "seconds_plain": s_plain,
        "seconds_teleport": s_tele,
        "speedup_steps": n_plain / max(n_tele, 1) if n_plain is not None and n_tele is not None else None,
        "speedup_seconds": s_plain / s_tele if s_plain is not None and s_tele else None,
        "plain_lr_steps": tuned["steps"],
        "best_plain_lr": tuned["best_lr"],
        "steps_best_plain": tuned["best_steps"],
        "speedup_steps_vs_best_plain": (
            tuned["best_steps"] / max(n_tele, 1) if tuned["best_steps"] is not None and n_tele is not None else None
        ),
        "final_plain": plain.losses[-1],
        "final_teleport": tele.losses[-1],
        "val_final_plain": plain.val_losses[-1],
        "val_final_teleport": tele.val_losses[-1],
        "teleports": [
            {
                "step": r.step,
                "train_before": r.train_before,
                "train_after": r.train_after,
                "seconds": r.seconds,
                "batches": [{**vars(b), "loss_change": b.loss_change} for b in r.batches],
            }
            for r in tele.teleports
        ],
    }
    writer.scalars({k: v for k, v in out.items() if k.startswith("speedup") and v is not None}, 0)
    return out, tracker.max_drift


def run_bridge(
    run: str | Path, cfg: BridgeConfig | None = None, out: str | Path | None = None, progress: bool = False
) -> dict:
    """The whole pipeline; returns the dict written to OUT/bridge.json."""
    cfg = cfg or BridgeConfig()
    check_config(cfg)
    src = Path(run)
    algebra = load_algebra(src)
    out = Path(out) if out is not None else (src if src.is_dir() else src.parent) / "bridge"
    train, test, info = load_data(algebra, src, cfg)
    t0 = time.time()
    torch.manual_seed(cfg.predictor.seed)
    fresh = mlp(n_in(train), cfg.predictor.hidden, n_out(train), MODELS[cfg.predictor.model]).double()
    model = copy.deepcopy(fresh)
    writer = RunWriter(out, train.info, every=1)
    try:
        fitted = _fit_stage(model, train, test, cfg, writer, progress)
        inv, ens = _symmetry_stage(model, test, algebra, cfg, writer, progress)
        descent, q_drift = _descent_stage(fresh, train, test, cfg, writer, progress)
    finally:
        writer.close()
    result = jsonable(
        {
            "algebra": str(src),
            "out": str(out),
            "dataset": info,
            "config": cfg.to_dict(),
            "fit": fitted,
            "invariance_ratio": inv.ratio,
            "invariance": inv.to_dict(),
            "ensemble": ens.to_dict(),
            "q_drift": q_drift,
            "descent": descent,
            "seconds": time.time() - t0,
        }
    )
    write_text_atomic(out / "bridge.json", json.dumps(result, indent=2) + "\n")
    return result
