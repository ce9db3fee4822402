"""`liegan fit`: every mode trains and is scored; symmetric modes pass the equivariance checker where plain
ones fail it; modes that need an accepted invariant metric are skipped without one."""

import json
import math

import numpy as np
import pytest

from liegan import Algebra, algebras
from liegan.trainers.fit import config_for, run_fit

TINY = {
    "seeds": 1,
    "epochs": 1,
    "n_train": 8,
    "n_test": 8,
    "sizes": [0.5],
    "hidden": [8],
    "emlp_hidden": [4],
    "max_samples": 400,
}


def _progress(_):
    pass


def test_twobody_every_mode_with_the_equivariant_ones_equivariant(tmp_path):
    L = 3.0 * algebras.twobody_so2() + 0.01 * np.random.default_rng(0).standard_normal((1, 8, 8))
    L *= algebras.twobody_so2() != 0  # learned within the 2x2 blocks of the search space
    Algebra(L, dataset="twobody", coefficients={"distribution": "normal", "sigma": 1.0}).save(tmp_path)
    res = run_fit(tmp_path, config_for("fast", **TINY), progress=_progress)
    assert json.loads((tmp_path / "fit" / "fit.json").read_text())["modes"].keys() == res["modes"].keys()
    modes = res["modes"]
    assert set(modes) == {"plain", "augmented", "equivariant", "augmented_true", "equivariant_true"}
    for name, m in modes.items():
        assert all(math.isfinite(m[k]) for k in ("test_loss", "ood_test_loss", "equivariance_error")), name
        assert len(m["size_curve"]) == 2, name
    assert modes["equivariant_true"]["equivariance_error"] < 1e-9
    assert modes["plain"]["equivariance_error"] > 1e-3  # the negative control
    # the noisy generator's maps commute with it only to its ~1 % noise, but far better than a plain MLP
    assert modes["equivariant"]["equivariance_error_discovered"] < 1e-2 * modes["plain"]["equivariance_error"]
    assert res["groups"]["discovered"]["null_spaces"]["maps"]["dim"] == 32
    # under the merged-eigenvalue group the maps commute nearly exactly; the plain model is the control
    assert modes["equivariant"]["equivariance_error_merged"] < 1e-3 * modes["plain"]["equivariance_error_merged"]
    merged = res["groups"]["merged"]
    assert merged["exact_maps"].startswith("32-dimensional, exact"), merged
    assert merged["distance_from_discovered"] < res["groups"]["discovered"]["distance_from_true"] < 0.05
    assert "particle tagger" in res["skipped"]["equivariant_euclidean"]


def test_cyclic_algebra_averages_over_its_group(tmp_path):
    """An integer-coefficient algebra whose exp(L) has order 7: the equivariant mode is the exact average
    over the 7 rotations, as is the known C7's (rotation7's target is invariant under those only)."""
    L = 2 * math.pi / 7 * algebras.so(3)[:1]  # rotation of (x1, x2) by 2 pi / 7
    Algebra(L, dataset="rotation7", coefficients={"distribution": "integer", "low": -10, "high": 9}).save(tmp_path)
    cfg = config_for("fast", modes=["plain", "equivariant", "equivariant_true"], **TINY)
    res = run_fit(tmp_path, cfg, progress=_progress)
    assert res["groups"]["discovered"]["order"] == 7
    modes = res["modes"]
    assert modes["equivariant"]["equivariance_error"] < 1e-10  # under the known C7
    assert modes["equivariant_true"]["equivariance_error"] < 1e-10
    assert modes["plain"]["equivariance_error"] > 1e-4


def test_without_an_accepted_metric_the_invariant_model_is_skipped(tmp_path):
    """A dilation preserves no metric: the scalar target's invariant-feature model is not built."""
    Algebra(np.eye(3)[None], dataset="rotation7").save(tmp_path)
    res = run_fit(tmp_path, config_for("fast", modes=["plain", "equivariant"], **TINY), progress=_progress)
    assert "equivariant" not in res["modes"] and "no invariant metric" in res["skipped"]["equivariant"]
    assert res["groups"]["discovered"]["metric"] is None


@pytest.mark.slow
def test_top_tagging_with_three_metrics(tmp_path):
    from liegan.datasets.topquark_synth import synthesize

    synthesize(tmp_path / "data" / "topquark", 300, seed=1, splits=("train",))
    Algebra(
        algebras.so13(),
        dataset="topquark",
        config={"data": {"dataset": "topquark", "data_dir": str(tmp_path / "data")}},
    ).save(tmp_path / "run")
    cfg = config_for("fast", modes=["equivariant", "equivariant_true", "equivariant_euclidean"], constituents=4, **TINY)
    res = run_fit(tmp_path / "run", cfg, progress=_progress)
    for name in ("equivariant", "equivariant_true", "equivariant_euclidean"):
        m = res["modes"][name]
        assert 0 <= m["test_auc"] <= 1 and 0 <= m["test_accuracy"] <= 1 and m["test_rejection_30"] >= 1, name
    assert res["modes"]["equivariant_true"]["equivariance_error"] < 1e-6  # Minkowski products: invariant
    assert res["modes"]["equivariant_euclidean"]["equivariance_error"] > 1e-6


@pytest.mark.slow
def test_nproc_2_trains_each_model_with_ddp_as_one_process_would(tmp_path, run_cli):
    """`liegan fit --nproc 2`: two gloo processes split every global batch of 256 jets; with no augmentation
    drawn per rank, the averaged gradients are one process's, so the test losses agree to round-off."""
    from liegan.datasets.topquark_synth import synthesize

    synthesize(tmp_path / "data" / "topquark", 400, seed=1, splits=("train",))
    run = tmp_path / "run"
    config = {"data": {"dataset": "topquark", "data_dir": str(tmp_path / "data")}}
    Algebra(algebras.so13(), dataset="topquark", config=config).save(run)
    opts = {"modes": ["plain", "equivariant_true"], "seeds": 1, "epochs": 2, "constituents": 4, "max_samples": 400}
    alone = run_fit(run, config_for("fast", **opts), tmp_path / "alone", progress=_progress)
    args = ["--nproc", "2", "--modes", "plain,equivariant_true", "--seeds", "1", "--epochs", "2"]
    args += ["--constituents", "4", "--max-samples", "400", "--out", tmp_path / "ddp"]
    r = run_cli("fit", run, *args, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    ddp = json.loads((tmp_path / "ddp" / "fit.json").read_text())
    assert ddp["processes"] == 2 and alone["processes"] == 1
    for mode in opts["modes"]:
        a, b = alone["modes"][mode]["test_loss"], ddp["modes"][mode]["test_loss"]
        assert abs(a - b) <= 1e-4 * abs(a), (mode, a, b)
    assert r.stdout.count("written") == 1  # rank 0 alone reports


@pytest.mark.slow
def test_cli_bad_input_is_one_line_with_status_2(tmp_path, run_cli):
    r = run_cli("fit", tmp_path / "missing", timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "file not found" in r.stderr, r.stderr
    Algebra(algebras.twobody_so2(), dataset="twobody").save(tmp_path)
    r = run_cli("fit", tmp_path, "--modes", "plain,bogus", timeout=120)
    assert r.returncode == 2 and "bogus" in r.stderr and r.stderr.count("\n") == 1, r.stderr
