"""The top-tagging reader: files written by pandas itself, column order, masks, bad files, the loader,
the preset and the CLI."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from liegan.algebras import MINKOWSKI, so13
from liegan.config import DataConfig
from liegan.datasets import load_dataset
from liegan.datasets import topquark as tq
from liegan.datasets.topquark_synth import column_names
from liegan.io import InputError

pd = pytest.importorskip("pandas")
pytest.importorskip("tables")

N = 60


def _frame(seed: int = 0, dtype=np.float32, n: int = N):
    """A DataFrame with the real 806 columns: random momenta, a random number of real constituents per jet
    (zero padding after it, some jets with 0 or 1), random labels."""
    rng = np.random.default_rng(seed)
    cols = column_names()
    p = rng.normal(0.0, 100.0, (n, 200, 4)).astype(dtype)
    n_real = rng.integers(0, 6, n)
    n_real[:5] = [0, 1, 2, 3, 200]
    p[np.arange(200)[None, :] >= n_real[:, None]] = 0.0
    data = {c: p.reshape(n, 800)[:, i] for i, c in enumerate(cols[:800])}
    for c in ["truthE", "truthPX", "truthPY", "truthPZ"]:
        data[c] = rng.normal(size=n).astype(dtype)
    data["ttv"] = np.zeros(n, np.int64)
    data["is_signal_new"] = rng.integers(0, 2, n).astype(np.int64)
    return pd.DataFrame(data, columns=cols), p, n_real


def _write(df, path, **kw):
    df.to_hdf(path, key="table", format="table", **kw)
    return path


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_reads_exactly_what_pandas_wrote(tmp_path, dtype):
    df, p, n_real = _frame(dtype=dtype)
    path = _write(df, tmp_path / "train.h5")
    with h5py.File(path) as f:  # the layout the reader is written for
        assert set(f["table/table"].dtype.names) == {"index", "values_block_0", "values_block_1"}
    jets = tq.read_jets(path, constituents=3)
    np.testing.assert_array_equal(jets.momenta, p[:, :3].astype(np.float32))
    np.testing.assert_array_equal(jets.labels, df["is_signal_new"].to_numpy())
    assert jets.labels.dtype == np.int64 and jets.momenta.dtype == np.float32
    np.testing.assert_array_equal(jets.mask, np.arange(3)[None, :] < n_real[:, None])


def test_column_order_does_not_matter(tmp_path):
    df, p, _ = _frame(seed=1)
    cols = list(df.columns)
    np.random.default_rng(2).shuffle(cols)
    shuffled = df[cols]
    # the labels become a float column mixed in with the momenta, in a single block: still read by name
    shuffled = shuffled.assign(is_signal_new=shuffled["is_signal_new"].astype(np.float32))
    a = tq.read_jets(_write(df, tmp_path / "a.h5"), constituents=4)
    b = tq.read_jets(_write(shuffled, tmp_path / "b.h5"), constituents=4)
    np.testing.assert_array_equal(a.momenta, b.momenta)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.mask, b.mask)
    with h5py.File(tmp_path / "b.h5") as f:  # the shuffle really moved the columns
        assert not np.array_equal(f["table/table"]["values_block_0"][:, :8], p[:, :2].reshape(N, 8))


def test_slices_n_samples_and_class_filter(tmp_path, monkeypatch):
    df, p, _ = _frame(seed=3, n=500)
    path = _write(df, tmp_path / "t.h5")
    whole = tq.read_jets(path, constituents=2)
    monkeypatch.setattr(tq, "SLICE_BYTES", 1)  # one chunk per slice: many slices
    sliced = tq.read_jets(path, constituents=2)
    np.testing.assert_array_equal(whole.momenta, sliced.momenta)
    np.testing.assert_array_equal(whole.labels, sliced.labels)
    first = tq.read_jets(path, constituents=2, n_samples=37)
    np.testing.assert_array_equal(first.momenta, whole.momenta[:37])
    tops = tq.read_jets(path, constituents=2, n_samples=50, classes=(1,))
    want = np.flatnonzero(whole.labels == 1)[:50]
    np.testing.assert_array_equal(tops.momenta, whole.momenta[want])
    assert tops.labels.tolist() == [1] * 50


def test_refuses_file_without_labels(tmp_path):
    df, _, _ = _frame()
    path = _write(df.drop(columns=["is_signal_new"]), tmp_path / "nolabel.h5")
    with pytest.raises(InputError, match=r"nolabel\.h5.*no 'is_signal_new' column"):
        tq.read_jets(path)


def test_refuses_fixed_format(tmp_path):
    df, _, _ = _frame()
    path = tmp_path / "fixed.h5"
    df.to_hdf(path, key="table", format="fixed")
    with pytest.raises(InputError, match=r"fixed\.h5.*'fixed' format.*format='table'"):
        tq.read_jets(path)


def test_refuses_other_hdf5(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(InputError, match=r"other\.h5.*no compound dataset /table/table"):
        tq.read_jets(path)


@pytest.mark.parametrize("keep", [0.5, 0.97], ids=["half", "last-rows"])
def test_refuses_truncated_file(tmp_path, keep):
    df, _, _ = _frame(n=2000)
    path = _write(df, tmp_path / "cut.h5")
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(InputError, match=r"cut\.h5.*truncated or corrupt"):
        tq.read_jets(path)


def test_refuses_column_names_pickle_with_globals(tmp_path):
    df, _, _ = _frame()
    path = _write(df, tmp_path / "evil.h5")
    with h5py.File(path, "a") as f:
        f["table/table"].attrs["values_block_1_kind"] = np.bytes_(b"cos\nsystem\n(S'echo pwned'\ntR.")
    with pytest.raises(InputError, match=r"evil\.h5.*refusing to load global 'os\.system'"):
        tq.read_jets(path)


def test_too_many_constituents_asked(tmp_path):
    df, _, _ = _frame()
    path = _write(df, tmp_path / "t.h5")
    with pytest.raises(InputError, match=r"missing column.*E_200.*200 constituents, 201 were asked"):
        tq.read_jets(path, constituents=201)


# ------------------------------------------------------------------------------------------- the loader


def test_load_drops_short_jets_and_scales_globally(tmp_path):
    df, p, n_real = _frame(seed=4)
    (tmp_path / "topquark").mkdir()
    _write(df, tmp_path / "topquark" / "val.h5")
    ds = load_dataset(DataConfig(dataset="topquark", data_dir=str(tmp_path), split="val", constituents=2))
    full = n_real >= 2
    np.testing.assert_array_equal(ds.x.numpy(), p[full, :2] / np.float32(tq.SCALE_GEV))
    np.testing.assert_array_equal(ds.y.numpy(), df["is_signal_new"].to_numpy()[full])
    info = ds.info
    assert (info.n_dim, info.n_components, info.y_kind, info.n_classes) == (4, 2, "class", 2)
    assert info.feature_names == ["E", "px", "py", "pz"] and info.symmetry.name == "so(1,3)"
    np.testing.assert_array_equal(info.symmetry.generators, so13())
    np.testing.assert_array_equal(info.symmetry.metric, MINKOWSKI)
    assert info.symmetry.metric_name == "minkowski" and info.symmetry.generator_names[0] == "K_x"
    assert f"{int((~full).sum())} jets with fewer real constituents dropped" in info.source


def test_data_dir_may_name_the_folder_of_the_split_files(tmp_path):
    df, p, n_real = _frame(seed=4)
    _write(df, tmp_path / "val.h5")  # e.g. ~/data/toptag/val.h5 as downloaded, no topquark/ below it
    ds = load_dataset(DataConfig(dataset="topquark", data_dir=str(tmp_path), split="val", constituents=2))
    assert len(ds.x) == int((n_real >= 2).sum())
    (tmp_path / "topquark").mkdir()  # both present: the data-root layout wins, as `liegan data` writes it
    _write(df.iloc[:50], tmp_path / "topquark" / "val.h5")
    ds = load_dataset(DataConfig(dataset="topquark", data_dir=str(tmp_path), split="val", constituents=2))
    assert len(ds.x) == int((n_real[:50] >= 2).sum())


def test_global_scale_commutes_with_lorentz_and_standardisation_does_not():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, 50))
    K = so13()[0]
    s = 1.0 / tq.SCALE_GEV
    np.testing.assert_allclose(K @ (s * x), s * (K @ x), rtol=1e-12)
    D = np.diag(1.0 / np.array([300.0, 100.0, 100.0, 400.0]))  # per-feature standardisation
    assert np.abs(K @ (D @ x) - D @ (K @ x)).max() > 1e-3


def test_load_without_file_says_where_and_how(tmp_path):
    with pytest.raises(InputError) as e:
        load_dataset(DataConfig(dataset="topquark", data_dir=str(tmp_path)))
    msg = str(e.value)
    assert str(tmp_path / "topquark" / "train.h5") in msg
    assert "liegan data fetch topquark" in msg and "liegan data synth topquark" in msg


def test_load_reads_data_file_option(tmp_path):
    df, p, n_real = _frame(seed=6)
    path = _write(df, tmp_path / "mine.h5")
    ds = load_dataset(DataConfig(dataset="topquark", data_file=str(path), constituents=1, n_samples=10))
    keep = np.flatnonzero(n_real[:10] >= 1)
    np.testing.assert_array_equal(ds.x.numpy(), p[keep, :1] / np.float32(tq.SCALE_GEV))


# ------------------------------------------------------------------------------------------------- CLI


def test_cli_train_without_file_exits_2_with_instructions(tmp_path, run_cli):
    r = run_cli("train", "--dataset", "topquark", "--data-dir", str(tmp_path), "--logdir", str(tmp_path / "runs"))
    assert r.returncode == 2, r.stderr
    assert "liegan data fetch topquark" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.mark.slow
def test_cli_synth_then_train(tmp_path, run_cli):
    r = run_cli("data", "synth", "topquark", "--jets", "300", "--data-dir", str(tmp_path), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "top jet mass median" in r.stdout
    for split in ("train", "val", "test"):
        assert (tmp_path / "topquark" / f"{split}.h5").is_file()
    r = run_cli(
        "train",
        "--dataset",
        "topquark",
        "--data-dir",
        str(tmp_path),
        "--epochs",
        "1",
        "--logdir",
        str(tmp_path / "runs"),
        "--name",
        "t",
        "--quiet",
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "runs" / "t" / "algebra.json").is_file()
