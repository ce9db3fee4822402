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
    cfg = resolve_config("twobody", overrides={"data.n_samples": 1000, "train.epochs": 2, "run.logdir": str(tmp),
                                                 "run.name": "run"})
    return train(cfg, progress=False)


@pytest.fixture(scope="module")
def run_dir(result):
    return result.run_dir


def test_event_file_has_scalar_image_text_histogram_tags(run_dir, result):
    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "images": 0, "histograms": 0, "tensors": 0})
    acc.Reload()
    tags = acc.Tags()
    for tag in ("loss/generator", "loss/discriminator", "reg/identity", "reg/channel_orthogonality",
                "similarity_to_truth", "so2_span_similarity"):
        assert tag in tags["scalars"], tag
    assert [e.step for e in acc.Scalars("loss/generator")] == [1, 2]
    assert "generators/channel_0" in tags["images"]
    image = acc.Images("generators/channel_0")[-1]
    assert image.width == image.height == 8 * 24  # one square cell per matrix entry
    assert "coefficients/z" in tags["histograms"]
    assert "generators/channel_0/text_summary" in tags["tensors"]
    text = acc.Tensors("generators/channel_0/text_summary")[-1].tensor_proto.string_val[0].decode()
    assert "| **q1x** |" in text
    logged = [e.value for e in acc.Scalars("similarity_to_truth")]
    assert logged == pytest.approx([row["similarity_to_truth"] for row in result.history], rel=1e-6)
    # hparams: the final scores are logged as the session's metrics
    assert acc.Scalars("final/similarity_to_truth")[-1].value == pytest.approx(result.metrics["similarity_to_truth"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_tensorboard_server_serves_the_tags(run_dir):
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(run_dir.parent),
                               "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
        assert tags and "loss/generator" in tags["run"], f"server answered {tags}"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/plugin/images/tags", timeout=5) as r:
            assert "generators/channel_0" in json.loads(r.read())["run"]
    finally:
        server.terminate()
        server.wait(timeout=30)
