"""The two-body dataset: simulator physics, determinism, the HDF5 cache, the HNN pickle, and bad input."""

from __future__ import annotations

import logging
import os
import pickle

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.stats import kstest

from liegan.algebras import twobody_so2
from liegan.config import DataConfig
from liegan.datasets import load_dataset
from liegan.datasets import twobody as tb
from liegan.io import InputError

HNN_FROM_BODY = np.argsort(tb.HNN_ORDER)  # per-body layout -> HNN columns


@pytest.fixture(scope="module")
def traj():
    return tb.simulate(tb.N_TRAJ, seed=0)


def _cfg(tmp_path, **kw) -> DataConfig:
    return DataConfig(dataset="twobody", data_dir=str(tmp_path / "cache"), **kw)


# ------------------------------------------------------------------------------------------------ physics


def test_energy_and_angular_momentum_conserved(traj):
    h = tb.energy(traj)
    drift = np.max(np.abs(h - h[:, :1]) / np.abs(h[:, :1]), axis=1)
    assert drift.shape == (tb.N_TRAJ,) and drift.max() < 1e-6
    ang = tb.angular_momentum(traj)
    assert np.max(np.abs(ang - ang[:, :1]) / np.abs(ang[:, :1])) < 1e-6
    assert np.all(h < 0)  # bound orbits


def test_agrees_with_dop853_integration(traj):
    def rhs(_t, s):
        q1, p1, q2, p2 = s[0:2], s[2:4], s[4:6], s[6:8]
        d = q1 - q2
        f = -tb.G * tb.MASS**2 * d / np.linalg.norm(d) ** 3
        return np.concatenate([p1 / tb.MASS, f, p2 / tb.MASS, -f])

    times = tb.DT * np.arange(tb.STEPS)
    for i in (0, 1, 2, 500, 999):
        sol = solve_ivp(rhs, (0, times[-1]), traj[i, 0], method="DOP853", rtol=1e-12, atol=1e-12, t_eval=times)
        np.testing.assert_allclose(sol.y.T, traj[i], atol=1e-8)


def test_centre_of_mass_frame_and_near_circular(traj):
    np.testing.assert_array_equal(traj[..., 4:6], -traj[..., 0:2])
    np.testing.assert_array_equal(traj[..., 6:8], -traj[..., 2:4])
    r0 = np.linalg.norm(traj[:, 0, 0:2], axis=1)
    assert r0.min() >= tb.R_MIN and r0.max() <= tb.R_MAX
    factor = np.linalg.norm(traj[:, 0, 2:4], axis=1) / np.sqrt(1.0 / (4.0 * r0))  # speed / circular speed
    assert factor.min() >= 1 - tb.VEL_NOISE - 1e-12 and factor.max() <= 1 + tb.VEL_NOISE + 1e-12
    assert factor.min() < 0.92 and factor.max() > 1.08  # the perturbation is really there
    r = np.linalg.norm(traj[..., 0:2], axis=2)
    assert np.all(r.max(1) / r.min(1) < 1.6)  # slightly elliptic, never wild


def test_phases_cover_the_full_circle(traj):
    phase = np.arctan2(traj[:, 0, 1], traj[:, 0, 0])
    counts = np.histogram(phase, bins=8, range=(-np.pi, np.pi))[0]
    assert counts.min() > 0.6 * tb.N_TRAJ / 8  # every octant populated, not just the first quadrant
    assert kstest((phase + np.pi) / (2 * np.pi), "uniform").pvalue > 1e-3


def test_deterministic_from_seed_and_prefix_stable(traj):
    np.testing.assert_array_equal(tb.simulate(tb.N_TRAJ, seed=0), traj)
    assert not np.allclose(tb.simulate(10, seed=1), traj[:10])
    np.testing.assert_array_equal(tb.simulate(7, seed=0), traj[:7])
    np.testing.assert_array_equal(tb.simulate(tb.N_TRAJ + 5, seed=0)[: tb.N_TRAJ], traj)
    assert not np.allclose(tb.simulate(10, seed=0, split="test"), traj[:10])


# ------------------------------------------------------------------------------------------------- loader


def test_load_default_pairs(tmp_path, traj):
    ds = load_dataset(_cfg(tmp_path))
    n_pairs = tb.N_TRAJ * (tb.STEPS - 1)
    assert 10_000 <= n_pairs <= 20_000
    assert ds.x.shape == ds.y.shape == (n_pairs, 1, 8) and str(ds.x.dtype) == "torch.float32"
    x = ds.x.numpy().reshape(tb.N_TRAJ, tb.STEPS - 1, 8)
    y = ds.y.numpy().reshape(tb.N_TRAJ, tb.STEPS - 1, 8)
    np.testing.assert_array_equal(x, traj[:, :-1].astype(np.float32))
    np.testing.assert_array_equal(y, traj[:, 1:].astype(np.float32))
    info = ds.info
    assert (info.name, info.n_dim, info.n_components, info.y_kind) == ("twobody", 8, 1, "vector")
    assert info.feature_names == ["q1x", "q1y", "p1x", "p1y", "q2x", "q2y", "p2x", "p2y"]
    np.testing.assert_array_equal(info.symmetry.generators, twobody_so2())
    assert info.symmetry.name == "so(2)" and info.symmetry.metric is None and "seed 0" in info.source


def test_n_samples_caps_pairs(tmp_path, traj):
    ds = load_dataset(_cfg(tmp_path, n_samples=100))
    x_all, y_all = tb.make_pairs(traj)
    assert len(ds) == 100
    np.testing.assert_array_equal(ds.x.numpy(), x_all[:100].astype(np.float32))
    np.testing.assert_array_equal(ds.y.numpy(), y_all[:100].astype(np.float32))
    for bad in (0, -5):
        with pytest.raises(InputError, match="n_samples"):
            load_dataset(_cfg(tmp_path, n_samples=bad))


def test_seed_changes_data(tmp_path):
    a = load_dataset(_cfg(tmp_path, n_samples=50, seed=3))
    b = load_dataset(_cfg(tmp_path, n_samples=50, seed=3))
    c = load_dataset(_cfg(tmp_path, n_samples=50, seed=4))
    assert np.array_equal(a.x.numpy(), b.x.numpy()) and not np.allclose(a.x.numpy(), c.x.numpy())
    with pytest.raises(InputError, match="seed"):
        load_dataset(_cfg(tmp_path, seed=-1))
    with pytest.raises(InputError, match="unknown split 'val'"):
        load_dataset(_cfg(tmp_path, split="val"))


# -------------------------------------------------------------------------------------------------- cache


def test_cache_written_once_and_reused(tmp_path, monkeypatch):
    cfg = _cfg(tmp_path, n_samples=190, seed=7)
    first = load_dataset(cfg)
    files = list((tmp_path / "cache" / "twobody").iterdir())
    assert len(files) == 1 and "seed7" in files[0].name and files[0].suffix == ".h5"
    mtime = files[0].stat().st_mtime_ns

    def no_simulation(*a, **k):
        raise AssertionError("cache hit must not re-simulate")

    monkeypatch.setattr(tb, "simulate", no_simulation)
    second = load_dataset(cfg)
    assert files[0].stat().st_mtime_ns == mtime
    np.testing.assert_array_equal(first.x.numpy(), second.x.numpy())
    np.testing.assert_array_equal(first.y.numpy(), second.y.numpy())
    assert list((tmp_path / "cache" / "twobody").iterdir()) == files  # no temporary files left behind


def test_env_var_data_root(tmp_path, monkeypatch):
    monkeypatch.setenv("LIEGAN_DATA", str(tmp_path / "env"))
    load_dataset(DataConfig(dataset="twobody", n_samples=19))
    assert len(list((tmp_path / "env" / "twobody").glob("*.h5"))) == 1


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong_attrs"])
def test_corrupt_cache_is_regenerated(tmp_path, caplog, damage):
    import h5py

    cfg = _cfg(tmp_path, n_samples=95)
    good = load_dataset(cfg)
    path = next((tmp_path / "cache" / "twobody").glob("*.h5"))
    if damage == "garbage":
        path.write_bytes(b"not an hdf5 file")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:500])
    else:
        with h5py.File(path, "r+") as f:
            f.attrs["seed"] = 99
    with caplog.at_level(logging.WARNING, logger=tb.__name__):
        again = load_dataset(cfg)
    assert "regenerating" in caplog.text and str(path) in caplog.text
    np.testing.assert_array_equal(good.x.numpy(), again.x.numpy())
    with h5py.File(path, "r") as f:  # rewritten, valid
        assert f["trajectories"].shape == (5, tb.STEPS, 8) and f.attrs["seed"] == 0


def test_unwritable_cache_still_gives_data(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with caplog.at_level(logging.WARNING, logger=tb.__name__):
        ds = load_dataset(DataConfig(dataset="twobody", data_dir=str(blocker), n_samples=38))
    assert len(ds) == 38 and "cannot write" in caplog.text


# --------------------------------------------------------------------------------------------- HNN pickle


def _write_hnn(path, coords, test_coords=None, protocol=2, **extra):
    d = {"coords": coords, "test_coords": coords[:2] if test_coords is None else test_coords, **extra}
    path.write_bytes(pickle.dumps(d, protocol=protocol))
    return path


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_hnn_pickle_round_trip(tmp_path, traj, protocol):
    hnn = traj[:30][:, :, HNN_FROM_BODY]  # documented layout (q1x, q2x, q1y, q2y, p1x, p2x, p1y, p2y)
    np.testing.assert_array_equal(hnn[..., 0], traj[:30, :, 0])  # q1x
    np.testing.assert_array_equal(hnn[..., 1], traj[:30, :, 4])  # q2x
    np.testing.assert_array_equal(hnn[..., 6], traj[:30, :, 3])  # p1y
    path = _write_hnn(tmp_path / "2body-orbits-dataset.pkl", hnn, protocol=protocol, dcoords=hnn * 0)
    ds = load_dataset(DataConfig(dataset="twobody", data_file=str(path)))
    assert ds.x.shape == (30 * (tb.STEPS - 1), 1, 8) and ds.info.source == str(path)
    x = ds.x.numpy().reshape(30, tb.STEPS - 1, 8)
    y = ds.y.numpy().reshape(30, tb.STEPS - 1, 8)
    expect = hnn[:, :, [0, 2, 4, 6, 1, 3, 5, 7]].astype(np.float32)
    np.testing.assert_array_equal(x, expect[:, :-1])
    np.testing.assert_array_equal(y, expect[:, 1:])
    assert ds.x[0, 0, 1].item() == np.float32(hnn[0, 0, 2])  # q1y came from HNN column 2
    np.testing.assert_array_equal(ds.info.symmetry.generators, twobody_so2())
    test = load_dataset(DataConfig(dataset="twobody", data_file=str(path), split="test"))
    np.testing.assert_array_equal(test.x.numpy(), expect[:2, :-1].reshape(-1, 1, 8))
    capped = load_dataset(DataConfig(dataset="twobody", data_file=str(path), n_samples=25))
    np.testing.assert_array_equal(capped.x.numpy(), ds.x.numpy()[:25])


def test_hnn_flat_coords_split_into_50_step_trajectories(tmp_path):
    traj = tb.simulate(4, seed=2, steps=tb.HNN_TIMESTEPS)
    flat = traj[:, :, HNN_FROM_BODY].reshape(-1, 8)  # how the HNN file stores it: (N*T, 8)
    ds = load_dataset(DataConfig(dataset="twobody", data_file=str(_write_hnn(tmp_path / "h.pkl", flat))))
    x, y = tb.make_pairs(traj)
    assert len(ds) == 4 * 49  # no pair straddles two trajectories
    np.testing.assert_array_equal(ds.x.numpy(), x.astype(np.float32))
    np.testing.assert_array_equal(ds.y.numpy(), y.astype(np.float32))


class _Hostile:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _bad(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _bad_cases(tmp_path, marker):
    ok = np.zeros((3, 5, 8))
    nan, inf = ok.copy(), ok.copy()
    nan[1, 2, 3] = np.nan
    inf[0, 0, 0] = np.inf
    dumps = pickle.dumps
    return {
        "missing": (tmp_path / "absent.pkl", "file not found"),
        "not_dict": (_bad(tmp_path, "list.pkl", dumps([ok])), "expected a pickled dict"),
        "no_coords": (_bad(tmp_path, "nocoords.pkl", dumps({"x": ok})), "no 'coords' array"),
        "not_array": (_bad(tmp_path, "notarray.pkl", dumps({"coords": [1, 2]})), "must be a numpy array"),
        "last_axis": (_bad(tmp_path, "axis.pkl", dumps({"coords": np.zeros((3, 5, 6))})), r"shape \(N, T, 8\)"),
        "one_step": (_bad(tmp_path, "t1.pkl", dumps({"coords": np.zeros((3, 1, 8))})), "T >= 2"),
        "empty": (_bad(tmp_path, "n0.pkl", dumps({"coords": np.zeros((0, 5, 8))})), "N >= 1"),
        "flat_ragged": (_bad(tmp_path, "flat.pkl", dumps({"coords": np.zeros((49, 8))})), "50 steps"),
        "ndim4": (_bad(tmp_path, "d4.pkl", dumps({"coords": np.zeros((2, 3, 4, 8))})), "shape"),
        "strings": (_bad(tmp_path, "str.pkl", dumps({"coords": np.array(["a"])})), "numeric"),
        "nan": (_bad(tmp_path, "nan.pkl", dumps({"coords": nan})), "NaN or inf in 1 of 3"),
        "inf": (_bad(tmp_path, "inf.pkl", dumps({"coords": inf})), "NaN or inf"),
        "object": (_bad(tmp_path, "obj.pkl", dumps({"coords": np.array([None, 1.0])})), "object arrays"),
        "truncated": (_bad(tmp_path, "trunc.pkl", dumps({"coords": ok})[:-40]), "not a readable pickle"),
        "garbage": (_bad(tmp_path, "garbage.pkl", b"\x00\x01 definitely not a pickle"), "not a readable"),
        "hostile": (
            _bad(tmp_path, "evil.pkl", dumps({"coords": ok, "t": _Hostile(marker)})),
            r"refusing to load global '(posix|os|nt)\.system'",
        ),
        "directory": (tmp_path, "not a regular file"),
    }


CASES = [
    "missing",
    "not_dict",
    "no_coords",
    "not_array",
    "last_axis",
    "one_step",
    "empty",
    "flat_ragged",
    "ndim4",
    "strings",
    "nan",
    "inf",
    "object",
    "truncated",
    "garbage",
    "hostile",
    "directory",
]


@pytest.mark.parametrize("case", CASES)
def test_hnn_bad_input(tmp_path, case):
    marker = tmp_path / "PWNED"
    path, message = _bad_cases(tmp_path, marker)[case]
    with pytest.raises(InputError) as err:
        load_dataset(DataConfig(dataset="twobody", data_file=str(path)))
    assert str(path) in str(err.value)
    assert pytest.importorskip("re").search(message, str(err.value)), str(err.value)
    assert "\n" not in str(err.value)
    assert not marker.exists()


def test_hnn_missing_test_split(tmp_path):
    path = tmp_path / "train_only.pkl"
    path.write_bytes(pickle.dumps({"coords": np.zeros((2, 3, 8))}))
    with pytest.raises(InputError, match="no 'test_coords' array"):
        load_dataset(DataConfig(dataset="twobody", data_file=str(path), split="test"))
