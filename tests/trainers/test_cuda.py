"""The GPU path: the same short trainings on CUDA (skipped on machines without one).  On CUDA resume is
exact only to ~1e-6 relative (cuBLAS may reorder sums), so that is what is asserted here; two GPUs run the
torchrun test with NCCL."""

import functools

import numpy as np
import pytest
import torch

from liegan import load_algebra
from liegan.algebras import twobody_so2
from liegan.lie import frobenius_cosine
from liegan.trainers import resume_config, train
from liegan.trainers.checkpoint import load_checkpoint

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.fixture
def cuda_cfg(small_cfg):
    return functools.partial(small_cfg, **{"data.n_samples": 4000, "train.device": "cuda"})


def test_short_cuda_run_discovers_so2(tmp_path, cuda_cfg):
    result = train(cuda_cfg("gpu"), progress=False)
    assert result.metrics["similarity_to_truth"] >= 0.99, result.metrics
    algebra = load_algebra(tmp_path / "gpu")
    assert abs(frobenius_cosine(algebra.generators[0], twobody_so2()[0])) >= 0.99
    state = load_checkpoint(tmp_path / "gpu" / "checkpoints" / "last.pt")  # written on the GPU, read on the CPU
    assert state["generator"]["L"].device.type == "cpu" and "cuda" in state["rng"]


def test_cuda_stop_and_resume_agree_to_1e_6(tmp_path, cuda_cfg):
    full = train(cuda_cfg("full", **{"train.epochs": 3}), progress=False).algebra.generators
    train(cuda_cfg("part", **{"train.epochs": 1}), progress=False)
    resumed = train(resume_config(tmp_path / "part", epochs=3), resume=tmp_path / "part", progress=False)
    np.testing.assert_allclose(resumed.algebra.generators, full, rtol=1e-6, atol=1e-6 * np.abs(full).max())


def test_checkpoint_moves_between_devices(tmp_path, cuda_cfg):
    """A run checkpointed on the GPU continues on the CPU (the device is the one option resume may change)."""
    train(cuda_cfg("move", **{"train.epochs": 1}), progress=False)
    cfg = resume_config(tmp_path / "move", epochs=2, device="cpu")
    result = train(cfg, resume=tmp_path / "move", progress=False)
    assert result.metrics["epochs"] == 2 and np.isfinite(result.algebra.generators).all()


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
def test_torchrun_two_gpus_nccl(tmp_path, run_python):
    cmd = [
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "liegan",
        "train",
        "--n-samples",
        "4000",
        "--epochs",
        "2",
        "--device",
        "cuda",
        "--logdir",
        tmp_path,
        "--name",
        "nccl",
        "--quiet",
    ]
    proc = run_python(*cmd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    algebra = load_algebra(tmp_path / "nccl")
    assert algebra.metrics["world_size"] == 2.0 and algebra.metrics["replica_max_abs_diff"] == 0.0
    assert abs(frobenius_cosine(algebra.generators[0], twobody_so2()[0])) >= 0.99
