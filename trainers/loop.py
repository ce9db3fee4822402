"""The adversarial loop of LieGAN, readable in one sitting.

Per minibatch, in this order:
  1. generator step:     L_G = BCE(D(gx, gy), 1) + lambda R_id + eta R_ch + mu ||L * M||_p
                         (lambda constant, or decayed over epochs: TrainConfig.lambda_id_at)
  2. discriminator step: L_D = 1/2 [BCE(D(x, y), 1) + BCE(D(gx, gy).detach, 0)]
  3. health check:       non-finite values, exploding generator, collapsed discriminator (faults.py);
                         a fault reloads the last epoch boundary with halved learning rates, or stops
At every scoring point (the scalar cadence, about 100 a run, and epoch ends): scores against the dataset's
known symmetry and the verdict's convergence test (train.stop_when_converged ends the run at the first point
where it passes).  Per epoch: TensorBoard summaries, periodic checkpoints.
SIGINT/SIGTERM finish the current step, write a checkpoint and stop; ``--resume`` continues exactly there.
Under torchrun the same loop runs on every rank with DistributedDataParallel (distributed.py).

Exact resume.  On CPU a stopped-and-resumed run ends with bitwise the same generators as an uninterrupted
one: the checkpoint holds the parameters and Adam's moments and step counts as stored float32 tensors, the
epoch's permutation and position in it, and the torch/numpy/python RNG states, so the resumed process draws
the same coefficients for the same samples and runs the same kernels in the same order (one intra-op
thread by default: no thread-count-dependent reduction order).  On CUDA only ~1e-6 relative agreement can be
expected (cuBLAS and atomics may reorder sums); with several ranks it holds when resumed on the same number
of ranks (each rank's RNG state is stored).
"""

from __future__ import annotations

import contextlib
import copy
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from threadpoolctl import threadpool_limits

from liegan.algebra import Algebra, subgroup_basis
from liegan.config import TrainCommandConfig, YKind
from liegan.datasets import Dataset, load_dataset
from liegan.discriminator import build_discriminator
from liegan.generator import LieGenerator
from liegan.io import InputError, TrainingError
from liegan.lie import channel_orthogonality, identity_cosine
from liegan.trainers import distributed
from liegan.trainers.adam import FusedAdam
from liegan.trainers.checkpoint import (
    CHECKPOINT_DIR,
    LAST,
    data_digest,
    load_latest,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from liegan.trainers.distributed import Dist
from liegan.trainers.faults import STOP, FaultMonitor, health
from liegan.trainers.run_folder import RunFolder
from liegan.trainers.scoring import Scorer, scalar_items
from liegan.trainers.writer import RunWriter, cadence

CHECKPOINT = CHECKPOINT_DIR / LAST


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


class StopFlag:
    """Set by SIGINT/SIGTERM; the loop checks it between steps so a checkpoint is always consistent."""

    # A repeat within this many seconds is the same request: torchrun forwards the terminal's Ctrl-C to
    # workers that already received it, within milliseconds.  A later one is the user insisting.
    REPEAT_S = 1.0

    def __init__(self):
        self.signal: int | None = None
        self.at = 0.0

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
        now = time.monotonic()
        if self.signal is not None:
            if now - self.at < self.REPEAT_S:
                return
            raise KeyboardInterrupt  # a second Ctrl-C: stop now, without the checkpoint
        self.signal, self.at = signum, now


class Trainer:
    """The models, optimisers and counters of one run, and every change made to them: the loop below only
    calls these methods, so what a checkpoint must hold is what this class holds."""

    def __init__(
        self,
        cfg: TrainCommandConfig,
        data: Dataset,
        device: torch.device,
        ctx: Dist | None = None,
        basis: np.ndarray | None = None,
    ):
        """basis: subgroup mode's fixed generators (a resumed run takes its own from the checkpoint)."""
        self.cfg, self.data, self.device = cfg, data, device
        self.ctx = ctx or Dist()
        info, t = data.info, cfg.train
        self.y_vector = info.y_kind == YKind.VECTOR
        self.data_digest = data_digest(data.x, data.y)  # what a resume must find again
        self.x = data.x.to(device)
        self.y = data.y.to(device) if (data.y is not None and info.y_kind != YKind.NONE) else None
        self.G = LieGenerator(info.n_dim, cfg.generator, action=info.action, basis=basis).to(device)
        y_shape = tuple(self.y.shape[1:]) if self.y is not None else ()
        self.D = build_discriminator(
            info.action,
            tuple(self.x.shape[1:]),
            info.y_kind if self.y is not None else YKind.NONE,
            y_shape,
            info.n_classes,
            cfg.discriminator,
        ).to(device)
        # The modules the steps call: DistributedDataParallel wrappers under torchrun, G and D themselves alone.
        self.G_step = distributed.wrap(self.G, self.ctx, device)
        self.D_step = distributed.wrap(self.D, self.ctx, device)
        g_params = [p for p in self.G.parameters() if p.requires_grad]
        # fused: one kernel per step instead of a loop of small ones per parameter (0.06 vs 0.25 ms for the
        # [128, 128] discriminator on one CPU thread, about 3 % of a top-quark step); CPU and CUDA have it.
        # FusedAdam is that kernel without torch.optim, whose first optimiser imports torch._dynamo (adam.py)
        adam = FusedAdam if device.type in ("cpu", "cuda") else torch.optim.Adam
        self.opt_g = adam(g_params, lr=t.lr_g, betas=tuple(t.betas_g))
        self.opt_d = adam(self.D.parameters(), lr=t.lr_d, betas=tuple(t.betas_d))
        self.epoch, self.step_in_epoch, self.global_step = 0, 0, 0
        self.n_batches = (len(data) + t.batch_size - 1) // t.batch_size  # steps per epoch
        if t.identity_space == "fourier" and self.x.ndim != 4:
            raise InputError(
                "train.identity_space 'fourier' compares images' Fourier transforms: these data are "
                "not images (use 'data')"
            )
        self.perm: torch.Tensor | None = None
        self.recoveries = 0  # fault recoveries so far (each halved the learning rates)
        # this epoch's per-step statistics summed on the device (no host sync per step); checkpointed, so a
        # resumed epoch reports the means an uninterrupted one would
        self.sums: dict[str, torch.Tensor] = {}
        self.last_z: torch.Tensor | None = None  # the latest step's coefficients (for the histogram)
        self.last_pair: tuple[torch.Tensor, torch.Tensor] | None = None  # its (x, gx)

    # ---------------------------------------------------------------------------------------------- steps
    def generator_step(self, x: torch.Tensor, y: torch.Tensor | None):
        t = self.cfg.train
        self.D.requires_grad_(False)  # D's gradients are not needed here: skip computing them
        gx, gy, z = self.G_step(x, y, self.y_vector)
        logits = self.D(gx, gy)  # the bare D: nothing of D is updated (or all-reduced) in this step
        adv = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
        L = self.G.effective()  # L's gradient from these terms joins the adversarial one before DDP's hook fires
        r_id = self.ctx.mean(identity_cosine(gx, x, space=t.identity_space)).abs()  # of the global batch
        r_ch = channel_orthogonality(L, t.orth_form)
        r_norm = L.abs().pow(t.reg_p).sum().pow(1.0 / t.reg_p)
        lambda_id = t.lambda_id_at(self.progress())  # t.lambda_id unless scheduled
        loss = adv + lambda_id * r_id + t.eta_ch * r_ch + t.mu_reg * r_norm
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        self.D.requires_grad_(True)
        stats = {
            "loss/generator": loss,
            "loss/generator_adversarial": adv,
            "reg/identity": r_id,
            "reg/channel_orthogonality": r_ch,
            "reg/norm": r_norm,
        }
        return stats, gx.detach(), (gy.detach() if gy is not None else None), z.detach()

    def discriminator_step(self, x, y, gx, gy):
        # real and transformed samples in one forward and backward: the same loss as two calls, with half
        # the small-op launches that dominate a step on these widths
        both = self.D_step(torch.cat([x, gx]), None if y is None else torch.cat([y, gy]))
        real, fake = both[: len(x)], both[len(x) :]
        loss = 0.5 * (
            F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
            + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
        )
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        return {
            "loss/discriminator": loss,
            "disc/real_prob": torch.sigmoid(real).mean(),
            "disc/fake_prob": torch.sigmoid(fake).mean(),
        }

    def batch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """This rank's share of the current step's global batch (a new permutation when an epoch starts)."""
        t = self.cfg.train
        if self.step_in_epoch == 0 or self.perm is None:
            self.perm = distributed.epoch_permutation(len(self.data), t.seed, self.epoch)
        s = self.step_in_epoch * t.batch_size
        idx = distributed.shard(self.perm[s : s + t.batch_size], self.ctx).to(self.device)
        return self.x[idx], (self.y[idx] if self.y is not None else None)

    def step(self) -> dict[str, torch.Tensor]:
        """One adversarial step at the scheduled learning rates: the generator's, then the discriminator's.
        The counters do not move until :meth:`commit` accepts the step."""
        x, y = self.batch()
        self.set_learning_rates()
        g_stats, gx, gy, self.last_z = self.generator_step(x, y)
        self.last_pair = (x, gx)  # what TensorBoard shows of images: real samples beside transformed ones
        return g_stats | self.discriminator_step(x, y, gx, gy)

    def commit(self, stats: dict[str, torch.Tensor]) -> None:
        """Count a healthy step: its statistics join the epoch's running sums."""
        for k, v in stats.items():
            self.sums[k] = self.sums.get(k, 0.0) + v.detach()
        self.step_in_epoch += 1
        self.global_step += 1
        average = self.cfg.generator.average
        if average > 0:
            window_from = int((1 - average) * self.cfg.train.epochs * self.n_batches)
            if self.global_step > window_from:
                self.G.accumulate(window_from)

    def end_epoch(self) -> dict[str, float]:
        """Close the epoch; its per-step means over all ranks."""
        means = _epoch_means(self.sums, self.n_batches, self.ctx)
        self.epoch, self.step_in_epoch, self.sums = self.epoch + 1, 0, {}
        return means

    # ---------------------------------------------------------------------------------------------- state
    def state_dict(self) -> dict:
        return {
            "generator": self.G.state_dict(),
            "discriminator": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "global_step": self.global_step,
            "perm": self.perm,
            "recoveries": self.recoveries,
            "rng": rng_state(),
            "config": self.cfg.to_dict(),
            "sums": {k: v.detach().cpu() for k, v in self.sums.items()},
            "data_digest": self.data_digest,
        }

    def load_state_dict(self, s: dict, rng: dict | None = None) -> None:
        """Restore s; ``rng`` overrides s['rng'] (a rank other than 0 restores its own stream)."""
        self.G.load_state_dict(s["generator"])
        self.D.load_state_dict(s["discriminator"])
        self.opt_g.load_state_dict(s["opt_g"])
        self.opt_d.load_state_dict(s["opt_d"])
        self.epoch, self.step_in_epoch, self.global_step = s["epoch"], s["step_in_epoch"], s["global_step"]
        self.perm = s["perm"]
        self.recoveries = s["recoveries"]
        self.sums = {k: v.to(self.device) for k, v in s["sums"].items()}
        set_rng_state(rng if rng is not None else s["rng"])

    def checkpoint_state(self) -> dict | None:
        """A collective: the state to write, on rank 0 (None elsewhere).  It holds every rank's RNG state
        and the running sums totalled over the ranks, so :meth:`resume_from` works for any number of them."""
        rngs = self.ctx.gather_objects(rng_state())
        names = list(self.sums)
        totals = (
            self.ctx.all_reduce_sum(torch.stack([self.sums[k].float() for k in names])).cpu()
            if names
            else torch.zeros(0)
        )
        if not self.ctx.is_main:
            return None
        sums = dict(zip(names, totals.unbind(), strict=True))
        return self.state_dict() | {"sums": sums, "rng_ranks": rngs, "world_size": self.ctx.world}

    def resume_from(self, s: dict) -> None:
        """Continue from a checkpoint file: this rank's RNG stream; the sums (a total over the ranks that
        wrote it) stay on rank 0 alone, so the next all-reduce counts them once."""
        if s["data_digest"] != self.data_digest:
            d = self.cfg.data
            raise InputError(
                f"{d.data_file or 'dataset ' + d.dataset}: not the data the run was trained on (their "
                "SHA-256 differs from the checkpoint's); resume with the same data, or start a new run"
            )
        try:
            self.load_state_dict(s, rng=_rank_rng(s, self.ctx))
        except (RuntimeError, KeyError, ValueError, TypeError, AttributeError) as e:  # shapes, names, kinds
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise InputError(f"{s['source']}: does not fit this run's models and data ({first})") from None
        if not self.ctx.is_main:
            self.sums = {k: torch.zeros_like(v) for k, v in self.sums.items()}

    def snapshot(self) -> dict:
        """An in-memory copy of the state (the 'last good state' a fault recovery goes back to)."""
        return copy.deepcopy(self.state_dict())

    def progress(self) -> float:
        """Fractional epochs done: what the lambda and learning-rate schedules are functions of (so a resumed
        run follows them exactly)."""
        return self.epoch + self.step_in_epoch / self.n_batches

    def set_learning_rates(self) -> None:
        """The configured rates times the schedule's factor, halved once per fault recovery so far."""
        factor = self.cfg.train.lr_factor(self.progress()) * 0.5**self.recoveries
        for opt, lr in ((self.opt_g, self.cfg.train.lr_g), (self.opt_d, self.cfg.train.lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr * factor

    def recover(self, good: dict) -> None:
        """Go back to ``good`` with both learning rates halved once more than before."""
        n = self.recoveries + 1
        self.load_state_dict(good)
        self.recoveries = n
        self.set_learning_rates()

    def algebra(self, metrics: dict) -> Algebra:
        info = self.data.info
        return Algebra(
            self.G.exported().cpu().numpy(),
            self.G.mask.cpu().double().numpy(),
            dataset=info.name,
            feature_names=list(info.feature_names),
            coefficients=self.G.coefficients.describe(),
            config=self.cfg.to_dict(),
            metrics=metrics,
        )


def train(
    cfg: TrainCommandConfig,
    resume: str | Path | None = None,
    progress: bool = True,
    on_step: Callable[[Trainer], None] | None = None,
) -> RunResult:
    """Train one LieGAN; return the run folder, the exported Algebra and the final metrics.

    resume: a run folder whose checkpoints/ to continue from, with cfg from :func:`configure.resume_config`.
    on_step(trainer) is called after every step (benchmarks use it).  The fault thresholds and retries are
    the [train] config's (faults.py).  Under torchrun every rank calls this; rank 0 alone writes the run folder.
    SIGINT/SIGTERM are caught from here on: a signal while the data load stops the run after its first step.
    """
    cfg.check()  # composed configs are checked already; one built in Python is checked here
    _start_up(cfg.train)
    stop = StopFlag()
    # numpy's BLAS on one thread while training: the scores (trainers/scoring.py, every few steps) take SVDs of
    # tiny matrices, which its thread pool slows 100-fold on a busy machine (0.1 s instead of 1 ms per solve)
    with stop.installed(), threadpool_limits(1, user_api="blas"):
        ctx, device = distributed.setup(pick_device(cfg.train.device))
        try:
            return _train(cfg, ctx, device, resume, progress, on_step, stop)
        finally:
            ctx.close()


def _start_up(t) -> None:
    """Process-wide settings, made before anything is loaded."""
    if t.threads > 0:
        torch.set_num_threads(t.threads)


def _train(
    cfg: TrainCommandConfig, ctx: Dist, device: torch.device, resume, progress: bool, on_step, stop: StopFlag
) -> RunResult:
    state = _resume_state(Path(resume), ctx) if resume is not None else None
    # ---- data (rank 0 first: it may simulate and cache) and models; the same initial parameters on every rank
    torch.manual_seed(cfg.train.seed)
    np.random.seed(cfg.train.seed)  # noqa: NPY002 (seeds any legacy-global numpy use downstream)
    data = ctx.on_main_first(lambda: load_dataset(cfg.data))
    g = cfg.generator
    basis = subgroup_basis(g.subgroup_from, data.info.n_dim) if g.subgroup and state is None else None
    trainer = Trainer(cfg, data, device, ctx, basis)
    if state is not None:
        trainer.resume_from(state)
    elif ctx.rank:
        torch.manual_seed(distributed.rank_seed(cfg.train.seed, ctx.rank))  # each rank draws its own coefficients
    # ---- the run folder, only now that the run can start (rank 0 holds it; its name is broadcast)
    run_dir, folder = _open_folder(cfg, resume, ctx, state)
    session = Session(trainer, run_dir, progress, on_step, state)
    try:
        while trainer.epoch < cfg.train.epochs:
            fault = session.run_epoch(stop)
            if session.halted:
                break
            if fault:
                session.recover_or_stop(fault)
                continue
            if trainer.step_in_epoch == trainer.n_batches:  # not a run the verdict stopped inside its epoch
                session.end_of_epoch()
            if session.converged:
                break
        return session.finish()
    except BaseException:
        session.close()
        if folder is not None and resume is None and not folder.has_checkpoint():
            folder.discard()  # nothing to resume: leave nothing, so the same command can run again
        raise
    finally:
        if folder is not None:
            folder.release()


def _open_folder(cfg: TrainCommandConfig, resume, ctx: Dist, state: dict | None) -> tuple[Path, RunFolder | None]:
    held: list[RunFolder] = []

    def open_on_main() -> Path:
        folder = RunFolder.resume(Path(resume), cfg, state["config"]) if resume else RunFolder.create(cfg)
        held.append(folder)
        return folder.path

    return ctx.on_main(open_on_main), (held[0] if held else None)


def _resume_state(run_dir: Path, ctx: Dist) -> dict:
    """The state to resume from: last.pt, or prev.pt when last.pt is damaged (set aside, never rotated);
    ``state['source']`` names the file for errors."""
    state, used = load_latest(run_dir / CHECKPOINT_DIR, warn=ctx.is_main)
    if used.name != LAST and ctx.is_main and (run_dir / CHECKPOINT).exists():
        (run_dir / CHECKPOINT).replace(run_dir / CHECKPOINT_DIR / f"{LAST}.corrupt")
    ctx.barrier()
    return state | {"source": str(used)}


class Session:
    """One call of :func:`train` around its Trainer: the stages of the loop (an epoch of steps, recover or
    stop, end of epoch, finish) and what they report through (writer, progress bar, history)."""

    def __init__(self, trainer: Trainer, run_dir: Path, progress: bool, on_step, resumed: dict | None):
        """resumed: the checkpoint a resumed run continues from (its scorer's trend too), else None."""
        self.trainer, self.run_dir, self.on_step = trainer, run_dir, on_step
        self.cfg, self.ctx, info = trainer.cfg, trainer.ctx, trainer.data.info
        self.ckpt = run_dir / CHECKPOINT
        c, n = self.cfg.train, trainer.n_batches
        self.writer = RunWriter(run_dir, info, cadence(c.epochs * n, c.log_every), enabled=self.ctx.is_main)
        self.monitor = FaultMonitor(self.cfg.train)
        self.good = trainer.snapshot()  # where a fault recovery returns to; refreshed at every epoch boundary
        self.saved_at = (trainer.epoch, trainer.step_in_epoch) if resumed else None
        self.halted = False  # a signal stopped the run
        self.converged = False  # train.stop_when_converged ended the run at a scoring point
        self.history: list[dict] = []
        self.start = time.perf_counter()
        self.scorer = Scorer(info, trainer.G.mask.detach().cpu().numpy(), c.epochs * n)
        if resumed and "scorer" in resumed:
            self.scorer.load_state_dict(resumed["scorer"])
        self.bar = _progress(
            progress and self.ctx.is_main, self.cfg.train.epochs * n, trainer.epoch * n + trainer.step_in_epoch
        )

    def run_epoch(self, stop: StopFlag) -> str | None:
        """Steps to the end of the epoch; the description of a fault if one stops it early (``halted``
        is set instead when a signal does)."""
        t = self.trainer
        while t.step_in_epoch < t.n_batches:
            stats = t.step()
            # health, agreed across ranks: one all-reduce and one host sync per step
            h = self.ctx.all_reduce_sum(health(stats, t.G.effective(), stop.signal is not None))
            h = (h / self.ctx.world).tolist()
            fault = self.monitor.check(h)
            if fault:
                return _describe(fault, stats, t)
            t.commit(stats)
            self.log_step(stats)
            self.bar.update(1)
            if self.on_step is not None:
                self.on_step(t)
            if h[STOP] > 0:  # a signal reached some rank: every rank stops after this same step
                self.halted = True
                return None
            if self.stops_here():
                self.converged = True
                return None
        return None

    def log_step(self, stats: dict) -> None:
        """A scoring point every ``writer.every`` steps: the current scores and the convergence test on
        every rank (the same generators everywhere, so every rank makes the same stop decision), and on
        TensorBoard the means since the last point with those scores (rank 0's share of the batch)."""
        t, w = self.trainer, self.writer
        w.accumulate(stats)
        if w.due(t.global_step):
            L = t.G.effective().detach().cpu().numpy()
            scalars = self._scalars(L)
            if w.enabled:
                w.point(t.global_step, scalars, L, t.last_z)
                if t.last_pair is not None:
                    w.samples(*t.last_pair, t.global_step)

    def _scalars(self, L) -> dict[str, float]:
        """The scores of L as a scoring point at the current step, with the elapsed time."""
        scores = self.scorer(L, self.trainer.global_step)
        return scalar_items(scores) | {"time/elapsed_s": time.perf_counter() - self.start}

    def recover_or_stop(self, fault: str) -> None:
        """Back to the last epoch boundary with halved learning rates, or (retries spent) a TrainingError."""
        t, retries = self.trainer, self.cfg.train.fault_retries
        if t.recoveries >= retries:
            keep = (
                f"the last good checkpoint is {self.ckpt}"
                if self.ckpt.exists()
                else f"no checkpoint had been written yet, so {self.run_dir} is not kept"
            )
            tried = f" (after {t.recoveries} recoveries with halved learning rates)" if t.recoveries else ""
            raise TrainingError(f"{fault}{tried}; stopping: {keep}. {_hint(fault)}")
        t.recover(self.good)
        self.scorer.rewind(t.global_step)
        self.monitor.reset()
        self.bar.n = t.epoch * t.n_batches + t.step_in_epoch
        self.bar.refresh()
        if self.ctx.is_main:
            print(
                f"liegan train: warning: {fault}; recovery {t.recoveries}/{retries}: back to epoch {t.epoch} "
                f"with learning rates halved (x{0.5**t.recoveries:g})",
                file=sys.stderr,
            )

    def end_of_epoch(self) -> None:
        """Scores, summaries, a periodic checkpoint, and the new recovery point."""
        t, c = self.trainer, self.cfg.train
        row = t.end_epoch()
        L = t.G.effective().detach().cpu().numpy()
        row |= scalar_items(self.scorer(L, t.global_step))
        row["time/elapsed_s"] = time.perf_counter() - self.start
        self.history.append({"epoch": t.epoch, **row})
        if t.epoch % c.checkpoint_every == 0:
            self.checkpoint()
        self.good = t.snapshot()
        self.bar.set_postfix({"epoch": f"{t.epoch}/{c.epochs}"} | _postfix(row))
        self.converged = self.stops_here()

    def stops_here(self) -> bool:
        """Whether train.stop_when_converged ends the run at this step: the test passed at its scoring point
        (the same generators on every rank, so every rank decides the same) and steps remain."""
        t, c = self.trainer, self.cfg.train
        return c.stop_when_converged and self.scorer.passed and t.global_step < c.epochs * t.n_batches

    def checkpoint(self) -> None:
        """A collective: every rank hands its state to rank 0, which writes the file."""
        state = self.trainer.checkpoint_state()
        if state is not None:
            save_checkpoint(self.ckpt, state | {"scorer": self.scorer.state_dict()}, within=self.run_dir)
        self.saved_at = (self.trainer.epoch, self.trainer.step_in_epoch)

    def finish(self) -> RunResult:
        """The end (or a signal): final checkpoint, replicas compared, export by rank 0."""
        t = self.trainer
        self.bar.close()
        if self.saved_at != (t.epoch, t.step_in_epoch):  # keep prev.pt one generation older than last.pt
            self.checkpoint()
        # the scores of the final generators (a run stopped inside an epoch has moved on since its last end)
        metrics = dict(self.scorer(t.G.effective().detach().cpu().numpy(), t.global_step))
        averaged = t.G.averaged_steps()
        if averaged:  # the exported generators are the window's mean: their own scores go into algebra.json
            metrics = dict(self.scorer(t.G.exported().cpu().numpy())) | {"averaged_steps": averaged}
        if self.history:
            last = self.history[-1]
            metrics.update({k: last[k] for k in ("loss/generator", "loss/discriminator") if k in last})
        metrics["epochs"] = t.epoch  # complete epochs
        context = {"epochs": t.epoch, "steps": t.global_step, "n_samples": len(t.data), "run_dir": str(self.run_dir)}
        if self.converged:  # the run ended before its last step because the verdict had converged
            metrics |= {"stopped_when_converged": 1.0, "stopped_at_step": t.global_step}
            context |= {"stopped_at": t.global_step, "planned_steps": self.cfg.train.epochs * t.n_batches}
        if self.ctx.enabled:
            metrics |= _compare_replicas(t, self.ctx)
        algebra = t.algebra(metrics)
        # the verdict: in words, against chance, converged or not (printed by the CLI, stored, in TensorBoard)
        verdict = self.scorer.verdict(
            algebra.generators,
            t.global_step,
            context | ({"given_basis": self.cfg.generator.subgroup_from} if self.cfg.generator.subgroup else {}),
        )
        algebra.verdict = verdict.as_dict()
        algebra.symmetry = t.data.info.symmetry.to_dict() if t.data.info.symmetry is not None else None
        if self.ctx.is_main:
            algebra.save(self.run_dir)
        self.writer.text("Summary/verdict", verdict.summary, t.global_step)
        if self.writer.enabled:
            L = t.G.effective().detach().cpu().numpy()
            self.writer.last(t.global_step, self._scalars(L), L, t.last_z)
            if not self.halted:
                self.writer.final(_flat_hparams(self.cfg), metrics, t.global_step)
        self.writer.close()
        self.ctx.barrier()
        return RunResult(self.run_dir, algebra, metrics, self.history, self.halted)

    def close(self) -> None:
        """After an error: release the bar and the event file."""
        self.bar.close()
        self.writer.close()


# ------------------------------------------------------------------------------------------------ helpers


def _rank_rng(state: dict, ctx: Dist) -> dict | None:
    """This rank's RNG state from a checkpoint; a different number of ranks cannot resume exactly."""
    ranks = state.get("rng_ranks") or [state["rng"]]
    if len(ranks) == ctx.world:
        return ranks[ctx.rank]
    if ctx.is_main:
        print(
            f"liegan train: warning: the checkpoint was written by {len(ranks)} process(es) and is resumed by "
            f"{ctx.world}: the run continues, but not bitwise as it would have",
            file=sys.stderr,
        )
    torch.manual_seed(distributed.rank_seed(state["config"]["train"]["seed"] + state["global_step"], ctx.rank))
    return rng_state()


def _epoch_means(sums: dict, n_batches: int, ctx: Dist) -> dict[str, float]:
    if not sums:
        return {}
    v = ctx.all_reduce_sum(torch.stack([s.float() for s in sums.values()]))
    return {k: float(x) / (n_batches * ctx.world) for k, x in zip(sums, v.tolist(), strict=True)}


def _compare_replicas(trainer: Trainer, ctx: Dist) -> dict:
    """DDP keeps the ranks' parameters identical; check it on the final generators instead of trusting it."""
    L = trainer.G.effective().detach().reshape(-1)
    diff = max(float((other - L).abs().max()) for other in ctx.all_gather(L))
    diff = float(ctx.all_reduce_sum(torch.tensor([diff], device=L.device)).max())
    if diff > 0 and ctx.is_main:
        print(f"liegan train: warning: the ranks' final generators differ by up to {diff:.3g}", file=sys.stderr)
    return {"world_size": float(ctx.world), "replica_max_abs_diff": diff}


def _describe(fault: tuple[str, str], stats: dict, trainer: Trainer) -> str:
    kind, detail = fault
    if kind == "non-finite":
        bad = [k for k, v in stats.items() if not torch.isfinite(v)]
        if not torch.isfinite(trainer.G.L).all():
            bad.append("generator")
        kind = f"non-finite {', '.join(bad) or 'values on another rank'}"
    return f"{kind} at epoch {trainer.epoch}, step {trainer.global_step}" + (f": {detail}" if detail else "")


def _hint(fault: str) -> str:
    if fault.startswith("collapsed"):
        return (
            "Try a lower discriminator learning rate (--lr-d), a narrower discriminator, or check that the "
            "search space (--mask) can hold a symmetry of these data."
        )
    return "Try a lower learning rate (--lr-g/--lr-d), a norm penalty (--set train.mu_reg=...) or check the data scale."


def _progress(enabled: bool, total: int, initial: int):
    from tqdm.auto import tqdm

    # counted in steps, so a long epoch (the full top-quark set: ~19k steps at batch 64) shows it is moving
    return tqdm(total=total, initial=initial, unit="step", disable=not enabled, dynamic_ncols=True)


def _postfix(row: dict) -> dict:
    keys = {"loss/discriminator": "D", "loss/generator": "G", "similarity_to_truth": "sim"}
    out = {short: f"{row[k]:.3f}" for k, short in keys.items() if k in row}
    out.update(
        {k.replace("metric_cosine_", "cos_"): f"{v:.3f}" for k, v in row.items() if k.startswith("metric_cosine_")}
    )
    return out


def _flat_hparams(cfg: TrainCommandConfig) -> dict:
    d = cfg.to_dict()
    keep = {
        "data": ["dataset"],
        "generator": ["channels", "mask", "coefficients", "sigma"],
        "train": ["epochs", "batch_size", "lr_g", "lr_d", "lambda_id", "eta_ch", "seed"],
    }
    return {f"{s}.{k}": d[s][k] for s, ks in keep.items() for k in ks}
