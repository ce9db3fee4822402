"""Multi-process training with PyTorch's own engine: torchrun starts the processes, torch.distributed
connects them, DistributedDataParallel all-reduces the gradients.  Nothing here is home-made transport.

    torchrun --nproc_per_node=N -m liegan train ...          # one machine, N processes
    torchrun --nnodes=2 --node_rank=R --rdzv_endpoint=HOST:PORT --nproc_per_node=N -m liegan train ...
    liegan train --nproc N ...                               # the first line, started for you

Conventions (see also the loop):
  * ``train.batch_size`` is the *global* batch: each of the W processes takes every W-th sample of each
    step's batch, so W processes follow the same schedule (steps per epoch, learning rates) as one.
  * The epoch permutation comes from a generator seeded by (seed, epoch): identical on every rank.
  * Parameters start identical (same seed; DDP also broadcasts rank 0's at wrap time); the coefficient
    sampling stream is seeded per rank so the ranks draw different group elements.
  * Terms of the loss that are not a mean of per-sample terms are computed on the global batch: the
    identity regulariser |mean cos(gx, x)| all-reduces the shards' means before the absolute value
    (``Dist.mean``), so W processes minimise the same objective as one.
  * Rank 0 alone writes the run folder (config, TensorBoard, checkpoints, export); the folder name is
    chosen on rank 0 and broadcast.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from liegan.io import InputError, TrainingError

TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass
class Dist:
    """Where this process sits; the single-process case is rank 0 of 1 with every collective a no-op."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    owns_group: bool = False  # we called init_process_group, so we tear it down

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    # -------------------------------------------------------------------------------- collectives
    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def broadcast_object(self, obj):
        """rank 0's ``obj`` on every rank (pickled by torch.distributed between our own processes)."""
        if not self.enabled:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather_objects(self, obj) -> list | None:
        """Every rank's ``obj`` as a list on rank 0 (None elsewhere)."""
        if not self.enabled:
            return [obj]
        out = [None] * self.world if self.is_main else None
        dist.gather_object(obj, out, dst=0)
        return out

    def all_reduce_sum(self, t: torch.Tensor) -> torch.Tensor:
        if self.enabled:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t

    def mean(self, t: torch.Tensor) -> torch.Tensor:
        """The mean M of ``t`` over the ranks, with this rank's ``t`` carrying the gradient: a term f(M) then
        gives f'(M) dt_r on rank r, and DDP's average over the ranks is f'(M) dM, the gradient one process
        computes from the whole global batch (f is the same on every rank because M is)."""
        if not self.enabled:
            return t
        total = self.all_reduce_sum(t.detach().clone())
        return t + (total / self.world - t).detach()

    def all_gather(self, t: torch.Tensor) -> list[torch.Tensor]:
        if not self.enabled:
            return [t]
        out = [torch.empty_like(t) for _ in range(self.world)]
        dist.all_gather(out, t.contiguous())
        return out

    def on_main(self, fn):
        """fn() on rank 0 alone, its result on every rank; rank 0's error is raised on every rank (instead
        of leaving the others waiting in the next collective)."""
        if not self.enabled:
            return fn()
        result, error = None, None
        if self.is_main:
            try:
                result = fn()
            except Exception as e:
                error = e
        kind, value = self.broadcast_object(("error", _message(error)) if error is not None else ("ok", result))
        if error is not None:
            raise error
        if kind == "error":
            raise value
        return value

    def on_main_first(self, fn):
        """fn() on rank 0, then on the other ranks (rank 0 may fill a cache that the others then read)."""
        if not self.enabled:
            return fn()
        kept = []
        self.on_main(lambda: kept.append(fn()))  # only success (or rank 0's error) travels, not the result
        return kept[0] if self.is_main else fn()

    def close(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()


def _message(e: Exception) -> Exception:
    """What the other ranks raise for rank 0's error: the same InputError, else a TrainingError naming it."""
    if isinstance(e, InputError):
        return InputError(str(e))
    return TrainingError(f"rank 0 failed: {type(e).__name__}: {e}")


def launched_by_torchrun() -> bool:
    return all(v in os.environ for v in TORCHRUN_VARS) and int(os.environ["WORLD_SIZE"]) > 1


def setup(device: torch.device) -> tuple[Dist, torch.device]:
    """Join the process group when torchrun's variables are present (NCCL on CUDA, gloo on CPU).

    Returns the rank description and the device this rank trains on (cuda:LOCAL_RANK on GPUs)."""
    if dist.is_available() and dist.is_initialized():  # the caller set it up (a notebook, a test harness)
        ctx = Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    elif dist.is_available() and launched_by_torchrun():
        local = int(os.environ["LOCAL_RANK"])
        if device.type == "cuda":
            device = torch.device("cuda", local)
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        ctx = Dist(dist.get_rank(), dist.get_world_size(), local, owns_group=True)
    else:
        return Dist(), device
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", ctx.local_rank)
    return ctx, device


def wrap(module: torch.nn.Module, ctx: Dist, device: torch.device) -> torch.nn.Module:
    """DistributedDataParallel around ``module`` (the module itself when running alone).

    Buffers (the generator's fixed mask) are identical on every rank, so they are not re-broadcast at each
    forward."""
    if not ctx.enabled:
        return module
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [device.index] if device.type == "cuda" else None
    params = inspect.signature(DDP.__init__).parameters  # newer torch renames the buffer option
    no_sync = {"forward_sync_buffers": False} if "forward_sync_buffers" in params else {"broadcast_buffers": False}
    return DDP(module, device_ids=ids, **no_sync)


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The order of the n samples in an epoch: a pure function of (seed, epoch), identical on all ranks."""
    key = int(np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0] >> 1)
    return torch.randperm(n, generator=torch.Generator().manual_seed(key))


def rank_seed(seed: int, rank: int) -> int:
    """Seed of rank r's sampling stream (rank 0 keeps ``seed``, so one process = rank 0 of one)."""
    if rank == 0:
        return seed
    return int(np.random.SeedSequence([seed, rank]).generate_state(1, dtype=np.uint64)[0] >> 1)


def shard(idx: torch.Tensor, ctx: Dist) -> torch.Tensor:
    """This rank's part of one step's global batch ``idx``: every world-th index from position rank.

    A last batch that does not divide evenly is padded by wrapping around (as DistributedSampler pads),
    so every rank gets the same number of samples and DDP's average is the global batch mean."""
    if not ctx.enabled:
        return idx
    total = len(idx) + (-len(idx)) % ctx.world
    if total > len(idx):
        idx = idx.repeat(-(-total // len(idx)))[:total]
    return idx[ctx.rank :: ctx.world]


ERROR_FILE = "LIEGAN_ERROR_FILE"  # set by launch(): where a worker leaves its one-line error


def launch(nproc: int, cfg, resume=None, quiet: bool = False) -> int:
    """``liegan train --nproc N``: ``torchrun --standalone --nproc_per_node=N -m liegan train --resolved FILE``
    on this machine, FILE holding ``cfg`` (composed and checked once, here); its exit code."""
    from liegan.config import to_toml

    with tempfile.TemporaryDirectory(prefix="liegan-launch-") as tmp:
        resolved = Path(tmp) / "config.toml"
        resolved.write_text(to_toml(cfg.to_dict(), header="liegan train --nproc: the launcher's resolved config"))
        args = ["train", "--resolved", str(resolved), *(["--resume", str(resume)] if resume else [])]
        return launch_command(nproc, [*args, *(["--quiet"] if quiet else [])])


def launch_command(nproc: int, args: list[str]) -> int:
    """``torchrun --standalone --nproc_per_node=N -m liegan ARGS`` on this machine; its exit code.

    A worker's error comes back as its one line with its status (2 for bad input), as in one process:
    torchrun's own report of the failed worker (a ChildFailedError traceback) is not shown.  Ctrl-C reaches
    the workers through torchrun; they write their checkpoint and the launch returns 130."""
    with tempfile.TemporaryDirectory(prefix="liegan-launch-") as tmp:
        error_file = Path(tmp) / "error.json"
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
        # OMP_NUM_THREADS=1 is what torchrun sets when it is unset, with a banner saying so: set it, no banner
        env = {"OMP_NUM_THREADS": "1", **os.environ, ERROR_FILE: str(error_file)}
        proc = subprocess.Popen([*cmd, "-m", "liegan", *args], env=env, stderr=subprocess.PIPE)
        relay = threading.Thread(target=_relay, args=(proc.stderr, error_file), daemon=True)
        relay.start()
        code = _wait(proc)
        relay.join(timeout=5)
        if error_file.exists():
            report = json.loads(error_file.read_text())
            print(report["message"], file=sys.stderr)
            return int(report["code"])
        return code


def _wait(proc: subprocess.Popen) -> int:
    try:
        return proc.wait()
    except KeyboardInterrupt:  # the terminal's SIGINT reached torchrun and the workers too
        while proc.poll() is None:  # the workers write their checkpoint; torchrun then exits 1 (its traceback)
            with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C reaches the workers as well
                proc.wait()
        return 130  # what an interrupted single-process run returns


def _relay(stream, error_file: Path) -> None:
    """Copy torchrun's stderr (the workers' too) to ours as it comes, progress bars included, until a worker
    has reported an error: what follows is torchrun's account of the same failure."""
    out = sys.stderr.buffer
    while chunk := os.read(stream.fileno(), 65536):
        if not error_file.exists():
            out.write(chunk)
            out.flush()
    stream.close()


@contextlib.contextmanager
def worker_errors_reported(command: str = "train"):
    """In a worker of :func:`launch_command` running ``liegan COMMAND``: an InputError or TrainingError is
    written to the launcher's error file (the first rank to fail writes it) and the worker exits with its
    status without printing, so the user reads one line, once.  Elsewhere the errors pass through to the
    CLI's usual one-line report."""
    path = os.environ.get(ERROR_FILE)
    if not path or not launched_by_torchrun():
        yield
        return
    try:
        yield
    except (InputError, TrainingError) as e:
        code = 2 if isinstance(e, InputError) else 1
        with contextlib.suppress(FileExistsError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump({"message": f"liegan {command}: error: {e}", "code": code}, f)
        raise SystemExit(code) from None
