"""The metric consumer: J-inner-product features for top tagging, on synthetic jets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from liegan.algebra import Algebra
from liegan.algebras import MINKOWSKI, so13
from liegan.analysis.metric_features import EUCLIDEAN, compare_metrics, metric_features
from liegan.config import DataConfig
from liegan.datasets import load_dataset
from liegan.metric import cosine, invariant_metric


def test_features_closed_form():
    p = np.array([[[5.0, 3.0, 0.0, 0.0], [2.0, 0.0, 2.0, 0.0]]])  # masses^2 16 and 0
    F = metric_features(p, MINKOWSKI)
    P = p[0].sum(0)
    assert np.allclose(F[0], [16.0, 10.0, 0.0, P[0] ** 2 - P[1:] @ P[1:]])
    assert np.allclose(metric_features(p, EUCLIDEAN)[0, :3], [34.0, 10.0, 8.0])
    assert metric_features(np.zeros((3, 4, 4)), MINKOWSKI, total=False).shape == (3, 10)


def test_features_are_lorentz_invariant_only_for_minkowski():
    from scipy.linalg import expm

    rng = np.random.default_rng(0)
    p = rng.standard_normal((50, 3, 4))
    Lam = expm(np.einsum("a,aij->ij", rng.standard_normal(6) * 0.5, so13()))
    boosted = p @ Lam.T
    assert np.allclose(metric_features(boosted, MINKOWSKI), metric_features(p, MINKOWSKI))
    assert not np.allclose(metric_features(boosted, EUCLIDEAN), metric_features(p, EUCLIDEAN))


@pytest.fixture(scope="module")
def jets(tmp_path_factory):
    from liegan.datasets.topquark_synth import synthesize

    root = tmp_path_factory.mktemp("tq")
    synthesize(root / "topquark", 4500, seed=3, splits=("test",))
    return root


@pytest.mark.slow
def test_minkowski_beats_euclidean_and_learned_is_close(jets):
    ds = load_dataset(DataConfig(dataset="topquark", data_dir=str(jets), split="test", constituents=4))
    rng = np.random.default_rng(0)
    L = so13() + 1e-2 * rng.standard_normal((6, 4, 4)) / 4  # a learned so(1,3) with percent-level noise
    J = invariant_metric(L).metric
    assert cosine(J, MINKOWSKI) > 0.99
    res = compare_metrics(ds.x.numpy(), ds.y.numpy(), {"learned": J, "minkowski": MINKOWSKI, "euclidean": EUCLIDEAN})
    assert res["minkowski"]["auc"] > res["euclidean"]["auc"] + 0.1, res
    assert abs(res["learned"]["auc"] - res["minkowski"]["auc"]) < 0.03, res
    assert res["minkowski"]["accuracy"] > res["euclidean"]["accuracy"], res


@pytest.mark.slow
def test_script_subprocess(jets, tmp_path, run_python):
    Algebra(so13(), dataset="topquark", feature_names=["E", "px", "py", "pz"]).save(tmp_path / "run")
    out = tmp_path / "res.json"
    p = run_python(
        "-m",
        "liegan.analysis.metric_features",
        tmp_path / "run",
        *("--data-dir", jets, "--jets", 600, "--constituents", 2, "--classifier", "logistic", "--out", out),
        timeout=180,
    )
    assert p.returncode == 0, p.stderr
    r = json.loads(out.read_text())
    assert set(r["results"]) == {"learned", "minkowski", "euclidean"}
    assert r["learned"]["cosine_minkowski"] > 1 - 1e-12
    assert "AUC" in p.stdout
