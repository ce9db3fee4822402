"""`liegan bridge` end to end, as a user runs it."""

import argparse
import json

import pytest

from liegan import Algebra
from liegan.algebras import twobody_so2
from liegan.io import InputError


@pytest.mark.slow
def test_bridge_writes_figures_and_says_what_they_are(tmp_path, run_cli):
    Algebra(
        twobody_so2(), dataset="twobody", config={"data": {"dataset": "twobody", "n_samples": 300, "seed": 0}}
    ).save(tmp_path / "run")
    r = run_cli(
        "bridge",
        tmp_path / "run",
        "--fit-steps",
        200,
        "--gd-steps",
        40,
        "--teleport-every",
        20,
        "--out",
        tmp_path / "out",
        "--quiet",
    )
    assert r.returncode == 0, r.stderr
    res = json.loads((tmp_path / "out" / "bridge.json").read_text())
    assert res["invariance_ratio"] >= 10, res["invariance"]
    assert 0 < res["q_drift"] < 0.05, res["q_drift"]  # discrete steps drift, but only at O(lr^2) per step
    ens = res["ensemble"]  # averaging over the exact rotation symmetry helps; over random directions it hurts
    assert ens["members"] == 16 and ens["discovered"] < ens["single"] < ens["random"], ens
    d = res["descent"]
    assert [t["step"] for t in d["teleports"]] == [0, 20]
    assert all(b["loss_change"] <= 1e-6 for t in d["teleports"] for b in t["batches"]), d["teleports"]
    assert d["target"] == pytest.approx(0.5 * d["initial_loss"])
    assert [lr for lr, _ in d["plain_lr_steps"]] == pytest.approx([0.05, 0.1, 0.2, 0.4])
    assert "plain descent at larger step sizes" in r.stdout
    assert list((tmp_path / "out").glob("events.out.tfevents.*"))
    out = r.stdout
    assert "ensemble" in out.lower() and "16 copies" in out and "mean squared error" in out
    assert "fresh copy of the same predictor" in out and "ratio" in out


def _args(**kw):
    from liegan.trainers.bridge_cli import BRIDGE_OPTIONS, _dest

    base = {_dest(f): None for f in BRIDGE_OPTIONS} | {"config": None, "set": []}
    return argparse.Namespace(**(base | kw))


def test_teleport_figure_is_set_against_larger_plain_step_sizes():
    """A teleport must beat what plain descent gains from a larger step size: at lr 0.05 on deep linear
    regression, 4x the step size reaches the loss of step 30 sooner, and it becomes the plain figure to beat;
    with no factors given (the negative control) the plain run at lr is all there is."""
    import copy

    from liegan.config import BridgeConfig
    from liegan.trainers.bridge import _larger_steps
    from liegan.trainers.predictor import descend, linear_regression_problem

    model, data = linear_regression_problem(seed=0)
    cfg = BridgeConfig()
    cfg.descent.lr, cfg.descent.steps, cfg.descent.plain_lr_factors = 0.05, 30, [4.0]
    plain = descend(copy.deepcopy(model), data, 0.05, 30)
    target = plain.losses[30]
    n = plain.steps_to(target)
    out = _larger_steps(model, data, cfg, target, n)
    assert out["best_lr"] == pytest.approx(0.2) and out["best_steps"] < n, out
    assert out["steps"][0] == [0.05, n]
    cfg.descent.plain_lr_factors = []
    assert _larger_steps(model, data, cfg, target, n) == {"steps": [[0.05, n]], "best_lr": 0.05, "best_steps": n}


def test_settings_resolve_defaults_file_options_set(tmp_path):
    from liegan.trainers.bridge_cli import resolve

    (tmp_path / "b.toml").write_text("[descent]\nlr = 0.2\nsteps = 50\n[predictor]\nhidden = [8, 8, 8]\n")
    cfg = resolve(_args(config=str(tmp_path / "b.toml"), gd_steps="70", set=["descent.teleport_at=0,10"]))
    assert cfg.descent.lr == 0.2 and cfg.descent.steps == 70 and cfg.predictor.hidden == [8, 8, 8]
    assert cfg.descent.teleport_at == [0, 10] and cfg.predictor.fit_steps == 600  # the default
    with pytest.raises(InputError, match="unknown option 'descent.lrr'"):
        resolve(_args(set=["descent.lrr=1"]))
    with pytest.raises(InputError, match="--gd-steps: got 'many'; allowed: an integer"):
        resolve(_args(gd_steps="many"))


def test_every_option_has_help_and_its_default():
    from liegan.cli import build_parser

    text = build_parser()._subparsers._group_actions[0].choices["bridge"].format_help()
    for flag in ("--model", "--max-samples", "--fit-steps", "--gd-steps", "--seed", "--objective"):
        line = text[text.index(flag) :].split("\n--")[0]
        assert "default:" in " ".join(line.split()), (flag, line)


def test_bridge_bad_input_is_one_line(tmp_path, run_cli):
    r = run_cli("bridge", tmp_path / "missing")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "missing" in r.stderr
    Algebra(twobody_so2()).save(tmp_path / "nodata")  # dataset 'unknown', no config
    r = run_cli("bridge", tmp_path / "nodata", "--quiet")
    assert r.returncode == 2 and "no dataset" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "nodata" / "bridge").exists()
    r = run_cli("bridge", tmp_path / "nodata", "--objective", "sharpest")
    assert r.returncode == 2 and "descent.objective 'sharpest'" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_bridge_on_top_quark_jets(tmp_path):
    """The class-target path on synthetic top-tagging files: the classifier generalises (test loss below
    ln 2) and its loss moves less along so(1,3) than along random generators, unlike along a random algebra
    (the negative control)."""
    import numpy as np

    from liegan.algebras import so13
    from liegan.config import BridgeConfig
    from liegan.datasets.topquark_synth import synthesize
    from liegan.trainers.bridge import run_bridge

    synthesize(tmp_path / "data" / "topquark", 8000, seed=0, splits=("train",))
    data = {"dataset": "topquark", "data_dir": str(tmp_path / "data"), "constituents": 2}
    random_algebra = np.random.default_rng(0).normal(size=(6, 4, 4))
    ratios = {}
    cfg = BridgeConfig()
    cfg.descent.steps = 50
    for name, L in (("so13", so13()), ("random", random_algebra)):
        Algebra(L, dataset="topquark", config={"data": data}).save(tmp_path / name)
        res = run_bridge(tmp_path / name, cfg, out=tmp_path / name / "bridge")
        assert res["dataset"]["n_train"] == 6000 and res["fit"]["test_loss"] < 0.65, res["fit"]
        ratios[name] = res["invariance_ratio"]
    # with these settings so(1,3) scored 2.14 and the random algebra 0.87: each side has its own bar
    assert ratios["so13"] >= 1.8 and ratios["random"] <= 1.2, ratios
