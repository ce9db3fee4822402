"""The trainer's view of :func:`liegan.symmetry.score`: per-epoch scores and their flat log keys.

Flat keys (TensorBoard scalars, the history rows and algebra.json's ``metrics``), present when the dataset
declares what they need:
  similarity_to_truth        |Frobenius cosine| for one generator vs a one-generator truth, else span similarity
  <sym>_span_similarity      span similarity to the known algebra, <sym> its slug (so13, so2, ...)
  span_chance                what a random span of the learned rank in the search space scores on average
  share_<generator>          share of each known generator inside the learned span
  metric_accepted            1 when the one metric policy (liegan.metric) accepted a metric or a family
  metric_null_dim, metric_chance, metric_residual, metric_gap   of the policy's best candidate
  metric_cosine_<name>       |cos| of the accepted metric with the declared one (e.g. minkowski); absent
                             when no single metric was accepted: a rejected candidate is never logged
  metric_signature           (positive, negative) eigenvalue counts of the accepted metric
  discrete_order, discrete_angle_error, discrete_axis_error, discrete_chance, discrete_axis_chance
                             for a declared discrete symmetry (rotation7: C7 about x3)
  stability                  span similarity with the previous epoch's generators
"""

from __future__ import annotations

import numpy as np

from liegan.datasets.base import REGISTRY, DatasetInfo
from liegan.metric import warm_calibrations
from liegan.scores import span_similarity
from liegan.symmetry import best_reference, score
from liegan.verdict import TREND_EPOCHS, Verdict, make_verdict, primary_score
from liegan.verdict import converged as verdict_converged


class Scorer:
    """Scores successive generators of one run against its dataset's known symmetry.

    Remembers the previous epoch's generators (for ``stability``) and, per epoch, the verdict's primary
    score (its trend); :meth:`flat` gives the log keys, :meth:`verdict` the end-of-training verdict."""

    def __init__(self, info: DatasetInfo, mask: np.ndarray | None = None):
        self.info, self.mask = info, mask
        if mask is not None and mask.ndim == 3:  # every score solves for a metric of this shape
            warm_calibrations(*mask.shape[:2], mask)
        self.prev: np.ndarray | None = None
        self.last: dict = {}
        self.trend: list[float | None] = []

    def __call__(self, L: np.ndarray, epoch_end: bool = True) -> dict:
        """Flat scores of L (c, n, n); ``epoch_end`` False for a score that is not an epoch's (the start)."""
        L = np.asarray(L, dtype=np.float64)
        out = score(L, self.info.symmetry, self.mask, list(self.info.feature_names))
        if self.prev is not None and np.abs(L).max() > 0 and np.abs(self.prev).max() > 0:
            out["stability"] = span_similarity(L, self.prev)
        self.last = out
        if epoch_end:  # the previous epoch's generators and the trend move only at epoch ends
            self.prev = L.copy()
            self.trend.append(primary_score(out, self.info.symmetry)[1])
        return flat_items(out, self.info.symmetry)

    def converged(self, min_epochs: int = 3) -> bool:
        """Whether the last scored epoch passes the verdict's convergence test with a trend of at least
        ``min_epochs`` epochs (one epoch-to-epoch change is too few to call a score stable)."""
        recent = self.trend[-TREND_EPOCHS:]
        return len(recent) >= min_epochs and verdict_converged(self.last, self.info.symmetry, recent)

    def verdict(self, L: np.ndarray, context: dict) -> Verdict:
        """The verdict of the final generators L; context as for :func:`liegan.verdict.make_verdict` (the
        preset's sample count is filled in here)."""
        L = np.asarray(L, dtype=np.float64)
        self(L, epoch_end=False)  # the scores of exactly these generators
        spec = REGISTRY.get(self.info.name)
        default_n = spec.presets.get("default", {}).get("data", {}).get("n_samples") if spec else None
        return make_verdict(
            self.last,
            self.info.symmetry,
            L,
            list(self.info.feature_names),
            best_reference(L, self.mask),
            self.trend,
            {"default_samples": default_n} | context,
        )


def flat_items(scores: dict, symmetry=None) -> dict:
    """The flat keys of the module docstring from :func:`liegan.symmetry.score`'s nested scores."""
    out: dict = {}
    for k in ("similarity_to_truth", "span_chance", "stability"):
        if k in scores:
            out[k] = scores[k]
    if "span_similarity" in scores:
        out[f"{symmetry.slug if symmetry else 'truth'}_span_similarity"] = scores["span_similarity"]
    out.update({f"share_{k}": v for k, v in scores.get("shares", {}).items()})
    m = scores.get("metric")
    if m:
        out.update(
            metric_accepted=float(m["accepted"]),
            metric_null_dim=m["null_dim"],
            metric_chance=m["chance"],
            metric_residual=m["residual"],
            metric_gap=m["gap"],
            metric_solve=m["solve"],
        )
        if "cosine" in m:
            out[f"metric_cosine_{symmetry.metric_name if symmetry and symmetry.metric_name else 'truth'}"] = m["cosine"]
        if m["signature"]:
            out["metric_signature"] = m["signature"]
    out.update({f"discrete_{k}": v for k, v in scores.get("discrete", {}).items() if k != "declared_order"})
    return out


def scalar_items(scores: dict) -> dict[str, float]:
    """The flat scores that are single finite numbers (for TensorBoard scalars and progress bars)."""
    out = {k: float(v) for k, v in scores.items() if isinstance(v, (int, float)) and np.isfinite(v)}
    sig = scores.get("metric_signature")
    if sig:
        out["metric_signature_positive"], out["metric_signature_negative"] = float(sig[0]), float(sig[1])
    return out
