"""The adversarial loop of LieGAN (REFERENCE.md §1), readable in one sitting.

Per minibatch, in this order:
  1. generator step:     L_G = BCE(D(gx, gy), 1) + lambda R_id + eta R_ch + mu ||L * M||_p
                         (lambda constant, or decayed over epochs: TrainConfig.lambda_id_at)
  2. discriminator step: L_D = 1/2 [BCE(D(x, y), 1) + BCE(D(gx, gy).detach, 0)]
  3. health check:       non-finite values, exploding generator, collapsed discriminator (faults.py);
                         a fault reloads the last epoch boundary with halved learning rates, or stops
Per epoch: scores against the dataset's known symmetry, TensorBoard summaries, periodic checkpoints.
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
import importlib
import signal
import sys
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
from liegan.lie import channel_orthogonality, identity_cosine
from liegan.trainers import distributed
from liegan.trainers.checkpoint import LAST, load_latest, rng_state, save_checkpoint, set_rng_state
from liegan.trainers.distributed import Dist
from liegan.trainers.faults import STOP, FaultMonitor, FaultPolicy, health
from liegan.trainers.scoring import scalar_items, score
from liegan.trainers.writer import RunWriter

CHECKPOINT_DIR = Path("checkpoints")
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


def make_run_dir(cfg: TrainCommandConfig) -> Path:
    """Create <logdir>/<name> (default name <dataset>-<yyyymmdd-hhmmss>, suffixed if taken)."""
    base = cfg.run.name or f"{cfg.data.dataset}-{datetime.now():%Y%m%d-%H%M%S}"
    logdir = Path(cfg.run.logdir)
    run_dir, i = logdir / base, 1
    while run_dir.exists() and any(run_dir.iterdir()):
        if cfg.run.name:
            raise InputError(f"{run_dir}: run folder exists and is not empty "
                             f"(use --resume {run_dir} or another --name)")
        run_dir, i = logdir / f"{base}-{i}", i + 1
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise InputError(f"{run_dir}: cannot create the run folder ({e.strerror or e})") from None
    return run_dir


def _new_run(cfg: TrainCommandConfig) -> Path:
    run_dir = make_run_dir(cfg)
    write_text_atomic(run_dir / "config.toml", to_toml(cfg.to_dict(), header="liegan train: resolved configuration"))
    return run_dir


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
    def __init__(self, cfg: TrainCommandConfig, data: Dataset, device: torch.device, ctx: Dist | None = None):
        self.cfg, self.data, self.device = cfg, data, device
        self.ctx = ctx or Dist()
        info, t = data.info, cfg.train
        self.y_vector = info.y_kind == "vector"
        self.x = data.x.to(device)
        self.y = data.y.to(device) if (data.y is not None and info.y_kind != "none") else None
        self.G = LieGenerator(info.n_dim, cfg.generator).to(device)
        y_shape = tuple(self.y.shape[1:]) if self.y is not None else ()
        self.D = Discriminator(tuple(self.x.shape[1:]), info.y_kind if self.y is not None else "none", y_shape,
                               info.n_classes, cfg.discriminator).to(device)
        # The modules the steps call: DistributedDataParallel wrappers under torchrun, G and D themselves alone.
        self.G_step = distributed.wrap(self.G, self.ctx, device)
        self.D_step = distributed.wrap(self.D, self.ctx, device)
        g_params = [p for p in self.G.parameters() if p.requires_grad]
        # fused: one kernel per step instead of a loop of small ones per parameter (0.06 vs 0.25 ms for the
        # [128, 128] discriminator on one CPU thread, about 3 % of a top-quark step); CPU and CUDA have it
        fused = device.type in ("cpu", "cuda")
        self.opt_g = torch.optim.Adam(g_params, lr=t.lr_g, betas=tuple(t.betas_g), fused=fused)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=t.lr_d, betas=tuple(t.betas_d), fused=fused)
        self.epoch, self.step_in_epoch, self.global_step = 0, 0, 0
        self.n_batches = (len(data) + t.batch_size - 1) // t.batch_size  # steps per epoch
        t.lr_factor(0.0)  # an unknown lr_schedule fails here, before any data are touched
        decay = t.lambda_decay
        if t.lambda_id_final is not None and (len(decay) != 2 or not 0 <= decay[0] <= decay[1]):
            raise InputError(f"train.lambda_decay must be [start, end] epochs with 0 <= start <= end, "
                             f"got {t.lambda_decay}")
        self.perm: torch.Tensor | None = None
        self.recoveries = 0  # fault recoveries so far (each halved the learning rates)

    # ---------------------------------------------------------------------------------------------- steps
    def generator_step(self, x: torch.Tensor, y: torch.Tensor | None):
        t = self.cfg.train
        self.D.requires_grad_(False)  # D's gradients are not needed here: skip computing them
        gx, gy, z = self.G_step(x, y, self.y_vector)
        logits = self.D(gx, gy)  # the bare D: nothing of D is updated (or all-reduced) in this step
        adv = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
        L = self.G.effective()  # L's gradient from these terms joins the adversarial one before DDP's hook fires
        r_id = self.ctx.mean(identity_cosine(gx, x)).abs()  # of the global batch, not of this rank's shard
        r_ch = channel_orthogonality(L, t.orth_form)
        r_norm = L.abs().pow(t.reg_p).sum().pow(1.0 / t.reg_p)
        lambda_id = t.lambda_id_at(self.progress())  # t.lambda_id unless scheduled
        loss = adv + lambda_id * r_id + t.eta_ch * r_ch + t.mu_reg * r_norm
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        self.D.requires_grad_(True)
        stats = {"loss/generator": loss, "loss/generator_adversarial": adv, "reg/identity": r_id,
                 "reg/channel_orthogonality": r_ch, "reg/norm": r_norm}
        return stats, gx.detach(), (gy.detach() if gy is not None else None), z.detach()

    def discriminator_step(self, x, y, gx, gy):
        real, fake = self.D_step(x, y), self.D_step(gx, gy)
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
                "perm": self.perm, "recoveries": self.recoveries, "rng": rng_state(), "config": self.cfg.to_dict()}

    def load_state_dict(self, s: dict, rng: dict | None = None) -> None:
        """Restore s; ``rng`` overrides s['rng'] (a rank other than 0 restores its own stream)."""
        self.G.load_state_dict(s["generator"])
        self.D.load_state_dict(s["discriminator"])
        self.opt_g.load_state_dict(s["opt_g"])
        self.opt_d.load_state_dict(s["opt_d"])
        self.epoch, self.step_in_epoch, self.global_step = s["epoch"], s["step_in_epoch"], s["global_step"]
        self.perm = s["perm"]
        self.recoveries = s.get("recoveries", 0)
        set_rng_state(rng if rng is not None else s["rng"])

    def snapshot(self) -> dict:
        """An in-memory copy of the state (the 'last good state' a fault recovery goes back to)."""
        return copy.deepcopy(self.state_dict())

    def progress(self) -> float:
        """Fractional epochs done: what the lambda and learning-rate schedules are functions of (so a resumed
        run follows them exactly)."""
        return self.epoch + self.step_in_epoch / self.n_batches

    def set_learning_rates(self) -> None:
        """The configured rates times the schedule's factor, halved once per fault recovery so far."""
        factor = self.cfg.train.lr_factor(self.progress()) * 0.5 ** self.recoveries
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
        return Algebra(self.G.effective().detach().cpu().double().numpy(), self.G.mask.cpu().double().numpy(),
                       dataset=info.name, feature_names=list(info.feature_names),
                       coefficients=self.G.coefficients.describe(), config=self.cfg.to_dict(), metrics=metrics)


def resume_config(run_dir: str | Path, epochs: int | None = None, device: str | None = None) -> TrainCommandConfig:
    """The config saved in a run's checkpoint; only the epoch count (to extend a run) and the device may
    change on resume, since anything else would not continue the same run."""
    state, _ = load_latest(Path(run_dir) / CHECKPOINT_DIR, warn=False)
    cfg = config_from_dict(state["config"])
    if epochs is not None:
        cfg.train.epochs = int(epochs)
    if device is not None:
        cfg.train.device = device
    return cfg


def train(cfg: TrainCommandConfig, resume: str | Path | None = None, progress: bool = True,
          on_step: Callable[[Trainer], None] | None = None, faults: FaultPolicy | None = None) -> RunResult:
    """Train one LieGAN; return the run folder, the exported Algebra and the final metrics.

    resume: a run folder whose checkpoints/ to continue from, with cfg from :func:`resume_config`.
    on_step(trainer) is called after every step (benchmarks use it).  faults: thresholds and retries of the
    fault checks (faults.py; default from the [train] config where it has those fields).
    Under torchrun every rank calls this; rank 0 alone writes the run folder.
    """
    ctx, device = distributed.setup(pick_device(cfg.train.device))
    try:
        return _train(cfg, ctx, device, resume, progress, on_step, faults or FaultPolicy.from_config(cfg.train))
    finally:
        ctx.close()


def _import_quietly(module: str) -> None:
    """Import ``module`` ahead of its first use; a failure is left for that use to raise where it matters."""
    with contextlib.suppress(Exception):
        importlib.import_module(module)


def _train(cfg: TrainCommandConfig, ctx: Dist, device: torch.device, resume, progress: bool,
           on_step, policy: FaultPolicy) -> RunResult:
    t = cfg.train
    if t.threads > 0:
        torch.set_num_threads(t.threads)
    # torch.optim imports torch._dynamo on the first optimizer (about 1.3 s here, a tenth of a top-quark
    # run's time to discovery); start that import now so it overlaps with reading the data (0.6-0.9 s of
    # h5py and numpy, which release the GIL).  Trainer() then waits on the import lock if it is not done.
    threading.Thread(target=_import_quietly, args=("torch._dynamo",), daemon=True).start()

    # ---- the state to resume from (last.pt, or prev.pt when last.pt is damaged)
    state = None
    if resume is not None:
        run_dir = Path(resume)
        state, used = load_latest(run_dir / CHECKPOINT_DIR, warn=ctx.is_main)
        if used.name != LAST and ctx.is_main and (run_dir / CHECKPOINT).exists():
            (run_dir / CHECKPOINT).replace(run_dir / CHECKPOINT_DIR / f"{LAST}.corrupt")  # never rotated into prev.pt
        ctx.barrier()

    # ---- data (rank 0 first: it may simulate and cache), run folder (made on rank 0, name broadcast), models
    torch.manual_seed(t.seed)  # the same initial parameters on every rank
    np.random.seed(t.seed)  # noqa: NPY002 (seeds any legacy-global numpy use downstream)
    data = ctx.on_main_first(lambda: load_dataset(cfg.data))
    if resume is None:
        run_dir = ctx.on_main(lambda: _new_run(cfg))
    trainer = Trainer(cfg, data, device, ctx)
    if state is not None:
        trainer.load_state_dict(state, rng=_rank_rng(state, ctx))
    elif ctx.rank:
        torch.manual_seed(distributed.rank_seed(t.seed, ctx.rank))  # each rank draws its own coefficients
    ckpt = run_dir / CHECKPOINT
    writer = RunWriter(run_dir, list(data.info.feature_names), enabled=ctx.is_main)
    N = len(data)
    n_batches = trainer.n_batches

    def checkpoint():  # a collective: every rank hands its RNG state to rank 0, which writes the file
        rngs = ctx.gather_objects(rng_state())
        if ctx.is_main:
            save_checkpoint(ckpt, trainer.state_dict() | {"rng_ranks": rngs, "world_size": ctx.world})
        return (trainer.epoch, trainer.step_in_epoch)

    history: list[dict] = []
    stop, monitor = StopFlag(), FaultMonitor(policy)
    good = trainer.snapshot()  # where a fault recovery returns to; refreshed at every epoch boundary
    saved_at = (trainer.epoch, trainer.step_in_epoch) if state is not None else None
    halted = False
    start = time.perf_counter()
    scores: dict = score(trainer.G.effective().detach().cpu().numpy(), data.info)
    bar = _progress(progress and ctx.is_main, t.epochs * n_batches, trainer.epoch * n_batches + trainer.step_in_epoch)
    try:
        with stop.installed():
            while trainer.epoch < t.epochs and not halted:
                if trainer.step_in_epoch == 0 or trainer.perm is None:
                    trainer.perm = distributed.epoch_permutation(N, t.seed, trainer.epoch)
                sums: dict[str, torch.Tensor] = {}
                fault = None
                while trainer.step_in_epoch < n_batches:
                    # ---- this rank's share of the step's global batch
                    s = trainer.step_in_epoch * t.batch_size
                    idx = distributed.shard(trainer.perm[s:s + t.batch_size], ctx).to(device)
                    x = trainer.x[idx]
                    y = trainer.y[idx] if trainer.y is not None else None
                    # ---- the two adversarial steps, at this step's scheduled learning rates
                    trainer.set_learning_rates()
                    g_stats, gx, gy, z = trainer.generator_step(x, y)
                    d_stats = trainer.discriminator_step(x, y, gx, gy)
                    stats = g_stats | d_stats
                    # ---- health, agreed across ranks: one all-reduce and one host sync per step
                    h = ctx.all_reduce_sum(health(stats, trainer.G.effective(), stop.signal is not None))
                    h = (h / ctx.world).tolist()
                    fault = monitor.check(h)
                    if fault:
                        break
                    for k, v in stats.items():  # summed on the device: no further host sync per step
                        sums[k] = sums.get(k, 0.0) + v.detach()
                    trainer.step_in_epoch += 1
                    trainer.global_step += 1
                    bar.update(1)
                    if on_step is not None:
                        on_step(trainer)
                    if h[STOP] > 0:  # a signal reached some rank: every rank stops after this same step
                        halted = True
                        break
                if fault:
                    # ---- fault: back to the last epoch boundary with halved learning rates, or stop
                    fault = _describe(fault, stats, trainer)
                    if trainer.recoveries < policy.retries:
                        trainer.recover(good)
                        monitor.reset()
                        bar.n = trainer.epoch * n_batches + trainer.step_in_epoch
                        bar.refresh()
                        if ctx.is_main:
                            print(f"liegan train: warning: {fault}; recovery {trainer.recoveries}/{policy.retries}: "
                                  f"back to epoch {trainer.epoch} with learning rates halved "
                                  f"(x{0.5 ** trainer.recoveries:g})", file=sys.stderr)
                        continue
                    keep = (f"the last good checkpoint is {ckpt}" if ckpt.exists()
                            else "no checkpoint had been written yet")
                    tried = (f" (after {trainer.recoveries} recoveries with halved learning rates)"
                             if trainer.recoveries else "")
                    raise TrainingError(f"{fault}{tried}; stopping: {keep}. {_hint(fault)}")
                if halted:
                    break
                # ---- end of epoch: scores, summaries, checkpoint, new recovery point
                trainer.epoch += 1
                trainer.step_in_epoch = 0
                L = trainer.G.effective().detach().cpu().numpy()
                scores = score(L, data.info)
                row = _epoch_means(sums, n_batches, ctx) | scalar_items(scores)
                row["time/elapsed_s"] = time.perf_counter() - start
                history.append({"epoch": trainer.epoch, **row})
                writer.scalars(row, trainer.epoch)
                if trainer.epoch % t.log_every == 0 or trainer.epoch == t.epochs:
                    writer.generators(L, trainer.epoch)
                    writer.coefficients(z, trainer.epoch)
                if trainer.epoch % t.checkpoint_every == 0:
                    saved_at = checkpoint()
                good = trainer.snapshot()
                bar.set_postfix({"epoch": f"{trainer.epoch}/{t.epochs}"} | _postfix(row))
    except BaseException:
        writer.close()
        raise
    finally:
        bar.close()

    # ---- the end (or a signal): final checkpoint, replicas compared, export by rank 0
    if saved_at != (trainer.epoch, trainer.step_in_epoch):  # keep prev.pt one generation older than last.pt
        checkpoint()
    metrics = dict(scores)
    if history:
        metrics.update({k: history[-1][k] for k in ("loss/generator", "loss/discriminator") if k in history[-1]})
    metrics["epochs"] = trainer.epoch
    if ctx.enabled:
        metrics |= _compare_replicas(trainer, ctx)
    algebra = trainer.algebra(metrics)
    if ctx.is_main:
        algebra.save(run_dir)
    if not halted:
        writer.hparams(_flat_hparams(cfg), scalar_items(metrics))
    writer.close()
    ctx.barrier()
    return RunResult(run_dir, algebra, metrics, history, halted)


# ------------------------------------------------------------------------------------------------ helpers


def _rank_rng(state: dict, ctx: Dist) -> dict | None:
    """This rank's RNG state from a checkpoint; a different number of ranks cannot resume exactly."""
    ranks = state.get("rng_ranks") or [state["rng"]]
    if len(ranks) == ctx.world:
        return ranks[ctx.rank]
    if ctx.is_main:
        print(f"liegan train: warning: the checkpoint was written by {len(ranks)} process(es) and is resumed by "
              f"{ctx.world}: the run continues, but not bitwise as it would have", file=sys.stderr)
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
        return ("Try a lower discriminator learning rate (--lr-d), a narrower discriminator, or check that the "
                "search space (--mask) can hold a symmetry of these data.")
    return "Try a lower learning rate (--lr-g/--lr-d), a norm penalty (--set train.mu_reg=...) or check the data scale."
def _progress(enabled: bool, total: int, initial: int):
    from tqdm.auto import tqdm

    # counted in steps, so a long epoch (the full top-quark set: ~19k steps at batch 64) shows it is moving
    return tqdm(total=total, initial=initial, unit="step", disable=not enabled, dynamic_ncols=True)


def _postfix(row: dict) -> dict:
    keys = {"loss/discriminator": "D", "loss/generator": "G", "similarity_to_truth": "sim"}
    out = {short: f"{row[k]:.3f}" for k, short in keys.items() if k in row}
    out.update({k.replace("metric_cosine_", "cos_"): f"{v:.3f}"
                for k, v in row.items() if k.startswith("metric_cosine_")})
    return out


def _flat_hparams(cfg: TrainCommandConfig) -> dict:
    d = cfg.to_dict()
    keep = {"data": ["dataset"], "generator": ["channels", "mask", "coefficients", "sigma"],
            "train": ["epochs", "batch_size", "lr_g", "lr_d", "lambda_id", "eta_ch", "seed"]}
    return {f"{s}.{k}": d[s][k] for s, ks in keep.items() for k in ks}
