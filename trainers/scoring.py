"""The trainer's view of :func:`liegan.symmetry.score`: the scores at every scoring point (the scalar
cadence and epoch ends), the verdict's trend and convergence test over them, and their flat log keys.

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
  stability                  span similarity with the generators one convergence window earlier
  converged                  1 at a scoring point where the verdict's convergence test passes (targets and
                             trend over the window), else 0: when the answer arrived
"""

from __future__ import annotations

import numpy as np
import torch

from liegan.datasets.base import REGISTRY, DatasetInfo
from liegan.metric import warm_calibrations
from liegan.scores import span_similarity
from liegan.symmetry import best_reference, score
from liegan.verdict import Trend, Verdict, make_verdict, primary_score, window_steps
from liegan.verdict import converged as verdict_converged


class Scorer:
    """Scores successive generators of one run against its dataset's known symmetry.

    At every scoring point (:meth:`__call__` with its step) the verdict's primary score joins the trend and
    the convergence test runs over it (``passed``; ``converged_at``: the step since which it has passed at
    every point, None while it fails); the generators
    of the points of the last window are kept for ``stability``.  :meth:`verdict` is the end-of-training
    verdict.  total_steps: the run's planned steps, which set the test's window (liegan.verdict.window_steps)."""

    def __init__(self, info: DatasetInfo, mask: np.ndarray | None = None, total_steps: int = 0):
        self.info, self.mask = info, mask
        if mask is not None and mask.ndim == 3:  # every score solves for a metric of this shape
            warm_calibrations(*mask.shape[:2], mask)
        self.last: dict = {}
        self.trend = Trend([], [], "step", window_steps(total_steps))
        self.kept: list[tuple[int, np.ndarray]] = []  # (step, generators) of the points back to one window
        self.passed = False
        self.converged_at: int | None = None

    def __call__(self, L: np.ndarray, step: int | None = None) -> dict:
        """Flat scores of L (c, n, n); with ``step``, a scoring point: the trend and the test move on (a
        second call at the same step only scores)."""
        L = np.asarray(L, dtype=np.float64)
        out = score(L, self.info.symmetry, self.mask, list(self.info.feature_names))
        ref = self._reference(step)
        if ref is not None and np.abs(L).max() > 0 and np.abs(ref).max() > 0:
            out["stability"] = span_similarity(L, ref)
        self.last = out
        flat = flat_items(out, self.info.symmetry)
        if step is not None and (not self.trend.at or step > self.trend.at[-1]):
            self._record(step, L, out)
        if step is not None:
            flat["converged"] = float(self.passed)
        return flat

    def _reference(self, step: int | None) -> np.ndarray | None:
        """The generators of the latest point at least one window before ``step`` (for ``stability``)."""
        if step is None:
            return None
        older = [L for at, L in self.kept if at <= step - self.trend.window]
        return older[-1] if older else None

    def _record(self, step: int, L: np.ndarray, out: dict) -> None:
        t = self.trend
        t.values.append(primary_score(out, self.info.symmetry)[1])
        t.at.append(step)
        self.kept.append((step, L.copy()))
        # beyond the latest point at or before one window back, neither the test nor stability looks
        while len(self.kept) > 1 and self.kept[1][0] <= step - t.window:
            self.kept.pop(0)
        self.passed = verdict_converged(out, self.info.symmetry, t)
        if not self.passed:
            self.converged_at = None
        elif self.converged_at is None:
            self.converged_at = step

    def rewind(self, step: int) -> None:
        """Forget the points after ``step`` (a fault recovery went back there; they will be run again)."""
        keep = sum(a <= step for a in self.trend.at)
        del self.trend.values[keep:], self.trend.at[keep:]
        self.kept = [(a, L) for a, L in self.kept if a <= step]
        if self.converged_at is not None and self.converged_at > step:
            self.converged_at = None
        self.passed = False  # until the next point is judged

    def state_dict(self) -> dict:
        """What a checkpoint keeps, so that a resumed run judges the same trend (plain lists and tensors)."""
        t = self.trend
        return {
            "values": list(t.values),
            "at": list(t.at),
            "kept_at": [a for a, _ in self.kept],
            "kept": [torch.from_numpy(L) for _, L in self.kept],
            "converged_at": self.converged_at,
        }

    def load_state_dict(self, s: dict) -> None:
        self.trend.values, self.trend.at = list(s["values"]), list(s["at"])
        self.kept = [(a, L.numpy()) for a, L in zip(s["kept_at"], s["kept"], strict=True)]
        self.converged_at = s["converged_at"]

    def verdict(self, L: np.ndarray, step: int, context: dict) -> Verdict:
        """The verdict of the final generators L at ``step`` (a scoring point of its own unless one was just
        made there); context as for :func:`liegan.verdict.make_verdict` (the preset's sample count and the
        step since which the test has passed are filled in here)."""
        L = np.asarray(L, dtype=np.float64)
        self(L, step)  # the scores of exactly these generators
        spec = REGISTRY.get(self.info.name)
        default_n = spec.presets.get("default", {}).get("data", {}).get("n_samples") if spec else None
        return make_verdict(
            self.last,
            self.info.symmetry,
            L,
            list(self.info.feature_names),
            best_reference(L, self.mask),
            self.trend,
            {"default_samples": default_n, "converged_at": self.converged_at} | context,
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
