"""Exact resume: checkpoints carry a digest and a previous generation; a damaged last.pt is detected and
prev.pt used with a warning; SIGTERM (in process) and SIGINT (a real `liegan train` subprocess) stop
mid-epoch with a loadable checkpoint, and resuming gives bitwise the generators of an uninterrupted run."""

import functools
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from liegan import load_algebra
from liegan.io import InputError
from liegan.trainers import resolve_config, resume_config, train
from liegan.trainers.checkpoint import digest, load_checkpoint, load_latest, save_checkpoint
from liegan.trainers.loop import StopFlag


@pytest.fixture
def small_cfg(small_cfg):
    """Three epochs with a checkpoint after each, so a run has two generations to fall back on."""
    return functools.partial(small_cfg, **{"train.epochs": 3, "train.checkpoint_every": 1})


def a_state(epoch=1):
    return {
        "generator": {"L": torch.arange(64.0).reshape(1, 8, 8)},
        "discriminator": {},
        "opt_g": {},
        "opt_d": {},
        "epoch": epoch,
        "step_in_epoch": 0,
        "global_step": 10 * epoch,
        "perm": None,
        "recoveries": 0,
        "rng": {},
        "config": {"x": [1, 2]},
        "sums": {},
        "data_digest": "0",
    }


# ---------------------------------------------------------------------------------------- checkpoint files


def test_two_generations_and_digest_round_trip(tmp_path):
    folder = tmp_path / "checkpoints"
    save_checkpoint(folder / "last.pt", a_state(1))
    assert not (folder / "prev.pt").exists()
    save_checkpoint(folder / "last.pt", a_state(2))
    assert load_checkpoint(folder / "last.pt")["epoch"] == 2 and load_checkpoint(folder / "prev.pt")["epoch"] == 1
    s = load_checkpoint(folder / "last.pt")
    assert s["digest"] == digest(s) and digest(s) != digest({**s, "epoch": 3})
    assert sorted(p.name for p in folder.iterdir()) == ["last.pt", "prev.pt"]


def _flip_tensor_byte(path):
    """Corrupt one byte inside the tensor data: torch's own loader does not notice this."""
    data = bytearray(path.read_bytes())
    i = data.find(np.arange(40, 42, dtype=np.float32).tobytes())
    assert i > 0
    data[i] ^= 0x40
    path.write_bytes(bytes(data))


def test_corrupt_and_truncated_checkpoints_are_detected(tmp_path):
    p = tmp_path / "last.pt"
    save_checkpoint(p, a_state())
    _flip_tensor_byte(p)
    assert torch.load(p, weights_only=True)["generator"]["L"][0, 5, 0] != 40.0, "torch loads it silently"
    with pytest.raises(InputError, match=r"last\.pt: corrupt checkpoint .*digest"):
        load_checkpoint(p)
    save_checkpoint(p, a_state(), keep_previous=False)
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    with pytest.raises(InputError, match=r"last\.pt: unreadable checkpoint, truncated or corrupt"):
        load_checkpoint(p)
    p.write_bytes(b"")
    with pytest.raises(InputError, match="truncated or corrupt"):
        load_checkpoint(p)
    torch.save({"generator": {}}, p)
    with pytest.raises(InputError, match="not a liegan checkpoint"):
        load_checkpoint(p)


def test_load_latest_falls_back_to_prev_with_a_warning(tmp_path, capsys):
    folder = tmp_path / "checkpoints"
    save_checkpoint(folder / "last.pt", a_state(1))
    save_checkpoint(folder / "last.pt", a_state(2))
    assert load_latest(folder)[0]["epoch"] == 2 and capsys.readouterr().err == ""
    _flip_tensor_byte(folder / "last.pt")
    state, used = load_latest(folder)
    assert state["epoch"] == 1 and used.name == "prev.pt"
    err = capsys.readouterr().err
    assert "warning" in err and "last.pt: corrupt" in err and "prev.pt" in err
    (folder / "prev.pt").write_bytes(b"junk")
    with pytest.raises(InputError, match="no usable checkpoint"):
        load_latest(folder)


def test_a_crash_while_saving_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    p = tmp_path / "last.pt"
    save_checkpoint(p, a_state(1))

    def dies_half_way(obj, f):
        f.write(b"PK\x03\x04 partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(OSError):
        save_checkpoint(p, a_state(2))
    assert load_checkpoint(p)["epoch"] == 1
    assert [f.name for f in tmp_path.iterdir()] == ["last.pt"], "no temporary file, no rotation"


# ---------------------------------------------------------------------------------------------- training


def test_run_keeps_last_and_prev(tmp_path, small_cfg):
    train(small_cfg("r"), progress=False)
    folder = tmp_path / "r" / "checkpoints"
    assert load_checkpoint(folder / "last.pt")["epoch"] == 3
    assert load_checkpoint(folder / "prev.pt")["epoch"] == 2, "the final checkpoint is not written twice"


def test_resume_from_prev_when_last_is_truncated(tmp_path, capsys, small_cfg):
    full = train(small_cfg("full"), progress=False).algebra.generators
    train(small_cfg("part", **{"train.epochs": 2}), progress=False)
    last = tmp_path / "part" / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[:1000])  # epoch 2's checkpoint cut short; prev.pt holds epoch 1
    resumed = train(resume_config(tmp_path / "part", epochs=3), resume=tmp_path / "part", progress=False)
    assert "using the previous checkpoint" in capsys.readouterr().err
    np.testing.assert_array_equal(resumed.algebra.generators, full)
    assert (tmp_path / "part" / "checkpoints" / "last.pt.corrupt").exists(), "the damaged file is set aside"
    assert load_checkpoint(last)["epoch"] == 3 and load_checkpoint(last.with_name("prev.pt"))["epoch"] == 2


def test_sigterm_mid_epoch_then_resume_is_bitwise_exact(tmp_path, small_cfg):
    """Bitwise, because the checkpoint restores every RNG state, the epoch's permutation and position and
    Adam's state, and the CPU kernels (one thread) run the same operations in the same order."""
    full = train(small_cfg("full"), progress=False)

    def terminate(trainer):
        if trainer.global_step == 21:  # epoch 1 has steps 16..31
            os.kill(os.getpid(), signal.SIGTERM)

    part = train(small_cfg("part"), progress=False, on_step=terminate)
    assert part.interrupted
    state = load_checkpoint(tmp_path / "part" / "checkpoints" / "last.pt")
    assert state["epoch"] == 1 and 0 < state["step_in_epoch"] < 16, "stopped mid-epoch"
    resumed = train(resume_config(tmp_path / "part"), resume=tmp_path / "part", progress=False)
    assert not resumed.interrupted
    np.testing.assert_array_equal(resumed.algebra.generators, full.algebra.generators)
    # what it reports, too: the interrupted epoch's means count the steps before the signal (checkpointed
    # running sums), in the history, the final metrics and algebra.json
    assert [r["epoch"] for r in resumed.history] == [2, 3]
    for got, want in zip(resumed.history, full.history[1:], strict=True):
        for k in ("loss/generator", "loss/discriminator", "reg/identity", "disc/real_prob", "similarity_to_truth"):
            assert got[k] == pytest.approx(want[k], rel=1e-6, abs=1e-9), (got["epoch"], k)
    for k in ("loss/generator", "loss/discriminator"):
        assert resumed.metrics[k] == pytest.approx(full.metrics[k], rel=1e-6)
        assert load_algebra(tmp_path / "part").metrics[k] == pytest.approx(full.metrics[k], rel=1e-6)


@pytest.mark.slow
def test_sigint_subprocess_leaves_a_checkpoint_and_resume_finishes(tmp_path, clean_env, run_cli):
    base = [
        sys.executable,
        "-m",
        "liegan",
        "train",
        "--dataset",
        "twobody",
        "--n-samples",
        "8000",
        "--batch-size",
        "32",
        "--epochs",
        "4",
        "--checkpoint-every",
        "1",
        "--set",
        "train.stop_when_converged=false",  # all four epochs: the signal must land while it trains
        "--device",
        "cpu",
        "--logdir",
        str(tmp_path),
        "--quiet",
    ]
    proc = subprocess.Popen(
        [*base, "--name", "run"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env
    )
    last = tmp_path / "run" / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 120
    while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, proc.communicate()[1][-2000:]
    # Signal as soon as epoch 0's checkpoint exists: three epochs of 250 steps (a second or more) remain,
    # so the signal lands during training without depending on how fast this machine is.
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert "--resume" in err and "Traceback" not in err
    state = load_checkpoint(last)
    assert state["epoch"] in (1, 2, 3), "the interrupt checkpoint is one the run had not finished"

    resumed = run_cli("train", "--resume", tmp_path / "run", "--quiet", timeout=120)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert load_checkpoint(last)["epoch"] == 4

    # and it is the run that was never interrupted (trained here, in process, from the same options)
    cfg = resolve_config(
        "twobody",
        overrides={
            "data.n_samples": 8000,
            "train.batch_size": 32,
            "train.epochs": 4,
            "train.stop_when_converged": False,
            "train.device": "cpu",
            "run.logdir": str(tmp_path),
            "run.name": "full",
        },
    )
    full = train(cfg, progress=False).algebra.generators
    np.testing.assert_array_equal(np.load(tmp_path / "run" / "algebra.npz")["generators"], full)


def test_a_repeated_signal_within_a_second_is_the_same_request():
    """torchrun forwards the terminal's Ctrl-C to workers that already received it; only a later second
    Ctrl-C means 'stop now, without the checkpoint'."""
    flag = StopFlag()
    flag.REPEAT_S = 0.2
    flag._handle(signal.SIGINT, None)
    flag._handle(signal.SIGINT, None)  # the forwarded copy, at once: ignored
    assert flag.signal == signal.SIGINT
    time.sleep(0.25)
    with pytest.raises(KeyboardInterrupt):
        flag._handle(signal.SIGINT, None)
