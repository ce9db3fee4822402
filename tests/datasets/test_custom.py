"""The custom dataset: the user's .npz / .h5 files, y-kind inference, and every bad-input case."""

from __future__ import annotations

import os
import re

import h5py
import numpy as np
import pytest

from liegan.config import DataConfig
from liegan.datasets import load_dataset
from liegan.io import InputError


def _cfg(path, **kw) -> DataConfig:
    return DataConfig(dataset="custom", data_file=str(path), **kw)


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def _h5(path, **arrays):
    with h5py.File(path, "w") as f:
        for k, v in arrays.items():
            f.create_dataset(k, data=v)
    return path


@pytest.fixture
def xy():
    rng = np.random.default_rng(0)
    return rng.normal(size=(50, 2, 4)), rng.normal(size=(50, 2, 4))


@pytest.mark.parametrize("fmt", ["npz", "h5", "hdf5"])
def test_round_trip_vector_y_inferred(tmp_path, xy, fmt):
    x, y = xy
    path = tmp_path / f"data.{fmt}"
    (_npz if fmt == "npz" else _h5)(path, x=x, y=y)
    ds = load_dataset(_cfg(path))
    np.testing.assert_array_equal(ds.x.numpy(), x.astype(np.float32))
    np.testing.assert_array_equal(ds.y.numpy(), y.astype(np.float32))
    info = ds.info
    assert (info.name, info.n_dim, info.n_components, info.y_kind) == ("custom", 4, 2, "vector")
    assert info.feature_names == ["x0", "x1", "x2", "x3"] and info.symmetry is None
    assert info.source == str(path)


def test_flat_x_and_no_y(tmp_path):
    x = np.arange(30.0).reshape(10, 3)
    ds = load_dataset(_cfg(_npz(tmp_path / "a.npz", x=x)))
    assert ds.x.shape == (10, 1, 3) and ds.y is None and ds.info.y_kind == "none"
    np.testing.assert_array_equal(ds.x.numpy()[:, 0], x.astype(np.float32))


def test_explicit_kinds(tmp_path, xy):
    x, _ = xy
    labels = np.arange(50) % 3
    ds = load_dataset(_cfg(_npz(tmp_path / "c.npz", x=x, y=labels), y_kind="class"))
    assert ds.info.y_kind == "class" and ds.info.n_classes == 3 and str(ds.y.dtype) == "torch.int64"
    np.testing.assert_array_equal(ds.y.numpy(), labels)
    s = np.linspace(0, 1, 50)
    ds = load_dataset(_cfg(_h5(tmp_path / "s.h5", x=x, y=s), y_kind="scalar"))
    assert ds.info.y_kind == "scalar" and ds.y.shape == (50, 1)
    ds = load_dataset(_cfg(_npz(tmp_path / "n.npz", x=x, y=s), y_kind="none"))
    assert ds.y is None and ds.info.y_kind == "none"


def test_ambiguous_y_needs_kind(tmp_path, xy):
    path = _npz(tmp_path / "amb.npz", x=xy[0], y=np.zeros(50))
    with pytest.raises(InputError, match=r"amb\.npz: cannot tell .* pass --y-kind"):
        load_dataset(_cfg(path))


def test_n_samples_keeps_first(tmp_path, xy):
    x, y = xy
    ds = load_dataset(_cfg(_npz(tmp_path / "a.npz", x=x, y=y), n_samples=7))
    np.testing.assert_array_equal(ds.x.numpy(), x[:7].astype(np.float32))
    np.testing.assert_array_equal(ds.y.numpy(), y[:7].astype(np.float32))
    with pytest.raises(InputError, match="n_samples"):
        load_dataset(_cfg(tmp_path / "a.npz", n_samples=0))


class _Hostile:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _cases(tmp_path, marker):
    good = np.zeros((5, 3))
    nan = good.copy()
    nan[2, 1] = np.nan
    inf = good.copy()
    inf[0, 0] = -np.inf
    trunc = _npz(tmp_path / "full.npz", x=np.zeros((100, 3)))
    (tmp_path / "trunc.npz").write_bytes(trunc.read_bytes()[:200])
    h5 = _h5(tmp_path / "full.h5", x=np.zeros((100, 3)))
    (tmp_path / "trunc.h5").write_bytes(h5.read_bytes()[:300])
    (tmp_path / "garbage.npz").write_bytes(b"not a zip")
    (tmp_path / "garbage.h5").write_bytes(b"not hdf5")
    (tmp_path / "data.csv").write_text("1,2,3\n")
    (tmp_path / "noext").write_text("1,2,3\n")
    np.savez(tmp_path / "evil.npz", x=np.array([_Hostile(marker)], dtype=object))
    np.savez(tmp_path / "objy.npz", x=good, y=np.array([None] * 5, dtype=object))
    with h5py.File(tmp_path / "group.h5", "w") as f:
        f.create_group("x")
    with h5py.File(tmp_path / "strs.h5", "w") as f:
        f.create_dataset("x", data=np.array([b"a", b"b"]))
    return {
        "missing": (tmp_path / "absent.npz", {}, "file not found"),
        "directory": (tmp_path / "dir.h5", {}, "not a regular file"),
        "extension": (tmp_path / "data.csv", {}, "unknown file type '.csv'"),
        "no_extension": (tmp_path / "noext", {}, "unknown file type"),
        "truncated_npz": (tmp_path / "trunc.npz", {}, "not a readable .npz"),
        "truncated_h5": (tmp_path / "trunc.h5", {}, "not a readable HDF5"),
        "garbage_npz": (tmp_path / "garbage.npz", {}, "not a readable .npz"),
        "garbage_h5": (tmp_path / "garbage.h5", {}, "not a readable HDF5"),
        "no_x_npz": (_npz(tmp_path / "nox.npz", z=good), {}, "no array 'x'"),
        "no_x_h5": (_h5(tmp_path / "nox.h5", z=good), {}, "no dataset 'x'"),
        "x_group": (tmp_path / "group.h5", {}, "not a dataset"),
        "x_strings_h5": (tmp_path / "strs.h5", {}, "numeric"),
        "x_strings_npz": (_npz(tmp_path / "strs.npz", x=np.array(["a", "b"])), {}, "numeric"),
        "x_4d": (_npz(tmp_path / "x4.npz", x=np.zeros((2, 3, 4, 5))), {}, r"shape \(N, k, n\)"),
        "x_1d": (_npz(tmp_path / "x1.npz", x=np.zeros(5)), {}, r"shape \(N, k, n\)"),
        "x_scalar": (_npz(tmp_path / "x0.npz", x=np.float64(1.0)), {}, r"shape \(N, k, n\)"),
        "x_empty": (_npz(tmp_path / "xe.npz", x=np.zeros((0, 3))), {}, "N, k, n > 0"),
        "y_wrong_n": (_npz(tmp_path / "yn.npz", x=good, y=np.zeros((4, 3))), {}, "4 samples but 'x' has 5"),
        "y_wrong_dim": (
            _npz(tmp_path / "yd.npz", x=good, y=np.zeros((5, 2))),
            {"y_kind": "vector"},
            "vector 'y' must have shape",
        ),
        "y_missing": (_npz(tmp_path / "ym.npz", x=good), {"y_kind": "scalar"}, "no 'y' array"),
        "y_scalar0d": (_npz(tmp_path / "y0.npz", x=good, y=np.float64(1.0)), {"y_kind": "scalar"}, "'y'"),
        "bad_class": (_npz(tmp_path / "bc.npz", x=good, y=np.full(5, 0.5)), {"y_kind": "class"}, "class 'y'"),
        "bad_kind": (_npz(tmp_path / "bk.npz", x=good), {"y_kind": "tensor"}, "unknown y kind 'tensor'"),
        "nan": (_npz(tmp_path / "nan.npz", x=nan), {}, "NaN or inf in 1 of 5"),
        "inf": (_h5(tmp_path / "inf.h5", x=inf), {}, "NaN or inf"),
        "nan_y": (_npz(tmp_path / "nany.npz", x=good, y=nan), {}, "'y' contains NaN"),
        "object_x": (tmp_path / "evil.npz", {}, "holds Python objects"),
        "object_y": (tmp_path / "objy.npz", {"y_kind": "scalar"}, "holds Python objects"),
    }


CASES = [
    "missing",
    "directory",
    "extension",
    "no_extension",
    "truncated_npz",
    "truncated_h5",
    "garbage_npz",
    "garbage_h5",
    "no_x_npz",
    "no_x_h5",
    "x_group",
    "x_strings_h5",
    "x_strings_npz",
    "x_4d",
    "x_1d",
    "x_scalar",
    "x_empty",
    "y_wrong_n",
    "y_wrong_dim",
    "y_missing",
    "y_scalar0d",
    "bad_class",
    "bad_kind",
    "nan",
    "inf",
    "nan_y",
    "object_x",
    "object_y",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_input(tmp_path, case):
    (tmp_path / "dir.h5").mkdir()
    marker = tmp_path / "PWNED"
    path, kw, message = _cases(tmp_path, marker)[case]
    with pytest.raises(InputError) as err:
        load_dataset(_cfg(path, **kw))
    text = str(err.value)
    assert str(path) in text and re.search(message, text), text
    assert "\n" not in text
    assert not marker.exists()


def test_data_file_required():
    with pytest.raises(InputError, match="--data-file is required"):
        load_dataset(DataConfig(dataset="custom"))


def test_damaged_compressed_member(tmp_path):
    """A zip whose member is cut short (savez_compressed) is refused with the file's name."""
    import zipfile

    full = tmp_path / "full.npz"
    np.savez_compressed(full, x=np.random.default_rng(0).normal(size=(2000, 3)))
    with zipfile.ZipFile(full) as z:
        data = z.read("x.npy")
    bad = tmp_path / "bad.npz"
    with zipfile.ZipFile(bad, "w", zipfile.ZIP_STORED) as z:
        z.writestr("x.npy", data[: len(data) // 2])
    with pytest.raises(InputError, match=r"bad\.npz: not a readable \.npz"):
        load_dataset(_cfg(bad))
