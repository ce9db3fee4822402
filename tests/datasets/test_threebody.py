"""The three-body simulator against physics (energy, angular momentum, rotation equivariance, the integrator's
order), the bounded-orbit filter, the cache, and the loader's errors."""

import numpy as np
import pytest

from liegan.algebras import nbody_so2
from liegan.config import DataConfig
from liegan.datasets import load_dataset
from liegan.datasets import threebody as T
from liegan.io import InputError


@pytest.fixture(scope="module")
def sim():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(T, "BLOCK", 50)  # the draws of a small test, not the default's 1,000 per stream
        return T.simulate(40, seed=3)


def rotate_states(s: np.ndarray, theta: float) -> np.ndarray:
    """Every 2-vector of states (..., 12) turned by theta: exp(theta * the dataset's declared generator)."""
    c, si = np.cos(theta), np.sin(theta)
    R = np.kron(np.eye(6), np.array([[c, si], [-si, c]]))  # exp(theta [[0, 1], [-1, 0]]) per block
    np.testing.assert_allclose(R, _expm(theta * nbody_so2(3)[0]), atol=1e-12)
    return s @ R.T


def _expm(A):
    from scipy.linalg import expm

    return expm(A)


def test_kept_orbits_conserve_energy_and_angular_momentum(sim):
    traj, stats = sim
    assert traj.shape == (40, T.STEPS, 12)
    assert T.relative_drift(traj).max() <= T.ENERGY_TOL
    assert stats["energy_drift_max"] <= T.ENERGY_TOL and 0.5 < stats["kept_fraction"] <= 1.0
    L = T.angular_momentum(traj)
    assert np.abs(L - L[:, :1]).max() < 1e-10  # exact for a symplectic splitting of a central-force problem
    q = traj.reshape(40, T.STEPS, 3, 4)[..., :2]
    assert np.linalg.norm(q, axis=-1).max() <= T.Q_MAX


def test_dynamics_commute_with_the_declared_rotation():
    q, p = T.initial_states(5, np.random.default_rng(0))
    traj, _ = T.integrate(q, p, 6, T.DT)
    theta = 0.7
    start = rotate_states(traj[:, 0], theta).reshape(5, 3, 4)
    turned, _ = T.integrate(start[..., :2].copy(), start[..., 2:].copy(), 6, T.DT)
    np.testing.assert_allclose(turned, rotate_states(traj, theta), atol=1e-9)


def test_integrator_is_fourth_order():
    q, p = T.initial_states(3, np.random.default_rng(1))
    ref, _ = T.integrate(q, p, 2, T.DT, substeps=400)
    err = [np.abs(T.integrate(q, p, 2, T.DT, substeps=k)[0] - ref).max() for k in (10, 20)]
    assert 12 < err[0] / err[1] < 20, err  # 2^4 = 16


def test_unbounded_close_and_drifting_orbits_are_refused():
    q, p = T.initial_states(4, np.random.default_rng(2))
    traj, closest = T.integrate(q, p, 4, T.DT)
    assert T.kept(traj, closest).all()
    far, near, drift, bad = traj.copy(), closest.copy(), traj.copy(), traj.copy()
    far[0, 2, 0] = T.Q_MAX + 0.1  # body 1 beyond Q_MAX
    near[1] = T.D_MIN / 2
    drift[2, 3, 2] *= 1.01  # a kick in p1x: energy no longer conserved
    bad[3, 1, 5] = np.nan
    assert T.kept(far, closest).tolist() == [False, True, True, True]
    assert T.kept(traj, near).tolist() == [True, False, True, True]
    assert T.kept(drift, closest).tolist() == [True, True, False, True]
    assert T.kept(bad, closest).tolist() == [True, True, True, False]


def test_loader_layout_cache_and_pairs(tmp_path, monkeypatch):
    monkeypatch.setattr(T, "BLOCK", 50)
    cfg = DataConfig(dataset="threebody", data_dir=str(tmp_path), n_samples=95)
    ds = load_dataset(cfg)
    assert ds.x.shape == (95, 1, 12) and ds.y.shape == (95, 1, 12) and ds.info.y_kind == "vector"
    assert ds.info.feature_names[:4] == ["q1x", "q1y", "p1x", "p1y"] and ds.info.feature_names[-1] == "p3y"
    np.testing.assert_array_equal(ds.info.symmetry.generators, nbody_so2(3))
    assert "energy drift" in ds.info.source
    np.testing.assert_array_equal(ds.x[1:19, 0].numpy(), ds.y[:18, 0].numpy())  # consecutive states
    (path,) = (tmp_path / "threebody").iterdir()
    again = load_dataset(cfg)
    np.testing.assert_array_equal(again.x.numpy(), ds.x.numpy())
    path.write_bytes(b"not hdf5")  # a damaged cache is rebuilt, exactly
    np.testing.assert_array_equal(load_dataset(cfg).x.numpy(), ds.x.numpy())


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"split": "val"}, "split"),
        ({"seed": -1}, "seed"),
        ({"n_samples": 0}, "n_samples"),
        ({"data_file": "orbits.pkl"}, "simulated"),
    ],
)
def test_bad_options(tmp_path, kw, match):
    with pytest.raises(InputError, match=match):
        load_dataset(DataConfig(dataset="threebody", data_dir=str(tmp_path), **kw))
