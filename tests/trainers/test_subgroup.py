"""Subgroup mode (`liegan train --subgroup-from ALGEBRA`): the file's basis is kept exactly, only the
coefficient distribution is learnt, the checkpoint carries both, and a basis that does not fit is refused
with one line before anything is created."""

import shutil

import numpy as np
import pytest

from liegan import Algebra, load_algebra
from liegan.algebras import so, twobody_so2
from liegan.cli import main
from liegan.trainers import resume_config, train


@pytest.fixture
def so2_run(tmp_path):
    path = tmp_path / "so2"
    Algebra(twobody_so2(), dataset="twobody").save(path)
    return path


@pytest.mark.slow
def test_a_fixed_so2_basis_is_kept_and_its_coefficient_scale_moves(tmp_path, small_cfg, so2_run):
    cfg = small_cfg(**{"generator.subgroup_from": str(so2_run)})
    assert cfg.generator.subgroup and cfg.generator.mask == "none" and cfg.generator.channels == 1
    train(cfg, progress=False)
    algebra = load_algebra(tmp_path / "run")
    np.testing.assert_allclose(algebra.generators, twobody_so2(), rtol=0, atol=1e-7)
    coefficients = algebra.coefficients
    assert coefficients["learned"] is True
    spread = float(np.sqrt(coefficients["covariance"][0][0]))
    assert abs(spread - cfg.generator.sigma) > 0.1, f"the coefficient scale stayed at {spread}"
    assert algebra.config["generator"]["subgroup_from"] == str(so2_run.resolve())
    assert algebra.verdict["summary"].startswith("Subgroup mode: the generators were read from")

    # the checkpoint holds the basis and the distribution: a resume needs the file no more
    shutil.rmtree(so2_run)
    resumed = train(resume_config(tmp_path / "run", epochs=3), resume=tmp_path / "run", progress=False)
    np.testing.assert_allclose(resumed.algebra.generators, twobody_so2(), rtol=0, atol=1e-7)
    assert resumed.algebra.coefficients["covariance"] != coefficients["covariance"]


@pytest.mark.slow
def test_a_basis_of_the_wrong_dimension_is_one_line_exit_2(tmp_path, run_cli):
    Algebra(so(3), dataset="custom").save(tmp_path / "so3")
    r = run_cli("train", "--subgroup-from", tmp_path / "so3", "--n-samples", 200, "--logdir", tmp_path / "runs")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "act on R^3" in r.stderr and "n = 8" in r.stderr, r.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.mark.parametrize(
    "extra,needle",
    [
        (["--channels", "2"], "--channels: 2 contradicts --subgroup-from"),
        (["--mask", "blocks:2,2,2,2"], "--mask: 'blocks:2,2,2,2' contradicts --subgroup-from"),
        (["--set", "generator.subgroup=false"], "contradicts --subgroup-from"),
    ],
    ids=["channels", "mask", "subgroup-off"],
)
def test_options_that_contradict_the_basis_are_refused(tmp_path, so2_run, capsys, extra, needle):
    assert main(["train", "--subgroup-from", str(so2_run), *extra, "--logdir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "runs").exists()


def test_a_file_that_is_not_an_algebra_is_refused(tmp_path, capsys):
    np.savez(tmp_path / "data.npz", x=np.zeros((4, 8)))
    assert main(["train", "--subgroup-from", str(tmp_path / "data.npz"), "--logdir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert "data.npz" in err and len(err.strip().splitlines()) == 1, err
