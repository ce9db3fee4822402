"""Multi-process training: torchrun with two CPU processes (gloo) trains one LieGAN, rank 0 alone writes the
run folder, the ranks end with identical generators and the result matches so(2).  Plus the pieces: batch
sharding, the shared epoch permutation, the replica comparison (with a negative control) and --nproc."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from liegan import load_algebra
from liegan.algebras import twobody_so2
from liegan.lie import frobenius_cosine
from liegan.trainers import distributed
from liegan.trainers.checkpoint import load_checkpoint
from liegan.trainers.distributed import Dist, epoch_permutation, rank_seed, shard

ROOT = Path(__file__).resolve().parents[2]


# ----------------------------------------------------------------------------------------------- pieces


@pytest.mark.parametrize("world", [1, 2, 3, 4])
@pytest.mark.parametrize("b", [1, 2, 5, 128])
def test_shards_are_equal_sized_and_cover_the_batch(world, b):
    idx = torch.arange(100, 100 + b)
    parts = [shard(idx, Dist(rank=r, world=world)) for r in range(world)]
    assert len({len(p) for p in parts}) == 1, "every rank gets the same number of samples"
    together = torch.cat(parts)
    assert set(together.tolist()) == set(idx.tolist()), "the shards cover the global batch"
    assert len(together) == b + (-b) % world, "padding only up to the next multiple of the world size"
    if b % world == 0:
        assert sorted(together.tolist()) == idx.tolist(), "no sample repeated when the batch divides evenly"


def test_epoch_permutation_is_a_pure_function_of_seed_and_epoch():
    a = epoch_permutation(1000, seed=0, epoch=3)
    assert torch.equal(a, epoch_permutation(1000, seed=0, epoch=3))
    assert sorted(a.tolist()) == list(range(1000))
    assert not torch.equal(a, epoch_permutation(1000, seed=0, epoch=4))
    assert not torch.equal(a, epoch_permutation(1000, seed=1, epoch=3))
    # (seed, epoch) pairs with the same sum must not collide, as a naive seed + epoch would
    assert not torch.equal(epoch_permutation(1000, 1, 0), epoch_permutation(1000, 0, 1))


def test_rank_seeds():
    assert rank_seed(7, 0) == 7, "one process is rank 0 of one: its stream is the plain seed"
    assert len({rank_seed(7, r) for r in range(8)}) == 8


def test_single_process_needs_no_process_group(monkeypatch):
    for v in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(v, raising=False)
    ctx, device = distributed.setup(torch.device("cpu"))
    assert (ctx.rank, ctx.world, ctx.enabled, device.type) == (0, 1, False, "cpu")
    assert ctx.broadcast_object("x") == "x" and ctx.gather_objects(3) == [3] and ctx.on_main(lambda: 5) == 5


class _TwoRanks(Dist):
    """Rank 0 of two, with rank 1's generator ``other``: the collectives answered locally (the real
    all-gather runs in the torchrun test below; this checks what is made of its answer)."""

    def __init__(self, other):
        super().__init__(rank=0, world=2)
        self.other = other

    def all_gather(self, t):
        return [t, self.other.reshape(-1)]

    def all_reduce_sum(self, t):
        return t


@pytest.mark.parametrize("delta", [0.0, 1e-3])
def test_replica_comparison_reports_differences(delta, capsys):
    from liegan.trainers.loop import _compare_replicas

    L = torch.arange(8.0).reshape(1, 2, 4)
    trainer = SimpleNamespace(G=SimpleNamespace(effective=lambda: L))
    res = _compare_replicas(trainer, _TwoRanks(L + delta))
    assert res["world_size"] == 2.0
    assert res["replica_max_abs_diff"] == pytest.approx(delta, rel=1e-3)
    assert ("differ" in capsys.readouterr().err) == (delta > 0)


def test_nproc_workers_get_the_launchers_resolved_config(tmp_path):
    """`--nproc N` composes the config once; the workers read it back from the TOML the launcher wrote
    (not from a rebuilt command line) and get exactly the same config."""
    from liegan.cli import build_parser
    from liegan.config import to_toml
    from liegan.trainers.cli import compose

    argv = [
        "train",
        "--dataset",
        "twobody",
        "--preset",
        "paper",
        "--n-samples",
        "4000",
        "--epochs",
        "2",
        "--set",
        "train.eta_ch=0.5",
        "--name",
        "r-x",
        "--quiet",
        "--nproc",
        "2",
    ]
    cfg = compose(build_parser().parse_args(argv))
    (tmp_path / "resolved.toml").write_text(to_toml(cfg.to_dict()))
    again = compose(build_parser().parse_args(["train", "--resolved", str(tmp_path / "resolved.toml")]))
    assert again.to_dict() == cfg.to_dict()
    assert cfg.generator.mask == "blocks:2,2,2,2" and cfg.train.eta_ch == 0.5 and cfg.run.name == "r-x"


# ---------------------------------------------------------------------------------------------- torchrun


def test_torchrun_two_cpu_processes_train_one_liegan(tmp_path, run_python):
    logdir = tmp_path / "runs"
    cmd = [
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "liegan",
        "train",
        "--dataset",
        "twobody",
        "--n-samples",
        "4000",
        "--epochs",
        "2",
        "--device",
        "cpu",
        "--logdir",
        logdir,
        "--name",
        "ddp",
        "--quiet",
        "--set",
        "generator.average=0",  # the checkpoint's generator is then the exported one
    ]
    proc = run_python(*cmd, timeout=240, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("run folder:") == 1, "only rank 0 reports"

    # rank 0 alone wrote the run folder, once
    assert [p.name for p in logdir.iterdir()] == ["ddp"]
    assert len(list(logdir.rglob("algebra.npz"))) == 1 and len(list(logdir.rglob("config.toml"))) == 1
    assert not list(logdir.rglob("*.tmp")), "no temporary files left"
    run = logdir / "ddp"
    assert list(run.glob("events.out.tfevents.*"))

    # the ranks' final generators were compared with an all-gather: identical
    algebra = load_algebra(run)
    assert algebra.metrics["world_size"] == 2.0
    assert algebra.metrics["replica_max_abs_diff"] == 0.0

    # and they are so(2)
    cos = abs(frobenius_cosine(algebra.generators[0], twobody_so2()[0]))
    assert cos >= 0.99, (cos, algebra.metrics)

    # the checkpoint holds both ranks' RNG states, so a two-process run resumes exactly
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    assert state["world_size"] == 2 and len(state["rng_ranks"]) == 2 and state["epoch"] == 2
    assert not torch.equal(state["rng_ranks"][0]["torch"], state["rng_ranks"][1]["torch"]), (
        "the ranks draw different coefficients"
    )
    np.testing.assert_array_equal(state["generator"]["L"].double().numpy() * algebra.mask, algebra.generators)


GRADIENT_SCRIPT = """
import json, sys
import torch
from torch.nn.parallel import DistributedDataParallel as DDP
from liegan.lie import identity_cosine
from liegan.trainers.distributed import setup

ctx, _ = setup(torch.device("cpu"))
model = torch.nn.Linear(3, 3, bias=False, dtype=torch.float64)
g = torch.Generator().manual_seed(1)  # the same numbers on both ranks
with torch.no_grad():
    model.weight.copy_(torch.diag(torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64))
                       + 0.1 * torch.randn(3, 3, dtype=torch.float64, generator=g))
x = torch.randn(8, 1, 3, dtype=torch.float64, generator=g)
x[:4, :, 2] *= 0.2  # rank 0's shard lies near the plane W keeps (cosines near +1),
x[4:, :, :2] *= 0.5  # rank 1's along the axis W flips (cosines near -1)
mine = x[4 * ctx.rank:4 * ctx.rank + 4]
ddp = DDP(model)
global_mean = ctx.mean if sys.argv[1] == "global" else (lambda t: t)  # "shard": the negative control
global_mean(identity_cosine(ddp(mine), mine)).abs().backward()
ddp_grad = model.weight.grad.clone()
ref = torch.nn.Linear(3, 3, bias=False, dtype=torch.float64)
ref.load_state_dict(model.state_dict())
identity_cosine(ref(x), x).abs().backward()  # one process, the whole global batch
if ctx.rank == 0:
    print(json.dumps({"err": float((ddp_grad - ref.weight.grad).norm() / ref.weight.grad.norm())}))
del ddp  # DDP's reducer goes before the group, and no rank leaves while another still uses it (as in train())
ctx.barrier()
ctx.close()
"""


@pytest.mark.parametrize("mode", ["global", "shard"])
def test_identity_regulariser_under_ddp_has_the_single_process_gradient(tmp_path, mode, run_python):
    """R_id is |mean cosine| of the global batch: each rank's shard mean goes through Dist.mean (a
    differentiable all-reduce) before the absolute value, so DDP's averaged gradient equals one process's.
    The shards here have cosine means of opposite sign, where a per-shard |mean| (mode 'shard') differs."""
    script = tmp_path / "grad.py"
    script.write_text(GRADIENT_SCRIPT)
    cmd = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", script, mode]
    proc = run_python(*cmd, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    err = json.loads(proc.stdout.strip().splitlines()[-1])["err"]
    if mode == "global":
        assert err < 1e-12
    else:
        assert err > 0.1, "the negative control: per-shard |mean| gives another gradient"


@pytest.mark.slow
def test_liegan_train_nproc_wraps_torchrun(tmp_path, run_cli):
    cmd = [
        "train",
        "--nproc",
        "2",
        "--n-samples",
        "2000",
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--logdir",
        tmp_path,
        "--name",
        "np",
        "--quiet",
    ]
    proc = run_cli(*cmd, timeout=240, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert load_algebra(tmp_path / "np").metrics["world_size"] == 2.0


@pytest.mark.slow
def test_ctrl_c_under_nproc_checkpoints_exits_130_and_resumes(tmp_path, clean_env, run_cli):
    """The terminal's Ctrl-C reaches the whole process group (liegan, torchrun, the workers), and torchrun
    forwards it to the workers again: the repeat is the same request, the checkpoint is written."""
    cmd = [
        sys.executable,
        "-m",
        "liegan",
        "train",
        "--nproc",
        "2",
        "--n-samples",
        "8000",
        "--batch-size",
        "32",
        "--epochs",
        "6",
        "--checkpoint-every",
        "1",
        "--set",
        "train.stop_when_converged=false",  # all six epochs: the signal must land while it trains
        "--device",
        "cpu",
        "--logdir",
        str(tmp_path),
        "--quiet",
    ]
    proc = subprocess.Popen(
        [*cmd, "--name", "r"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env,
        cwd=ROOT,
        start_new_session=True,
    )
    last = tmp_path / "r" / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 180
    while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, proc.communicate()[1][-3000:]
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-3000:]
    assert "checkpoint written" in err and f"--resume {tmp_path / 'r'} --nproc 2" in err
    state = load_checkpoint(last)
    assert state["world_size"] == 2 and 1 <= state["epoch"] < 6

    resumed = run_cli("train", "--nproc", "2", "--resume", tmp_path / "r", "--quiet", timeout=240, cwd=ROOT)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert load_checkpoint(last)["epoch"] == 6
    assert load_algebra(tmp_path / "r").metrics["replica_max_abs_diff"] == 0.0


def test_nproc_must_be_positive(tmp_path, capsys):
    from liegan.cli import main

    assert main(["train", "--nproc", "0", "--logdir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--nproc 0" in err and "Traceback" not in err
