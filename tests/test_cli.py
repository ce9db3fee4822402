"""The `liegan` command in a real subprocess: the user's day, and one-line errors for bad input."""

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from liegan import load_algebra
from liegan.datasets.twobody import HNN_ORDER, simulate
from liegan.trainers import resolve_config, train


def assert_one_line_error(proc, *needles):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for needle in needles:
        assert str(needle) in lines[0], (needle, lines[0])


def hnn_pickle(path: Path, n_traj: int = 200) -> np.ndarray:
    """An HNN-format file built from the simulator: per-body columns put back in HNN order."""
    traj = simulate(n_traj, seed=5)  # (n, T, 8) per-body layout
    hnn = np.empty_like(traj)
    hnn[..., HNN_ORDER] = traj
    with open(path, "wb") as f:
        pickle.dump({"coords": hnn, "test_coords": hnn[:10]}, f)
    return traj


def test_version_and_datasets(run_cli):
    assert run_cli("--version").stdout.startswith("liegan ")
    out = run_cli("datasets").stdout
    for name in ("twobody", "custom", "topquark", "rotation7"):
        assert name in out


def test_train_export_load(tmp_path, run_cli, run_python):
    proc = run_cli("train", "--n-samples", 1000, "--epochs", 1, "--logdir", tmp_path, "--name", "r", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert f"run folder: {tmp_path / 'r'}" in proc.stdout
    for fmt in ("npz", "json", "pt"):
        out = tmp_path / f"exported.{fmt}"
        proc = run_cli("export", tmp_path / "r", "--format", fmt, "--out", out)
        assert proc.returncode == 0, proc.stderr
        np.testing.assert_array_equal(load_algebra(out).generators, load_algebra(tmp_path / "r").generators)
    code = f"import liegan; a = liegan.load_algebra({str(tmp_path / 'r')!r}); print(a.generators.shape)"
    assert run_python("-c", code).stdout.strip() == "(1, 8, 8)"
    config = (tmp_path / "r" / "config.toml").read_text()
    assert "[train]" in config and "epochs = 1" in config


def test_config_file_and_overrides(tmp_path, run_cli):
    (tmp_path / "c.toml").write_text("[train]\nepochs = 1\nbatch_size = 500\n[data]\nn_samples = 1000\n")
    proc = run_cli(
        "train",
        "--config",
        tmp_path / "c.toml",
        "--set",
        "train.lr_d=0.001",
        "--logdir",
        tmp_path,
        "--name",
        "r",
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr
    cfg = load_algebra(tmp_path / "r").config
    assert cfg["train"]["batch_size"] == 500 and cfg["train"]["lr_d"] == 0.001


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_default_twobody_discovers_so2_for_every_seed(tmp_path, seed):
    cfg = resolve_config("twobody", overrides={"train.seed": seed, "run.logdir": str(tmp_path)})
    result = train(cfg, progress=False)
    assert result.metrics["similarity_to_truth"] >= 0.99, (seed, result.metrics)


@pytest.mark.slow
def test_hnn_pickle_discovers_so2(tmp_path):
    hnn_pickle(tmp_path / "2body-orbits-dataset.pkl", n_traj=1000)
    cfg = resolve_config(
        "twobody", overrides={"data.data_file": str(tmp_path / "2body-orbits-dataset.pkl"), "run.logdir": str(tmp_path)}
    )
    result = train(cfg, progress=False)
    assert result.metrics["similarity_to_truth"] >= 0.99, result.metrics


# ---------------------------------------------------------------------------------------------- bad input


def test_missing_data_file(tmp_path, run_cli):
    assert_one_line_error(run_cli("train", "--data-file", tmp_path / "none.pkl", "--logdir", tmp_path), "none.pkl")


def test_hostile_pickle_is_refused_without_running_code(tmp_path, run_cli):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    bad = tmp_path / "evil.pkl"
    bad.write_bytes(pickle.dumps({"coords": Evil()}))
    proc = run_cli("train", "--data-file", bad, "--logdir", tmp_path)
    assert_one_line_error(proc, "evil.pkl", "refusing")
    assert not marker.exists(), "the hostile pickle ran code"


def test_wrong_shape_and_nan_in_custom_data(tmp_path, run_cli):
    np.savez(tmp_path / "flat.npz", x=np.zeros(10))
    assert_one_line_error(
        run_cli("train", "--dataset", "custom", "--data-file", tmp_path / "flat.npz", "--logdir", tmp_path),
        "flat.npz",
        "shape",
    )
    x = np.random.default_rng(0).normal(size=(50, 3))
    x[7, 1] = np.nan
    np.savez(tmp_path / "nan.npz", x=x)
    assert_one_line_error(
        run_cli("train", "--dataset", "custom", "--data-file", tmp_path / "nan.npz", "--logdir", tmp_path),
        "nan.npz",
        "NaN",
    )


def test_wrong_shape_hnn_pickle(tmp_path, run_cli):
    with open(tmp_path / "bad.pkl", "wb") as f:
        pickle.dump({"coords": np.zeros((4, 10, 6))}, f)
    assert_one_line_error(run_cli("train", "--data-file", tmp_path / "bad.pkl", "--logdir", tmp_path), "bad.pkl")


def test_unknown_dataset(tmp_path, run_cli):
    assert_one_line_error(run_cli("train", "--dataset", "nope", "--logdir", tmp_path), "unknown dataset 'nope'")


def test_unwritable_logdir(tmp_path, run_cli):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    proc = run_cli("train", "--n-samples", 100, "--logdir", blocker / "runs")
    assert_one_line_error(proc, "a-file", "cannot create the run folder")


def test_export_of_a_malformed_run(tmp_path, run_cli):
    (tmp_path / "algebra.npz").write_bytes(b"garbage")
    assert_one_line_error(run_cli("export", tmp_path), "algebra.npz")


@pytest.mark.parametrize(
    "args, meant",
    [
        (["train", "--epoch", "3"], "--epochs"),  # a prefix is not taken for the option it abbreviates
        (["train", "--lr_g", "1"], "--lr-g"),
        (["data", "synth", "topquark", "--jet", "10"], "--jets"),  # a nested subcommand names its own option
    ],
)
def test_misspelt_option_names_the_one_meant_and_starts_nothing(tmp_path, args, meant, run_cli):
    proc = run_cli(*args, "--logdir", tmp_path / "runs", "--quiet")
    assert_one_line_error(proc, "did you mean", meant)
    assert proc.stderr.startswith(f"liegan {' '.join(args[:2] if args[0] == 'data' else args[:1])}: error")
    assert not (tmp_path / "runs").exists(), "a run folder was created"


def test_unknown_option_without_a_close_one(tmp_path, run_cli):
    assert_one_line_error(run_cli("export", tmp_path, "--zzzz"), "unrecognized option --zzzz", "--help")


# ---------------------------------------------------------------------------------------- start-up cost

NO_TORCH = """
import sys
from liegan.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as e:
    code = e.code
print("exit", code, "torch imported" if "torch" in sys.modules else "torch not imported")
"""


def test_commands_that_do_not_train_do_not_import_torch(tmp_path, run_python):
    from liegan import Algebra
    from liegan.algebras import so13

    Algebra(so13(), dataset="topquark", feature_names=["E", "px", "py", "pz"]).save(tmp_path / "run")
    for args in (
        ["--help"],
        ["--version"],
        ["datasets"],
        ["export", tmp_path / "run"],
        ["analyze", tmp_path / "run" / "algebra.npz"],
        ["runs", tmp_path],
        ["train", "--help"],
    ):
        proc = run_python("-c", NO_TORCH, *args, timeout=120)
        assert proc.stdout.strip().endswith("exit 0 torch not imported"), (args, proc.stdout[-300:], proc.stderr)


def test_misspelt_command_or_choice_names_the_one_meant(tmp_path, run_cli):
    assert_one_line_error(run_cli("trian"), "invalid choice: 'trian'", "did you mean 'train'?")
    assert_one_line_error(run_cli("export", tmp_path, "--format", "nzp"), "did you mean 'npz'?")


def test_ctrl_c_that_surfaces_as_another_error_is_the_interrupt(monkeypatch, capsys):
    # numpy interrupted mid-import raises ImportError, not KeyboardInterrupt; after a SIGINT that is the interrupt
    import signal

    from liegan import cli

    def interrupted_import(argv):
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
        raise ImportError("PyCapsule_Import could not import module 'datetime'")

    # a shell's background job starts with SIGINT ignored (and main then leaves it alone): give the test
    # process Python's own handler, as a terminal's foreground process has
    monkeypatch.setattr(cli, "_main", interrupted_import)
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        assert cli.main(["train"]) == 130
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler given back
    finally:
        signal.signal(signal.SIGINT, old)
    assert capsys.readouterr().err == "liegan: interrupted\n"

    def broken_import(argv):  # negative control: without a SIGINT the error is a real one
        raise ImportError("no module named x")

    monkeypatch.setattr(cli, "_main", broken_import)
    with pytest.raises(ImportError):
        cli.main(["train"])
