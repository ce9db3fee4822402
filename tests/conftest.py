"""Shared fixtures: built-in data and the metric calibration cached once per session in temporary LIEGAN_DATA
and LIEGAN_CACHE folders, a runner for real subprocesses and a short two-body training config."""

import os
import subprocess
import sys

import pytest

# set by torchrun in its workers: a subprocess that inherits them believes it is one of them
LAUNCHER_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


@pytest.fixture(autouse=True)
def _data_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("LIEGAN_DATA", str(tmp_path_factory.getbasetemp() / "liegan-data"))
    monkeypatch.setenv("LIEGAN_CACHE", str(tmp_path_factory.getbasetemp() / "liegan-cache"))


def outside_torchrun() -> dict[str, str]:
    """This process's environment without the launcher's variables, for a subprocess."""
    return {k: v for k, v in os.environ.items() if k not in LAUNCHER_VARIABLES}


def python_subprocess(*args, env=None, timeout=300, cwd=None) -> subprocess.CompletedProcess:
    """``python ARGS`` in a fresh process (arguments as str), outside any torchrun job; ``env`` is added to
    this process's environment.  The result has returncode, stdout and stderr (text)."""
    return subprocess.run(
        [sys.executable, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**outside_torchrun(), **(env or {})},
        cwd=cwd,
    )


@pytest.fixture
def clean_env():
    """The environment for a subprocess started by hand (``subprocess.Popen``): see :func:`outside_torchrun`."""
    return outside_torchrun()


@pytest.fixture
def run_python():
    """``run_python(*args, env=None, timeout=300, cwd=None)``: see :func:`python_subprocess`."""
    return python_subprocess


@pytest.fixture
def run_cli():
    """``run_cli(*args, env=None, timeout=300, cwd=None)``: the `liegan` command, ``python -m liegan ARGS``,
    in a real subprocess (see :func:`python_subprocess`)."""
    return lambda *args, **kw: python_subprocess("-m", "liegan", *args, **kw)


@pytest.fixture
def small_cfg(tmp_path):
    """``small_cfg(name="run", **overrides)``: the two-body default preset cut to 2,000 samples and two
    epochs without its early stop (the tests count steps and epochs), its run folder ``tmp_path / name``;
    overrides are 'section.field' keys.  A module that needs other defaults overrides this fixture with a
    functools.partial of it."""
    from liegan.trainers import resolve_config

    def make(name: str = "run", **overrides):
        base = {"data.n_samples": 2000, "train.epochs": 2, "run.logdir": str(tmp_path), "run.name": name}
        base["train.stop_when_converged"] = False
        return resolve_config("twobody", overrides={**base, **overrides})

    return make
