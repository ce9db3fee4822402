"""Short end-to-end discoveries on the new datasets (rotated digits, three bodies, a user's images file), and
the image summaries in TensorBoard."""

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from liegan import load_algebra
from liegan.affine import affine_parts, describe_affine
from liegan.trainers import resolve_config, train


def cfg_for(dataset, tmp_path, name, preset="default", **overrides):
    base = {"run.logdir": str(tmp_path), "run.name": name}
    return resolve_config(dataset, preset, overrides={**base, **overrides})


@pytest.mark.slow
def test_rotated_digits_give_the_rotation(tmp_path):
    """Half the default run: 4 epochs on the 5,000 built-in digits (measured: rotation share 0.99)."""
    result = train(cfg_for("rotmnist", tmp_path, "rot", **{"train.epochs": 4}), progress=False)
    L = load_algebra(tmp_path / "rot").generators
    assert L.shape == (1, 3, 3) and (L[0, 2] == 0).all(), "stored as a 3 x 3 homogeneous matrix"
    share = affine_parts(L[0])["rotation"]["share"]
    assert share == pytest.approx(result.metrics["similarity_to_truth"])
    assert share >= 0.95, describe_affine(L[0])
    events = EventAccumulator(str(tmp_path / "rot"), size_guidance={"images": 0})
    events.Reload()
    tags = events.Tags()["images"]
    assert "samples/real_top_transformed_bottom" in tags and "generators/field_0" in tags


@pytest.mark.slow
def test_three_bodies_give_so2_on_every_2_vector(tmp_path):
    result = train(
        cfg_for(
            "threebody",
            tmp_path,
            "tb",
            **{"data.n_samples": 4000, "train.epochs": 4, "data.data_dir": str(tmp_path / "data")},
        ),
        progress=False,
    )
    assert result.metrics["so2_span_similarity"] >= 0.99, result.metrics


def test_users_images_train_with_any_square_size(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "im.npz", x=rng.uniform(0, 1, (64, 3, 13, 13)), y=rng.integers(0, 2, 64))
    cfg = cfg_for("images", tmp_path, "im", **{"data.data_file": str(tmp_path / "im.npz"), "train.epochs": 1})
    result = train(cfg, progress=False)
    assert result.algebra.generators.shape == (1, 3, 3) and result.algebra.feature_names == ["u", "v", "1"]
    assert np.isfinite(result.algebra.generators).all()
