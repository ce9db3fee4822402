"""`liegan bridge` end to end, as a user runs it."""

import json
import subprocess
import sys

import pytest

from liegan import Algebra
from liegan.algebras import twobody_so2


def _liegan(*args):
    return subprocess.run([sys.executable, "-m", "liegan", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow
def test_bridge_writes_figures(tmp_path):
    Algebra(twobody_so2(), dataset="twobody",
            config={"data": {"dataset": "twobody", "n_samples": 300, "seed": 0}}).save(tmp_path / "run")
    r = _liegan("bridge", tmp_path / "run", "--fit-steps", 200, "--gd-steps", 40, "--teleport-every", 20,
                "--out", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    res = json.loads((tmp_path / "out" / "bridge.json").read_text())
    assert res["invariance_ratio"] >= 10, res["invariance"]
    assert 0 <= res["q_drift"] < 0.1 and res["teleport_speedup"] > 0
    ens = res["ensemble"]  # averaging over the exact rotation symmetry helps; over random directions it hurts
    assert ens["members"] == 16 and ens["discovered"] < ens["single"] < ens["random"], ens
    assert [t["step"] for t in res["descent"]["teleports"]] == [0, 20]
    assert list((tmp_path / "out").glob("events.out.tfevents.*"))
    assert "invariance_ratio" in r.stdout and "ensemble of 16" in r.stdout


def test_bridge_bad_input_is_one_line(tmp_path):
    r = _liegan("bridge", tmp_path / "missing")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "missing" in r.stderr
    Algebra(twobody_so2()).save(tmp_path / "nodata")  # dataset 'unknown', no config
    r = _liegan("bridge", tmp_path / "nodata")
    assert r.returncode == 2 and "no dataset" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "nodata" / "bridge").exists()


@pytest.mark.slow
def test_bridge_on_top_quark_jets(tmp_path):
    """The class-target path on synthetic top-tagging files: the classifier generalises (test loss below
    ln 2) and its loss moves less along so(1,3) than along random generators, unlike along a random algebra
    (the negative control)."""
    import numpy as np

    from liegan.algebras import so13
    from liegan.bridge.run import BridgeConfig, run_bridge
    from liegan.datasets.topquark_synth import synthesize

    synthesize(tmp_path / "data" / "topquark", 8000, seed=0, splits=("train",))
    data = {"dataset": "topquark", "data_dir": str(tmp_path / "data"), "constituents": 2}
    random_algebra = np.random.default_rng(0).normal(size=(6, 4, 4))
    ratios = {}
    for name, L in (("so13", so13()), ("random", random_algebra)):
        Algebra(L, dataset="topquark", config={"data": data}).save(tmp_path / name)
        res = run_bridge(tmp_path / name, BridgeConfig(gd_steps=50), out=tmp_path / name / "bridge")
        assert res["dataset"]["n_train"] == 6000 and res["fit"]["test_loss"] < 0.65, res["fit"]
        ratios[name] = res["invariance_ratio"]
    assert ratios["so13"] >= 1.5 and ratios["random"] < 1.5, ratios
