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
    assert [t["step"] for t in res["descent"]["teleports"]] == [0, 20]
    assert list((tmp_path / "out").glob("events.out.tfevents.*"))
    assert "invariance_ratio" in r.stdout


def test_bridge_bad_input_is_one_line(tmp_path):
    r = _liegan("bridge", tmp_path / "missing")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "missing" in r.stderr
    Algebra(twobody_so2()).save(tmp_path / "nodata")  # dataset 'unknown', no config
    r = _liegan("bridge", tmp_path / "nodata")
    assert r.returncode == 2 and "no dataset" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "nodata" / "bridge").exists()
