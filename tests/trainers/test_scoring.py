"""Scores the trainer logs: the metric of noisy so(1,3) + a dilation channel, as the top-tagging runs learn."""

import numpy as np
import pytest

from liegan.algebras import MINKOWSKI, so13, so_pq
from liegan.trainers.scoring import metric_scores


@pytest.mark.parametrize("seed", range(8))
def test_noisy_lorentz_plus_dilation_gives_minkowski_with_its_sign_fixed(seed):
    noise = 0.06 * np.random.default_rng(seed).normal(size=(7, 4, 4))
    m = metric_scores(np.concatenate([so13(), np.eye(4)[None]]) + noise, MINKOWSKI, "minkowski")
    assert m["metric_signature"] == [1, 3], m  # whatever sign the raw singular vector had
    assert m["metric_cosine_minkowski"] > 0.99 and m["metric_diagonal"][0] == 1.0
    assert m["metric_strict_signature"] is None  # the dilation leaves no strict invariant metric
    assert m["max_trace_share"] > 0.9


def test_a_different_algebra_gives_a_different_metric():
    m = metric_scores(so_pq(2, 2), MINKOWSKI, "minkowski")  # negative control: so(2,2) preserves diag(1,1,-1,-1)
    assert m["metric_signature"] == [2, 2] and m["metric_cosine_minkowski"] == pytest.approx(0.5)
