"""`liegan bridge RUN`: put a discovered algebra to work on a network trained on the same data.

Stages (each logged to TensorBoard under OUT, the figures collected in OUT/bridge.json):
  1. data      rebuild the run's dataset from algebra.json ('config'.data, else the dataset name)
  2. fit       train a small predictor (Adam, full batch): next state from state, or the class
  3. invariance  test-loss change along the discovered generators vs random generators of equal norm
     ensemble  test loss of copies of the predictor moved along the algebra, predictions averaged, vs the
               predictor alone and vs the same ensemble along random generators (ensemble.py)
  4. descent   plain gradient descent from a fresh start, tracking the conserved quantities' drift,
               and the same descent with symmetry teleportation; the speed-up to a common loss threshold
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from pathlib import Path

import torch

from liegan.algebra import Algebra, load_algebra
from liegan.bridge.actions import mlp
from liegan.bridge.config import MODELS, BridgeConfig
from liegan.bridge.conserved import ConservationTracker
from liegan.bridge.ensemble import coefficient_sigma, cyclic_powers, symmetry_ensemble
from liegan.bridge.induced import Task, loss_invariance_error
from liegan.bridge.teleport import TeleportSchedule, descend
from liegan.config import DataConfig
from liegan.io import InputError, jsonable, write_text_atomic


def data_config_for(algebra: Algebra, src: Path) -> DataConfig:
    """The run's DataConfig: from algebra.json's config['data'] when present, else from its dataset name."""
    data = algebra.config.get("data") if isinstance(algebra.config, dict) else None
    if isinstance(data, dict):
        known = {f.name for f in dataclasses.fields(DataConfig)}
        return DataConfig(**{k: v for k, v in data.items() if k in known})
    if algebra.dataset in ("", "unknown"):
        raise InputError(f"{src}: the algebra names no dataset and holds no data config; "
                         "the bridge needs the data")
    return DataConfig(dataset=algebra.dataset)


def load_task(algebra: Algebra, src: Path, cfg: BridgeConfig) -> tuple[Task, Task, dict]:
    """Train and test Tasks in float64, scaled by one scalar (which commutes with every linear action)."""
    from liegan.datasets import load_dataset

    dc = data_config_for(algebra, src)
    ds = load_dataset(dc)
    kind = ds.info.y_kind
    if kind not in ("vector", "scalar", "class") or ds.y is None:
        raise InputError(f"{src}: dataset {dc.dataset!r} has no target (y kind {kind!r}); "
                         "the bridge trains a predictor")
    if ds.info.n_dim != algebra.n_dim:
        raise InputError(f"{src}: the algebra acts on R^{algebra.n_dim} "
                         f"but dataset {dc.dataset!r} has n = {ds.info.n_dim}")
    gen = torch.Generator().manual_seed(cfg.seed)
    idx = torch.randperm(len(ds), generator=gen)[: cfg.max_samples]
    x = ds.x[idx].double()
    scale = float(x.std()) or 1.0
    y = ds.y[idx] if kind == "class" else ds.y[idx].double()
    if kind == "vector":
        y = y / scale
    task = Task(x / scale, y, kind)
    n_test = max(1, int(len(idx) * cfg.test_fraction))
    info = {"dataset": dc.dataset, "y_kind": kind, "n_train": len(idx) - n_test, "n_test": n_test,
            "input_scale": scale}
    return task.subset(slice(n_test, None)), task.subset(slice(0, n_test)), info


def fit(model: torch.nn.Module, train: Task, test: Task, cfg: BridgeConfig, writer) -> dict:
    opt = torch.optim.Adam(model.parameters(), lr=cfg.fit_lr)
    for step in range(cfg.fit_steps):
        opt.zero_grad()
        loss = train.loss(model)
        loss.backward()
        opt.step()
        if step % 10 == 0 or step == cfg.fit_steps - 1:
            writer.add_scalar("fit/train_loss", float(loss.detach()), step)
            with torch.no_grad():
                writer.add_scalar("fit/test_loss", float(test.loss(model)), step)
    with torch.no_grad():
        return {"train_loss": float(train.loss(model)), "test_loss": float(test.loss(model))}


def run_bridge(run: str | Path, cfg: BridgeConfig | None = None, out: str | Path | None = None) -> dict:
    """The whole pipeline; returns the dict written to OUT/bridge.json."""
    from torch.utils.tensorboard import SummaryWriter

    cfg = cfg or BridgeConfig()
    if cfg.model not in MODELS:
        raise InputError(f"unknown model {cfg.model!r}: use one of {sorted(MODELS)}")
    src = Path(run)
    algebra = load_algebra(src)
    out = Path(out) if out is not None else (src if src.is_dir() else src.parent) / "bridge"
    train, test, info = load_task(algebra, src, cfg)
    t0 = time.time()
    torch.manual_seed(cfg.seed)
    make = lambda: mlp(train.n_in, cfg.hidden, train.n_out, MODELS[cfg.model]).double()  # noqa: E731
    writer = SummaryWriter(log_dir=str(out))
    try:
        # 1. fit a predictor, 2. how its test loss moves along discovered vs random generators
        fresh = make()
        model = copy.deepcopy(fresh)
        fitted = fit(model, train, test, cfg, writer)
        inv = loss_invariance_error(model, test, algebra, t=cfg.t, n_random=cfg.n_random, seed=cfg.seed)
        writer.add_scalar("invariance/ratio", inv.ratio, 0)
        for i, c in enumerate(inv.discovered):
            writer.add_scalar(f"invariance/discovered_{i}", c.change, 0)
        for i, c in enumerate(inv.random):
            writer.add_scalar(f"invariance/random_{i}", c.change, 0)
        powers = cyclic_powers(algebra) if cfg.ensemble_sigma is None else None  # a discrete symmetry
        sigma = cfg.ensemble_sigma if cfg.ensemble_sigma is not None else coefficient_sigma(algebra)
        ens = symmetry_ensemble(model, test, algebra, members=cfg.ensemble_members, sigma=sigma, seed=cfg.seed,
                                z=powers)
        for k in ("single", "discovered", "random"):
            writer.add_scalar(f"ensemble/test_loss_{k}", getattr(ens, k), 0)

        # 3. plain gradient descent from the fresh start: conserved quantities drift only at O(lr^2)
        loss_fn = lambda p: train.loss(plain_model, p)  # noqa: E731
        plain_model = copy.deepcopy(fresh)
        tracker = ConservationTracker(plain_model, writer, tag="conserved")
        plain = descend(plain_model, loss_fn, cfg.gd_lr, cfg.gd_steps,
                        on_step=lambda i, v: (writer.add_scalar("descent/plain", v, i), tracker.update(i)))

        # 4. the same descent with teleportation along the architecture's symmetry
        tele_model = copy.deepcopy(fresh)
        tele_fn = lambda p: train.loss(tele_model, p)  # noqa: E731
        schedule = TeleportSchedule(every=cfg.teleport_every, at=(0,))
        tele = descend(tele_model, tele_fn, cfg.gd_lr, cfg.gd_steps, schedule=schedule,
                       teleport_kw={"steps": cfg.teleport_steps, "lr": cfg.teleport_lr,
                                    "descent_lr": cfg.gd_lr},
                       on_step=lambda i, v: writer.add_scalar("descent/teleport", v, i))
        threshold = plain.losses[-1]  # where plain descent got to; how soon does teleportation get there?
        n_plain, n_tele = plain.steps_to(threshold), tele.steps_to(threshold)
        speedup = n_plain / max(n_tele, 1) if n_tele is not None else 0.0
        writer.add_scalar("descent/teleport_speedup", speedup, 0)
    finally:
        writer.close()

    result = jsonable({
        "algebra": str(src), "dataset": info, "model": cfg.model, "config": dataclasses.asdict(cfg),
        "fit": fitted,
        "invariance_ratio": inv.ratio, "invariance": inv.to_dict(),
        "ensemble": ens.to_dict(),
        "q_drift": tracker.max_drift,
        "teleport_speedup": speedup,
        "descent": {"threshold": threshold, "steps_plain": n_plain, "steps_teleport": n_tele,
                    "final_plain": plain.losses[-1], "final_teleport": tele.losses[-1],
                    "teleports": [{"step": s, **vars(r)} for s, r in tele.teleports]},
        "seconds": time.time() - t0,
    })
    write_text_atomic(out / "bridge.json", json.dumps(result, indent=2) + "\n")
    return result
