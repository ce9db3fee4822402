"""`liegan analyze` and the `python -m liegan.analysis.<script>` entry points, from exported files alone."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from liegan.algebra import Algebra, load_algebra
from liegan.algebras import so, so13, twobody_so2
from liegan.analysis.report import FIGURES, write_report
from liegan.symmetry import LORENTZ

PNG = b"\x89PNG\r\n\x1a\n"
REQUIRED = (
    "best_match",
    "metric",
    "metric_singular_values",
    "metric_signature",
    "closure_residual",
    "structure_constants",
)


@pytest.fixture
def twobody_run(tmp_path):
    """A run folder as the trainer writes it: the two-body so(2) generator, learned scale, small noise."""
    rng = np.random.default_rng(0)
    L = 0.37 * twobody_so2() + 0.005 * rng.standard_normal((1, 8, 8))
    names = ["q1x", "q1y", "p1x", "p1y", "q2x", "q2y", "p2x", "p2y"]
    Algebra(L, dataset="twobody", feature_names=names, coefficients={"distribution": "normal", "sigma": 1.0}).save(
        tmp_path / "run"
    )
    return tmp_path / "run"


@pytest.fixture
def rotation7_file(tmp_path):
    """An integer-coefficient run: exp(L) a rotation by 2 pi 3/7 about x3, with small noise."""
    rng = np.random.default_rng(1)
    L = 2 * np.pi * 3 / 7 * so(3)[:1] + 0.01 * rng.standard_normal((1, 3, 3))
    Algebra(
        L,
        dataset="rotation7",
        feature_names=["x1", "x2", "x3"],
        coefficients={"distribution": "integer", "low": -10, "high": 9},
    ).save(tmp_path / "rot")
    return tmp_path / "rot" / "algebra.npz"


def test_twobody_run(twobody_run):
    res = write_report(twobody_run)
    assert res["best_match"]["name"].startswith("so(2)") and res["best_match"]["similarity"] >= 0.99
    on_disk = json.loads((twobody_run / "analysis.json").read_text())
    for key in REQUIRED:
        assert key in on_disk, key
    assert "discrete_order" not in on_disk and "metric_cosine_minkowski" not in on_disk
    for name in FIGURES.values():
        assert (twobody_run / name).read_bytes().startswith(PNG)
    md = (twobody_run / "report.md").read_text()
    assert "so(2)" in md and "gap" in md and "![spectrum](spectrum.png)" in md
    assert not list(twobody_run.glob(".*.tmp"))  # atomic writes leave no temporaries


def test_rotation7_run(rotation7_file):
    res = write_report(rotation7_file, figures=False)
    assert res["discrete_order"] == 7
    d = res["discrete"][0]
    assert d["axis_name"] == "x3" and round(d["multiple"]) in (3, 4)
    assert json.loads((rotation7_file.parent / "analysis.json").read_text())["discrete_order"] == 7
    assert not (rotation7_file.parent / "metric.png").exists()


def test_so13_export_json(tmp_path):
    rng = np.random.default_rng(2)
    A = rng.standard_normal((6, 6))
    L = np.einsum("ab,bij->aij", A, so13())
    L += 1e-2 * np.linalg.norm(L, axis=(1, 2), keepdims=True) * rng.standard_normal(L.shape) / 4
    alg = Algebra(L, dataset="topquark", feature_names=["E", "px", "py", "pz"], symmetry=LORENTZ.to_dict())
    f = alg.export("json", tmp_path / "a.json")
    res = write_report(f, out=tmp_path / "out", figures=False)
    assert res["best_match"]["name"] == "so(1,3)" and res["symmetry"] == "so(1,3)"
    assert res["metric_cosine_minkowski"] >= 0.99 and res["metric_signature"] == [1, 3]
    assert res["canonical_basis"]["names"] == ["K_x", "K_y", "K_z", "J_x", "J_y", "J_z"]
    assert res["killing_signature"] == [3, 3, 0]
    assert "gap" in (tmp_path / "out" / "report.md").read_text()
    # without a declared symmetry nothing is compared with Minkowski: no guess from n = 4
    bare = Algebra(L, dataset="custom", feature_names=["E", "px", "py", "pz"]).export("json", tmp_path / "b.json")
    res = write_report(bare, out=tmp_path / "bare", figures=False)
    assert "metric_cosine_minkowski" not in res and res["metric_signature"] == [1, 3]


def test_cli_analyze_subprocess(twobody_run, run_python):
    p = run_python("-m", "liegan", "analyze", str(twobody_run), "--no-figures")
    assert p.returncode == 0, p.stderr
    assert "best match: so(2)" in p.stdout and "analysis.json" in p.stdout
    assert (twobody_run / "analysis.json").exists()


# what each script must say of rotation7_file: a rotation about x3 by 2 pi 3/7 (its sign is the axis's)
SAYS = {
    "report": [
        r"best match: so\(3\) \(similarity 1\.0000",
        r"exp\(L\) has order 7 .* about -x3",
        "wrote .*analysis.json",
    ],
    "diagnostics": [r"best match: so\(3\) \(similarity 1\.0000", r"closure residual: 0\n", r"canonical basis: L_12"],
    "metric": [
        r"a 2-dimensional family of invariant forms",
        r"it contains the Euclidean form I",
        r"features: x1, x2, x3",
    ],
    "discrete": [r"channel 0: exp\(L\) has order 7 .* = 2pi\*3\.0\d/7 .* about -x3"],
}


@pytest.mark.parametrize("script", sorted(SAYS))
def test_scripts_run_as_modules(script, rotation7_file, run_python):
    p = run_python("-m", f"liegan.analysis.{script}", str(rotation7_file))
    assert p.returncode == 0, p.stderr
    assert "Warning" not in p.stderr, p.stderr
    for pattern in SAYS[script]:
        assert re.search(pattern, p.stdout), (pattern, p.stdout)
    if script == "report":  # what it printed is what it stored
        stored = json.loads((rotation7_file.parent / "analysis.json").read_text())
        assert stored["best_match"]["name"] == "so(3)" and stored["discrete_order"] == 7, stored


@pytest.mark.parametrize("script", [["-m", "liegan", "analyze"], ["-m", "liegan.analysis.metric"]])
def test_bad_input_is_one_line(script, tmp_path, run_python):
    bad = tmp_path / "algebra.npz"
    bad.write_bytes(b"not a zip")
    p = run_python(*script, str(bad))
    assert p.returncode == 2
    assert str(bad) in p.stderr and "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "analysis.json").exists()


def test_an_algebra_file_from_before_the_scalar_cadence_is_judged_per_epoch(tmp_path):
    """A file whose stored trend has no unit (one value per epoch, as written before the trend moved to the
    scoring points) is judged as it was then and says so; a moving per-epoch trend stays not converged."""
    from liegan.analysis.report import analyze
    from liegan.datasets.twobody import SYMMETRY as SO2

    names = ["q1x", "q1y", "p1x", "p1y", "q2x", "q2y", "p2x", "p2y"]
    mask = np.kron(np.eye(4), np.ones((2, 2)))[None]
    for trend, ok in (([0.9990, 0.9996, 0.9999], True), ([0.95, 0.97, 0.9999], False)):
        old = {"summary": "...", "converged": ok, "trend": trend, "context": {"epochs": 5}}
        Algebra(3 * SO2.generators, mask, "twobody", names, symmetry=SO2.to_dict(), verdict=old).save(tmp_path / "r")
        verdict = analyze(load_algebra(tmp_path / "r"))[0]["verdict"]
        assert verdict["converged"] is ok and verdict["trend_unit"] == "epoch", verdict["summary"]
        assert "over the last 3 epochs" in verdict["summary"] and "Judged per epoch" in verdict["summary"]
