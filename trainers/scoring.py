"""Scores of the current generators against a dataset's known symmetry, for logs and algebra.json.

Keys (present when the dataset declares what they need):
  similarity_to_truth      |Frobenius cosine| for one generator vs a one-generator truth, else span similarity
  <sym>_span_similarity    span similarity to the true algebra, <sym> a slug of its name (so13, so2, ...)
  share_<generator>        share of each true generator inside the learned span
  metric_cosine_<name>     |cos| of the solved invariant metric with the known one (e.g. minkowski)
  metric_signature         (positive, negative) eigenvalue counts of the solved metric
  metric_gap, metric_diagonal (normalised to J00 = 1)
"""

from __future__ import annotations

import re

import numpy as np

from liegan.datasets.base import DatasetInfo
from liegan.lie import frobenius_cosine, generator_shares, span_similarity
from liegan.metric import cosine, invariant_metric


def slug(name: str) -> str:
    """'so(1,3)' -> 'so13'."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def score(L: np.ndarray, info: DatasetInfo) -> dict:
    """Scores of the effective basis L (c, n, n) against ``info``; {} when nothing is known."""
    L = np.asarray(L, dtype=np.float64)
    out: dict = {}
    T = info.symmetry
    if T is not None:
        span = span_similarity(L, T)
        out["similarity_to_truth"] = abs(frobenius_cosine(L[0], T[0])) if len(L) == 1 and len(T) == 1 else span
        out[f"{slug(info.symmetry_name or 'truth')}_span_similarity"] = span
        names = info.symmetry_generator_names or [f"T{j}" for j in range(len(T))]
        if len(T) > 1:
            out.update({f"share_{nm}": float(s) for nm, s in zip(names, generator_shares(L, T), strict=True)})
    if info.invariant_metric is not None and np.abs(L).max() > 0:
        res = invariant_metric(L)
        J = res.null_space[0] if res.null_dim else res.candidates[0]  # best candidate even when not null
        out[f"metric_cosine_{info.metric_name}"] = cosine(J, info.invariant_metric)
        out["metric_signature"] = list(res.signature) if res.signature else None
        out["metric_gap"] = float(res.gap)
        d = np.diag(J)
        out["metric_diagonal"] = (d / d[0]).tolist() if abs(d[0]) > 1e-12 else d.tolist()
    return out


def scalar_items(scores: dict) -> dict[str, float]:
    """The scores that are single numbers (for TensorBoard scalars and progress bars)."""
    out = {k: float(v) for k, v in scores.items() if isinstance(v, (int, float)) and np.isfinite(v)}
    sig = scores.get("metric_signature")
    if sig:
        out["metric_signature_positive"], out["metric_signature_negative"] = float(sig[0]), float(sig[1])
    return out
