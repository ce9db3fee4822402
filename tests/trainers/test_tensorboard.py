"""TensorBoard output read back with TensorBoard's own reader, and served by the real server."""

import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from liegan.trainers import resolve_config, train


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tb")
    # the export is the last step's (no generator.average), so the last scalar point is the run's final score
    over = {"data.n_samples": 1000, "train.epochs": 2, "generator.average": 0.0}
    cfg = resolve_config("twobody", overrides=over | {"run.logdir": str(tmp), "run.name": "run"})
    return train(cfg, progress=False)


@pytest.fixture(scope="module")
def run_dir(result):
    return result.run_dir


def events(run_dir) -> EventAccumulator:
    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "images": 0, "histograms": 0, "tensors": 0})
    acc.Reload()
    return acc


def test_every_tag_is_in_a_group_and_the_summary_leads(run_dir):
    tags = events(run_dir).Tags()
    tags["tensors"].remove("custom_scalars__config__")  # the layout, not shown as a card
    for kind in ("scalars", "images", "histograms", "tensors"):
        assert all("/" in t for t in tags[kind]), (kind, [t for t in tags[kind] if "/" not in t])
    for tag in (
        "Summary/similarity_to_truth",
        "Summary/converged",
        "Summary/loss_generator",
        "Summary/loss_discriminator",
        "reg/identity",
        "reg/channel_orthogonality",
        "scores/so2_span_similarity",
        "time/elapsed_s",
    ):
        assert tag in tags["scalars"], tag
    groups = sorted({t.split("/")[0] for t in tags["scalars"] + tags["images"] + tags["histograms"]})
    assert groups[0] == "Summary", groups  # TensorBoard sorts groups by name: the result comes first
    assert not [t for t in tags["scalars"] if t.startswith("final/")], "one-point final charts"


def test_scalars_have_a_point_every_few_steps(run_dir, result):
    acc = events(run_dir)
    steps = [e.step for e in acc.Scalars("Summary/similarity_to_truth")]
    total = steps[-1]  # the last point is at the last step
    assert total % 2 == 0 and len(result.history) == 2
    assert len(steps) >= min(total, 100) and len(steps) > 2, steps  # many points per epoch, not one
    assert steps == sorted(set(steps))
    # the last point is the run's final score; losses are window means (finite, positive)
    assert acc.Scalars("Summary/similarity_to_truth")[-1].value == pytest.approx(
        result.metrics["similarity_to_truth"], rel=1e-6
    )
    assert all(e.value > 0 for e in acc.Scalars("Summary/loss_discriminator"))


def test_one_labelled_image_of_all_channels_and_the_named_basis(run_dir):
    acc = events(run_dir)
    tags = acc.Tags()
    assert tags["images"] == ["generators/all_channels"]  # one image, not one card per raw channel
    images = acc.Images("generators/all_channels")
    assert len(images) >= 2 and images[-1].width > 200 and images[-1].height > 200
    text = acc.Tensors("generators/matrices/text_summary")[-1].tensor_proto.string_val[0].decode()
    assert "| **q1x** |" in text
    named = acc.Tensors("generators/in_named_basis/text_summary")[-1].tensor_proto.string_val[0].decode()
    assert "so(2)" in named and "outside the known span" in named
    assert "coefficients/z" in tags["histograms"]


def test_final_values_in_hparams_and_text_and_the_custom_layout(run_dir, result):
    acc = events(run_dir)
    final = acc.Tensors("Summary/verdict_scores/text_summary")[-1].tensor_proto.string_val[0].decode()
    assert f"| similarity_to_truth | {result.metrics['similarity_to_truth']:.4g} |" in final
    assert "| epochs | 2 |" in final
    # the HParams plugin's session metrics name existing Summary series (no separate one-point tags)
    from tensorboard.plugins.hparams import plugin_data_pb2

    content = acc.SummaryMetadata("_hparams_/experiment").plugin_data.content
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content).experiment
    metric_tags = {m.name.tag for m in experiment.metric_infos}
    assert "Summary/similarity_to_truth" in metric_tags and metric_tags <= set(acc.Tags()["scalars"])
    from tensorboard.plugins.custom_scalar import layout_pb2

    layout_tensor = acc.Tensors("custom_scalars__config__")[-1].tensor_proto
    layout = layout_pb2.Layout.FromString(layout_tensor.string_val[0])
    assert layout.category[0].title == "Summary"
    assert any("Summary/loss_" in r for chart in layout.category[0].chart for r in chart.multiline.tag)


def test_writer_pieces_on_a_known_algebra():
    import numpy as np

    from liegan.algebras import SO13_NAMES, so13
    from liegan.trainers.writer import cadence, closest_labels, in_named_basis, tag_of

    assert cadence(50) == 1 and cadence(10_000) == 100 and cadence(10_000, every=7) == 7
    assert tag_of("share_K_x") == "Summary/share_K_x" and tag_of("metric_gap") == "metric/gap"
    assert tag_of("discrete_chance") == "Summary/discrete_chance" and tag_of("reg/norm") == "reg/norm"
    L = np.concatenate([so13()[[3, 0]] * 2.0, np.eye(4)[None]])  # J_x, K_x (scaled) and a dilation
    coef, outside = in_named_basis(L, so13())
    np.testing.assert_allclose(coef[0], np.eye(6)[3], atol=1e-12)
    assert outside[:2] == pytest.approx([0, 0], abs=1e-12) and outside[2] == pytest.approx(1.0)
    labels = closest_labels(coef, outside, list(SO13_NAMES))
    assert labels[0] == "~ +1.00 J_x" and labels[1] == "~ +1.00 K_x" and labels[2].startswith("outside")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_tensorboard_server_serves_the_tags(run_dir):
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tensorboard.main",
            "--logdir",
            str(run_dir.parent),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline, tags = time.time() + 90, None
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/plugin/scalars/tags", timeout=5) as r:
                    tags = json.loads(r.read())
                if tags.get("run"):
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert tags and "Summary/loss_generator" in tags["run"], f"server answered {tags}"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/plugin/images/tags", timeout=5) as r:
            assert "generators/all_channels" in json.loads(r.read())["run"]
    finally:
        server.terminate()
        server.wait(timeout=30)
