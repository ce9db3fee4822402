"""`liegan analyze` on real training runs: a two-body run is named so(2) (two-body) with similarity >= 0.99.

Nothing here is a fixture standing in for the trainer: each test trains with the dataset's default preset,
then analyses the run folder the trainer wrote, through the function and through the CLI.
"""

from __future__ import annotations

import json

import pytest

from liegan.algebra import load_algebra
from liegan.analysis.report import analyze, write_report
from liegan.trainers import resolve_config, train

TWOBODY_MATCH = "so(2) x 4 (two-body)"


@pytest.fixture(scope="module")
def twobody_run(tmp_path_factory):
    """One real default-preset two-body run (about 5 s of training), shared by the tests below."""
    logdir = tmp_path_factory.mktemp("runs")
    cfg = resolve_config("twobody", overrides={"run.logdir": str(logdir), "run.name": "twobody", "train.seed": 0})
    return train(cfg, progress=False)


@pytest.mark.slow
def test_analysis_of_a_real_twobody_run_names_so2(twobody_run):
    assert twobody_run.metrics["similarity_to_truth"] >= 0.99, twobody_run.metrics
    res, diag, _, disc = analyze(load_algebra(twobody_run.run_dir))
    assert res["best_match"]["name"] == TWOBODY_MATCH, res["references"]
    assert res["best_match"]["similarity"] >= 0.99
    # the runner-up (so(8), which contains so(2) x 4) must not tie: the match is specific
    others = [r for r in res["references"] if r["name"] != TWOBODY_MATCH]
    assert max(r["score"] for r in others) < res["best_match"]["score"]
    assert disc == [] and "discrete_order" not in res  # a normal-coefficient run has no discrete analysis


@pytest.mark.slow
def test_liegan_analyze_cli_on_a_real_twobody_run(twobody_run, tmp_path, run_cli):
    out = tmp_path / "report"
    proc = run_cli("analyze", twobody_run.run_dir, "--out", out, "--no-figures", timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert TWOBODY_MATCH in proc.stdout
    data = json.loads((out / "analysis.json").read_text())
    assert data["best_match"]["name"] == TWOBODY_MATCH and data["best_match"]["similarity"] >= 0.99
    assert (out / "report.md").read_text().count(TWOBODY_MATCH) >= 1
    # the function and the CLI agree on the same run
    assert data["best_match"] == write_report(twobody_run.run_dir, tmp_path / "again", False)["best_match"]


@pytest.mark.slow
def test_liegan_analyze_on_a_real_rotation7_run_finds_c7_about_x3(tmp_path, run_cli):
    """The default rotation7 preset (about 25 s): exp(L) is a rotation by a multiple of 2 pi / 7 about x3.
    Seeds 0-5 all reach order 7 (errors 0.004-0.040 against the tolerance 0.1); training is bitwise
    reproducible on CPU, so this is a deterministic check, not a flaky one."""
    cfg = resolve_config("rotation7", overrides={"run.logdir": str(tmp_path), "run.name": "r7", "train.seed": 0})
    run = train(cfg, progress=False).run_dir
    proc = run_cli("analyze", run, "--no-figures")
    assert proc.returncode == 0, proc.stderr
    result = json.loads((run / "analysis.json").read_text())
    assert result["discrete_order"] == 7, result
    assert "order 7" in proc.stdout and "about x3" in proc.stdout, proc.stdout


@pytest.mark.slow
def test_train_and_analyze_verdicts_agree_on_a_real_twobody_run(twobody_run):
    """The verdict stored by `liegan train` and the one `liegan analyze` writes agree (best match, metric or
    none, converged); the run converges."""
    stored = load_algebra(twobody_run.run_dir).verdict
    res, _, _, _ = analyze(load_algebra(twobody_run.run_dir))
    again = res["verdict"]
    assert stored["converged"] is True and again["converged"] is True, stored["summary"]
    assert (
        (stored["best_match"], stored["metric"]) == (again["best_match"], again["metric"]) == (TWOBODY_MATCH, "family")
    )
    assert stored["lines"] == again["lines"]
