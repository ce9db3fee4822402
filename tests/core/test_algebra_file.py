"""The Algebra file format round-tripped through the real writers; malformed files refused."""

import json

import numpy as np
import pytest
import torch

from liegan import Algebra, InputError, load_algebra
from liegan.algebras import so13


@pytest.fixture
def algebra():
    return Algebra(
        so13(),
        np.ones((6, 4, 4)),
        dataset="topquark",
        feature_names=["E", "px", "py", "pz"],
        coefficients={"distribution": "normal", "sigma": 1.0},
        config={"train": {"seed": 3}},
        metrics={"similarity_to_truth": 0.99, "gap": float("inf")},
    )


def same(a, b):
    np.testing.assert_array_equal(a.generators, b.generators)
    np.testing.assert_array_equal(a.mask, b.mask)
    for key in ("dataset", "feature_names", "coefficients", "config"):
        assert getattr(a, key) == getattr(b, key), key


def test_save_writes_npz_and_json_with_required_fields(tmp_path, algebra):
    npz, js = algebra.save(tmp_path)
    with np.load(npz) as z:
        assert z["generators"].shape == (6, 4, 4) and z["mask"].shape == (6, 4, 4)
    meta = json.loads(js.read_text())
    for key in (
        "dataset",
        "feature_names",
        "n_dim",
        "n_channels",
        "coefficients",
        "config",
        "metrics",
        "liegan_version",
    ):
        assert key in meta
    assert meta["n_dim"] == 4 and meta["n_channels"] == 6
    assert meta["metrics"]["gap"] == "inf"  # non-finite floats stay valid JSON
    assert not list(tmp_path.glob("*.tmp")), "no temporary files left behind"


@pytest.mark.parametrize("target", ["folder", "npz", "json"])
def test_round_trip_from_run_folder_and_files(tmp_path, algebra, target):
    algebra.save(tmp_path)
    src = {"folder": tmp_path, "npz": tmp_path / "algebra.npz", "json": tmp_path / "algebra.json"}[target]
    same(load_algebra(src), algebra)


@pytest.mark.parametrize("fmt", ["npz", "json", "pt"])
def test_export_formats_round_trip(tmp_path, algebra, fmt):
    out = algebra.export(fmt, tmp_path / f"a.{fmt}")
    back = load_algebra(out)
    np.testing.assert_array_equal(back.generators, algebra.generators)
    same(back, algebra)


def test_npz_alone_keeps_its_context(tmp_path, algebra):
    algebra.save(tmp_path / "run")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "copied.npz").write_bytes((tmp_path / "run" / "algebra.npz").read_bytes())
    back = load_algebra(elsewhere / "copied.npz")
    same(back, algebra)
    assert back.metrics["similarity_to_truth"] == 0.99
    with np.load(elsewhere / "copied.npz") as z:  # plain numpy reads it too, without pickles
        assert json.loads(str(z["metadata"]))["dataset"] == "topquark"


def test_npz_without_or_with_bad_metadata(tmp_path):
    np.savez(tmp_path / "bare.npz", generators=so13())  # written by hand or by an older liegan
    assert load_algebra(tmp_path / "bare.npz").dataset == "unknown"
    np.savez(tmp_path / "bad.npz", generators=so13(), metadata=np.array("{not json"))
    with pytest.raises(InputError, match="bad.npz: not readable algebra metadata"):
        load_algebra(tmp_path / "bad.npz")
    np.savez(tmp_path / "num.npz", generators=so13(), metadata=np.zeros(3))
    with pytest.raises(InputError, match="'metadata' must be one JSON string"):
        load_algebra(tmp_path / "num.npz")


def test_pt_export_loads_with_weights_only(tmp_path, algebra):
    obj = torch.load(algebra.export("pt", tmp_path / "a.pt"), weights_only=True)
    assert obj["generators"].shape == (6, 4, 4) and obj["metadata"]["dataset"] == "topquark"


def test_malformed_files_are_refused(tmp_path, algebra):
    with pytest.raises(InputError, match="file not found"):
        load_algebra(tmp_path / "nope.npz")
    with pytest.raises(InputError, match="no algebra.npz"):
        load_algebra(tmp_path)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="junk.npz: not a readable"):
        load_algebra(tmp_path / "junk.npz")
    np.savez(tmp_path / "wrong.npz", generators=np.zeros((4, 4)))
    with pytest.raises(InputError, match="shape"):
        load_algebra(tmp_path / "wrong.npz")
    np.savez(tmp_path / "nan.npz", generators=np.full((1, 2, 2), np.nan))
    with pytest.raises(InputError, match="NaN"):
        load_algebra(tmp_path / "nan.npz")
    np.savez(tmp_path / "obj.npz", generators=np.array([{"a": 1}], dtype=object))
    with pytest.raises(InputError):
        load_algebra(tmp_path / "obj.npz")
    (tmp_path / "bad.json").write_text("{truncated")
    with pytest.raises(InputError, match="bad.json"):
        load_algebra(tmp_path / "bad.json")
    (tmp_path / "missing.json").write_text(json.dumps({"dataset": "x"}))
    with pytest.raises(InputError, match="missing required keys"):
        load_algebra(tmp_path / "missing.json")
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(InputError, match="unknown algebra file type"):
        load_algebra(tmp_path / "a.txt")


def test_metadata_inconsistent_with_arrays_is_refused(tmp_path, algebra):
    algebra.save(tmp_path)
    meta = json.loads((tmp_path / "algebra.json").read_text())
    meta["n_channels"] = 3
    (tmp_path / "algebra.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="n_channels=3"):
        load_algebra(tmp_path)


def test_truncated_pt_and_hostile_pt_are_refused(tmp_path, algebra):
    p = algebra.export("pt", tmp_path / "a.pt")
    p.write_bytes(p.read_bytes()[:100])
    with pytest.raises(InputError, match="a.pt"):
        load_algebra(p)

    class Evil:
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    torch.save({"generators": Evil(), "metadata": {}}, tmp_path / "evil.pt")
    with pytest.raises(InputError):
        load_algebra(tmp_path / "evil.pt")
    assert not (tmp_path / "pwned").exists()


def test_algebra_npz_and_json_are_written_as_a_pair(tmp_path):
    """A crash between the two renames leaves a new npz beside the old JSON: loading sees it (the JSON names
    its npz's arrays) and uses the npz's own copy of the metadata, never the old description."""
    from liegan.algebra import Algebra, load_algebra

    old = Algebra(np.eye(3)[None], None, dataset="old", feature_names=["a", "b", "c"])
    new = Algebra(2 * np.eye(3)[None], None, dataset="new", feature_names=["a", "b", "c"])
    old.save(tmp_path)
    assert load_algebra(tmp_path).dataset == "old"
    new.save_npz(tmp_path / "algebra.npz")  # the first rename only
    got = load_algebra(tmp_path)
    assert got.dataset == "new" and got.generators[0, 0, 0] == 2.0
