"""Scores of the current generators against a dataset's known symmetry, for logs and algebra.json.

Keys (present when the dataset declares what they need):
  similarity_to_truth      |Frobenius cosine| for one generator vs a one-generator truth, else span similarity
  <sym>_span_similarity    span similarity to the true algebra, <sym> a slug of its name (so13, so2, ...)
  share_<generator>        share of each true generator inside the learned span
  metric_cosine_<name>     |cos| of the solved invariant metric with the known one (e.g. minkowski)
  metric_signature         (positive, negative) eigenvalue counts of the reported metric (the solve's best
                           candidate, whose |cos| and diagonal are reported too)
  metric_gap, metric_diagonal (normalised to J00 = 1)
  metric_null_dim          how many singular values fall below the solver's tolerance (0.05 of the largest):
                           0 means the best candidate is reported but the solve did not accept it
  metric_min_singular_value  the smallest singular value relative to the largest (the accept test's input)
  metric_solve             'conformal': how the four metric_* keys above were solved (see below)
  metric_strict_cosine_<name>, metric_strict_signature, metric_strict_gap
                           the same from the strict solve L_i^T J + J L_i = 0 (signature None: no metric)
  max_trace_share          max over channels of |tr L_i| / (sqrt(n) ||L_i||): 1 = a pure dilation

The metric_* keys come from :func:`liegan.metric.invariant_metric` with ``conformal=True``: J invariant up
to scale, each unit-norm channel's trace part removed before the solve.  For traceless generators (any
learned so(p,q)) it is the strict solve.  Why: the paper's protocol searches 7 channels for the 6-dimensional
so(1,3), and on massless jet constituents the dilation preserves everything the boosts preserve (E^2 = p^2
per constituent), so the seventh channel tends to a dilation; the strict solve then finds no metric at all,
although the other six channels fix Minkowski's conformal class.  The strict figures are reported beside it.
"""

from __future__ import annotations

import re

import numpy as np

from liegan.datasets.base import DatasetInfo
from liegan.metric import canonical, cosine, invariant_metric, signature
from liegan.scores import frobenius_cosine, generator_shares, span_similarity


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
        out.update(metric_scores(L, info.invariant_metric, info.metric_name))
    return out


def metric_scores(L: np.ndarray, truth: np.ndarray, name: str) -> dict:
    """The metric_* keys of :func:`score` (conformal solve, strict solve beside it) for generators L."""
    L = np.asarray(L, dtype=np.float64)
    out: dict = {}
    nz = L[np.linalg.norm(L, axis=(1, 2)) > 0]
    n = L.shape[-1]
    out["max_trace_share"] = float(np.max(np.abs(np.trace(nz, axis1=1, axis2=2))
                                          / (np.sqrt(n) * np.linalg.norm(nz, axis=(1, 2)))))
    for prefix, conformal in (("metric_", True), ("metric_strict_", False)):
        try:
            res = invariant_metric(L, conformal=conformal)
        except ValueError:  # every channel a pure dilation: no conformal class either
            out[f"{prefix}signature"] = None
            continue
        # the best candidate even when no direction is below the tolerance, in canonical form (sign fixed:
        # a raw singular vector's sign is arbitrary and would flip the signature)
        J = res.null_space[0] if res.null_dim else canonical(res.candidates[0])
        out[f"{prefix}cosine_{name}"] = cosine(J, truth)
        out[f"{prefix}gap"] = float(res.gap)
        if conformal:
            d = np.diag(J)
            out.update(metric_solve="conformal", metric_signature=list(signature(J)), metric_null_dim=res.null_dim,
                       metric_min_singular_value=float(res.singular_values[0]),
                       metric_diagonal=(d / d[0]).tolist() if abs(d[0]) > 1e-12 else d.tolist())
        else:
            out[f"{prefix}signature"] = list(res.signature) if res.signature else None
    return out


def scalar_items(scores: dict) -> dict[str, float]:
    """The scores that are single numbers (for TensorBoard scalars and progress bars)."""
    out = {k: float(v) for k, v in scores.items() if isinstance(v, (int, float)) and np.isfinite(v)}
    sig = scores.get("metric_signature")
    if sig:
        out["metric_signature_positive"], out["metric_signature_negative"] = float(sig[0]), float(sig[1])
    return out
