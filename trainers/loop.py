"""The adversarial loop of LieGAN (REFERENCE.md §1), readable in one sitting.

Per minibatch, in this order:
  1. generator step:     L_G = BCE(D(gx, gy), 1) + lambda R_id + eta R_ch + mu ||L * M||_p
  2. discriminator step: L_D = 1/2 [BCE(D(x, y), 1) + BCE(D(gx, gy).detach, 0)]
Per epoch: scores against the dataset's known symmetry, TensorBoard summaries, periodic checkpoints.
SIGINT/SIGTERM finish the current step, write a checkpoint and stop; ``--resume`` continues exactly there.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from liegan.algebra import Algebra
from liegan.config import TrainCommandConfig, config_from_dict, to_toml
from liegan.datasets import Dataset, load_dataset
from liegan.discriminator import Discriminator
from liegan.generator import LieGenerator
from liegan.io import InputError, TrainingError, write_text_atomic
from liegan.lie import channel_orthogonality, identity_regulariser
from liegan.trainers.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from liegan.trainers.scoring import scalar_items, score
from liegan.trainers.writer import RunWriter

CHECKPOINT = Path("checkpoints") / "last.pt"


@dataclass
class RunResult:
    run_dir: Path
    algebra: Algebra
    metrics: dict
    history: list[dict] = field(default_factory=list)  # per-epoch scalars
    interrupted: bool = False


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"device {name!r} requested but CUDA is not available on this machine")
    try:
        return torch.device(name)
    except RuntimeError:
        raise InputError(f"unknown device {name!r} (use auto, cpu, cuda or cuda:N)") from None


def make_run_dir(cfg: TrainCommandConfig) -> Path:
    """Create <logdir>/<name> (default name <dataset>-<yyyymmdd-hhmmss>, suffixed if taken)."""
    base = cfg.run.name or f"{cfg.data.dataset}-{datetime.now():%Y%m%d-%H%M%S}"
    logdir = Path(cfg.run.logdir)
    run_dir, i = logdir / base, 1
    while run_dir.exists() and any(run_dir.iterdir()):
        if cfg.run.name:
            raise InputError(f"{run_dir}: run folder exists and is not empty (use --resume {run_dir} or another --name)")
        run_dir, i = logdir / f"{base}-{i}", i + 1
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise InputError(f"{run_dir}: cannot create the run folder ({e.strerror or e})") from None
    return run_dir


class StopFlag:
    """Set by SIGINT/SIGTERM; the loop checks it between steps so a checkpoint is always consistent."""

    def __init__(self):
        self.signal: int | None = None

    @contextlib.contextmanager
    def installed(self):
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        for s in old:
            signal.signal(s, self._handle)
        try:
            yield self
        finally:
            for s, h in old.items():
                signal.signal(s, h)

    def _handle(self, signum, frame):
        if self.signal is not None:  # a second Ctrl-C: the user insists
            raise KeyboardInterrupt
        self.signal = signum


class Trainer:
    def __init__(self, cfg: TrainCommandConfig, data: Dataset, device: torch.device):
        self.cfg, self.data, self.device = cfg, data, device
        info, t = data.info, cfg.train
        self.y_vector = info.y_kind == "vector"
        self.x = data.x.to(device)
        self.y = data.y.to(device) if (data.y is not None and info.y_kind != "none") else None
        self.G = LieGenerator(info.n_dim, cfg.generator).to(device)
        y_shape = tuple(self.y.shape[1:]) if self.y is not None else ()
        self.D = Discriminator(tuple(self.x.shape[1:]), info.y_kind if self.y is not None else "none", y_shape,
                               info.n_classes, cfg.discriminator).to(device)
        self.opt_g = torch.optim.Adam([p for p in self.G.parameters() if p.requires_grad], lr=t.lr_g, betas=tuple(t.betas_g))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=t.lr_d, betas=tuple(t.betas_d))
        self.epoch, self.step_in_epoch, self.global_step = 0, 0, 0
        self.perm: torch.Tensor | None = None

    # ---------------------------------------------------------------------------------------------- steps
    def generator_step(self, x: torch.Tensor, y: torch.Tensor | None):
        t = self.cfg.train
        self.D.requires_grad_(False)  # D's gradients are not needed here: skip computing them
        gx, gy, z = self.G(x, y, self.y_vector)
        logits = self.D(gx, gy)
        adv = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
        L = self.G.effective()
        r_id = identity_regulariser(gx, x)
        r_ch = channel_orthogonality(L, t.orth_form)
        r_norm = L.abs().pow(t.reg_p).sum().pow(1.0 / t.reg_p)
        loss = adv + t.lambda_id * r_id + t.eta_ch * r_ch + t.mu_reg * r_norm
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        self.D.requires_grad_(True)
        stats = {"loss/generator": loss, "loss/generator_adversarial": adv, "reg/identity": r_id,
                 "reg/channel_orthogonality": r_ch, "reg/norm": r_norm}
        return stats, gx.detach(), (gy.detach() if gy is not None else None), z.detach()

    def discriminator_step(self, x, y, gx, gy):
        real, fake = self.D(x, y), self.D(gx, gy)
        loss = 0.5 * (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                      + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        return {"loss/discriminator": loss, "disc/real_prob": torch.sigmoid(real).mean(),
                "disc/fake_prob": torch.sigmoid(fake).mean()}

    # ---------------------------------------------------------------------------------------------- state
    def state_dict(self) -> dict:
        return {"generator": self.G.state_dict(), "discriminator": self.D.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                "epoch": self.epoch, "step_in_epoch": self.step_in_epoch, "global_step": self.global_step,
                "perm": self.perm, "rng": rng_state(), "config": self.cfg.to_dict()}

    def load_state_dict(self, s: dict) -> None:
        self.G.load_state_dict(s["generator"])
        self.D.load_state_dict(s["discriminator"])
        self.opt_g.load_state_dict(s["opt_g"])
        self.opt_d.load_state_dict(s["opt_d"])
        self.epoch, self.step_in_epoch, self.global_step = s["epoch"], s["step_in_epoch"], s["global_step"]
        self.perm = s["perm"]
        set_rng_state(s["rng"])

    def algebra(self, metrics: dict) -> Algebra:
        info = self.data.info
        return Algebra(self.G.effective().detach().cpu().double().numpy(), self.G.mask.cpu().double().numpy(),
                       dataset=info.name, feature_names=list(info.feature_names),
                       coefficients=self.G.coefficients.describe(), config=self.cfg.to_dict(), metrics=metrics)


def _check_finite(stats: dict, trainer: Trainer, ckpt: Path) -> None:
    bad = [k for k, v in stats.items() if not torch.isfinite(v)]
    if bad or not torch.isfinite(trainer.G.L).all():
        where = f"epoch {trainer.epoch}, step {trainer.global_step}"
        keep = f"the last good checkpoint is {ckpt}" if ckpt.exists() else "no checkpoint had been written yet"
        raise TrainingError(f"non-finite {', '.join(bad) or 'generator'} at {where}: stopping; {keep}. "
                            "Try a lower learning rate (--lr-g/--lr-d) or check the data scale.")


def resume_config(run_dir: str | Path, epochs: int | None = None, device: str | None = None) -> TrainCommandConfig:
    """The config saved in a run's checkpoint; only the epoch count (to extend a run) and the device may
    change on resume, since anything else would not continue the same run."""
    cfg = config_from_dict(load_checkpoint(Path(run_dir) / CHECKPOINT)["config"])
    if epochs is not None:
        cfg.train.epochs = int(epochs)
    if device is not None:
        cfg.train.device = device
    return cfg


def train(cfg: TrainCommandConfig, resume: str | Path | None = None, progress: bool = True,
          on_step: Callable[[Trainer], None] | None = None) -> RunResult:
    """Train one LieGAN; return the run folder, the exported Algebra and the final metrics.

    resume: a run folder whose checkpoints/last.pt to continue from, with cfg from :func:`resume_config`.
    on_step(trainer) is called after every step (benchmarks use it).
    """
    if resume is not None:
        run_dir = Path(resume)
        state = load_checkpoint(run_dir / CHECKPOINT)
    else:
        state = None
        torch.manual_seed(cfg.train.seed)
        np.random.seed(cfg.train.seed)
    device = pick_device(cfg.train.device)
    if cfg.train.threads > 0:
        torch.set_num_threads(cfg.train.threads)
    data = load_dataset(cfg.data)
    if resume is None:
        run_dir = make_run_dir(cfg)
        write_text_atomic(run_dir / "config.toml", to_toml(cfg.to_dict(), header="liegan train: resolved configuration"))
    trainer = Trainer(cfg, data, device)
    if state is not None:
        trainer.load_state_dict(state)
    ckpt = run_dir / CHECKPOINT
    writer = RunWriter(run_dir, list(data.info.feature_names))
    t, N = cfg.train, len(data)
    history: list[dict] = []
    stop = StopFlag()
    start = time.perf_counter()
    scores: dict = score(trainer.G.effective().detach().cpu().numpy(), data.info)
    bar = _progress(progress, t.epochs, trainer.epoch)
    try:
        with stop.installed():
            while trainer.epoch < t.epochs and stop.signal is None:
                if trainer.step_in_epoch == 0 or trainer.perm is None:
                    trainer.perm = torch.randperm(N)
                sums: dict[str, torch.Tensor] = {}
                n_batches = (N + t.batch_size - 1) // t.batch_size
                while trainer.step_in_epoch < n_batches:
                    idx = trainer.perm[trainer.step_in_epoch * t.batch_size:(trainer.step_in_epoch + 1) * t.batch_size].to(device)
                    x = trainer.x[idx]
                    y = trainer.y[idx] if trainer.y is not None else None
                    g_stats, gx, gy, z = trainer.generator_step(x, y)
                    d_stats = trainer.discriminator_step(x, y, gx, gy)
                    stats = g_stats | d_stats
                    _check_finite(stats, trainer, ckpt)
                    for k, v in stats.items():  # summed on the device: no host sync per step
                        sums[k] = sums.get(k, 0.0) + v.detach()
                    trainer.step_in_epoch += 1
                    trainer.global_step += 1
                    if on_step is not None:
                        on_step(trainer)
                    if stop.signal is not None:
                        break
                if stop.signal is not None:
                    break
                # ---- end of epoch: scores, summaries, checkpoint
                trainer.epoch += 1
                trainer.step_in_epoch = 0
                L = trainer.G.effective().detach().cpu().numpy()
                scores = score(L, data.info)
                row = {k: float(v) / n_batches for k, v in sums.items()} | scalar_items(scores)
                row["time/elapsed_s"] = time.perf_counter() - start
                history.append({"epoch": trainer.epoch, **row})
                writer.scalars(row, trainer.epoch)
                if trainer.epoch % t.log_every == 0 or trainer.epoch == t.epochs:
                    writer.generators(L, trainer.epoch)
                    writer.coefficients(z, trainer.epoch)
                if trainer.epoch % t.checkpoint_every == 0:
                    save_checkpoint(ckpt, trainer.state_dict())
                bar.update(1)
                bar.set_postfix(_postfix(row))
    finally:
        bar.close()
    save_checkpoint(ckpt, trainer.state_dict())
    interrupted = stop.signal is not None
    metrics = dict(scores)
    if history:
        metrics.update({k: history[-1][k] for k in ("loss/generator", "loss/discriminator") if k in history[-1]})
    metrics["epochs"] = trainer.epoch
    algebra = trainer.algebra(metrics)
    algebra.save(run_dir)
    if not interrupted:
        writer.hparams(_flat_hparams(cfg), scalar_items(metrics))
    writer.close()
    return RunResult(run_dir, algebra, metrics, history, interrupted)


def _progress(enabled: bool, total: int, initial: int):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="epoch", disable=not enabled, dynamic_ncols=True)


def _postfix(row: dict) -> dict:
    keys = {"loss/discriminator": "D", "loss/generator": "G", "similarity_to_truth": "sim"}
    out = {short: f"{row[k]:.3f}" for k, short in keys.items() if k in row}
    out.update({k.replace("metric_cosine_", "cos_"): f"{v:.3f}" for k, v in row.items() if k.startswith("metric_cosine_")})
    return out


def _flat_hparams(cfg: TrainCommandConfig) -> dict:
    d = cfg.to_dict()
    keep = {"data": ["dataset"], "generator": ["channels", "mask", "coefficients", "sigma"],
            "train": ["epochs", "batch_size", "lr_g", "lr_d", "lambda_id", "eta_ch", "seed"]}
    return {f"{s}.{k}": d[s][k] for s, ks in keep.items() for k in ks}
