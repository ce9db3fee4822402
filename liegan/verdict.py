"""The verdict: what a run found, in the dataset's own feature names, its scores against their chance
levels, whether it converged and, when it did not, what to try.

One function, :func:`make_verdict`, writes it for ``liegan train`` (at the end of training) and for
``liegan analyze`` (from the same generators and the training's stored trend), so the two agree.  Pure
logic over the scores of :func:`liegan.symmetry.score`; nothing here trains or reads files.

Convergence.  A primary score per kind of symmetry, judged at the end and over the trend's window:
  continuous known symmetry  span similarity >= 0.99 (and, when the symmetry declares a metric, one
                             accepted metric with |cos| >= 0.99), changing by <= 0.01 within the window
  discrete known symmetry    exp(L) of the declared order with chance <= 0.05 and axis error <= 0.1 rad,
                             the angle error changing by <= 0.01 rad within the window
  no known symmetry          the learned span steady: span similarity >= 0.999 with the generators one
                             window earlier (whether it is a symmetry only the independent check says)

The trend (:class:`Trend`) is the primary score at every scoring point of the training (the scalar
cadence, about 100 points a run), and the window is the last ``window_steps(total)`` steps: WINDOW_SHARE of
the planned run, at least WINDOW_MIN_STEPS (a run shorter than that is too short to call converged).
The score must stay within TREND_TOL over the whole window (largest minus smallest value, not only its two
ends), so that a passing moment inside a rise or a dip does not count; ``benchmarks/convergence_window.py``
measures the choice.  Algebra files written before the scalar cadence hold one value per epoch; those are
judged as they were then: the change between the first and the last of the last TREND_EPOCHS epochs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from liegan.affine import describe_affine
from liegan.algebras import AFF2_FEATURES

SPAN_OK = 0.99
METRIC_COS_OK = 0.99
TREND_TOL = 0.01
STEADY = 0.999
ORDER_CHANCE_OK = 0.05
AXIS_OK = 0.1  # rad
TREND_EPOCHS = 3  # a per-epoch trend (older files) is judged over its last 3 epochs
KEPT_EPOCHS = 5  # the per-epoch trend stored with such a verdict
WINDOW_SHARE = 0.2  # the window: this share of the planned steps ...
WINDOW_MIN_STEPS = 100  # ... but at least this many steps


def window_steps(total_steps: int) -> int:
    """The steps a trend at the scalar cadence is judged over, for a run of ``total_steps`` planned steps."""
    return max(WINDOW_MIN_STEPS, round(WINDOW_SHARE * total_steps))


@dataclass
class Trend:
    """The primary score over training, oldest first.  unit 'step': ``values`` at the scoring points whose
    steps are ``at``, judged over the last ``window`` steps; unit 'epoch' (algebra files written before the
    scalar cadence): one value per epoch, ``at`` and ``window`` unused."""

    values: list[float | None] = field(default_factory=list)
    at: list[int] = field(default_factory=list)
    unit: str = "epoch"
    window: int = 0

    @classmethod
    def stored(cls, verdict: dict) -> Trend:
        """The trend of a stored verdict (``Verdict.as_dict()``); a file without ``trend_unit`` predates the
        scalar cadence and holds one value per epoch."""
        unit = verdict.get("trend_unit") or "epoch"
        return cls(
            list(verdict.get("trend") or []),
            list(verdict.get("trend_at") or []),
            unit,
            int(verdict.get("trend_window") or 0),
        )

    def recent(self) -> tuple[list[float], int | None]:
        """The values the test judges, and how far back they reach (steps; None for a per-epoch trend or a
        trend that does not yet cover its window)."""
        if self.unit == "epoch":
            return [v for v in self.values[-TREND_EPOCHS:] if v is not None], None
        if not self.at:
            return [], None
        start = self.at[-1] - self.window
        vals = [v for a, v in zip(self.at, self.values, strict=True) if a >= start and v is not None]
        return vals, (self.window if self.at[0] <= start else None)

    def kept(self) -> Trend:
        """What a verdict stores: the last KEPT_EPOCHS epochs, or the points of the last window (from the
        latest point at or before its start, so that the stored trend still covers it)."""
        if self.unit == "epoch":
            return Trend(self.values[-KEPT_EPOCHS:], [], "epoch", 0)
        first = max((i for i, a in enumerate(self.at) if a <= self.at[-1] - self.window), default=0)
        return Trend(self.values[first:], self.at[first:], "step", self.window)


@dataclass
class Verdict:
    summary: str  # the lines below joined: what is printed and stored
    converged: bool
    lines: list[str]
    advice: list[str]
    primary: str  # the score convergence was judged by
    value: float | None
    trend: list[float] = field(default_factory=list)  # the primary score over the window, oldest first
    best_match: str | None = None
    metric: str = "none"  # 'one', 'family' or 'none'
    context: dict = field(default_factory=dict)  # epochs, steps, samples, run folder: what the advice used
    trend_unit: str = "step"  # 'step': ``trend`` at the scoring points ``trend_at``; 'epoch': one per epoch
    trend_at: list[int] = field(default_factory=list)
    trend_window: int = 0  # the steps the test looked back over

    def as_dict(self) -> dict:
        return asdict(self)


def primary_score(scores: dict, symmetry) -> tuple[str, float | None]:
    """The score convergence is judged by (see the module docstring), from :func:`liegan.symmetry.score`
    plus the trainer's ``stability`` (span similarity with the previous epoch's generators)."""
    if symmetry is not None and symmetry.discrete is not None:
        return "angle_error", _finite(scores.get("discrete", {}).get("angle_error"))
    if symmetry is not None:
        return "span_similarity", _finite(scores.get("span_similarity"))
    return "stability", _finite(scores.get("stability"))


def _finite(v) -> float | None:
    return float(v) if isinstance(v, (int, float)) and np.isfinite(v) else None


# ------------------------------------------------------------------------------------------ in words


def describe_channel(L: np.ndarray, names: list[str]) -> str:
    """One generator in feature names: a dilation, a rotation of feature planes, or a symmetric mixing; an
    affine generator of the image grid (features u, v, 1) by its parts (:func:`liegan.affine.describe_affine`)."""
    if list(names) == AFF2_FEATURES:
        return describe_affine(L)
    n = L.shape[-1]
    nrm = float(np.linalg.norm(L))
    if nrm == 0:
        return "zero"
    tr = abs(np.trace(L)) / (np.sqrt(n) * nrm)
    if tr > 0.5:
        return f"mostly a dilation (trace share {tr:.2f}: scales every feature)"
    A, S = (L - L.T) / 2, (L + L.T) / 2 - np.trace(L) / n * np.eye(n)
    kind, M = ("rotating", A) if np.linalg.norm(A) >= np.linalg.norm(S) else ("mixing (boost-like)", S)
    iu = np.triu_indices(n, 1)
    vals = np.abs(M[iu])
    top = np.flatnonzero(vals >= 0.3 * vals.max()) if vals.size and vals.max() > 0 else []
    pairs = [f"({names[iu[0][t]]}, {names[iu[1][t]]})" for t in top[np.argsort(-vals[top])][:6]]
    return f"{kind} {', '.join(pairs)}" + (" together" if len(pairs) > 1 else "")


def _found(scores: dict, symmetry, best: dict | None, L: np.ndarray, names: list[str]) -> list[str]:
    out = []
    if symmetry is not None and symmetry.discrete is not None:
        d, k = scores.get("discrete", {}), symmetry.discrete.order
        if d.get("order") == k:
            out.append(
                f"Found {symmetry.name} ({symmetry.description}): exp(L) is a rotation by "
                f"{np.degrees(d['angle']):.2f} deg, {d['angle_error']:.2g} rad from a multiple of 2pi/{k} "
                f"(chance {d['chance']:.2g}), axis {d.get('axis_error', float('nan')):.2g} rad from "
                f"{symmetry.discrete.axis_name or 'the declared axis'} (chance {d.get('axis_chance', 1):.2g})."
            )
        else:
            found = f"order {d['order']}" if d.get("order") else "no order <= 12"
            out.append(
                f"Not {symmetry.name}: exp(L) has {found} (angle error {d.get('angle_error', float('nan')):.2g}"
                f" rad from a multiple of 2pi/{k}, chance {d.get('chance', 1):.2g})."
            )
        return out
    if symmetry is not None:
        out.append(
            f"Learned span vs {symmetry.name} ({symmetry.description}): span similarity "
            f"{scores['span_similarity']:.4f} (a random span of this size: {scores['span_chance']:.2f})."
        )
        shares = scores.get("shares")
        if shares:
            weak = min(shares, key=shares.get)
            out.append(
                f"Every {symmetry.name} generator inside the learned span: lowest share {weak} {shares[weak]:.3f}."
            )
    elif best is not None:
        out.append(
            f"No known symmetry declared; closest reference: {best['name']} (similarity "
            f"{best['similarity']:.4f}, a random span of this size: {best['chance']:.2f})."
        )
    if symmetry is None or len(L) > symmetry.dim or len(L) == 1:
        desc = [f"L_{i}: {describe_channel(M, names)}" for i, M in enumerate(L)]
        out.append("Channels: " + "; ".join(desc) + ".")
    return out


def _metric_line(m: dict | None, symmetry) -> tuple[str, str]:
    if not m:
        return "none", "Invariant metric: not solved (zero generators)."
    if not m["accepted"]:
        return "none", f"Invariant metric: none beyond chance ({m['message']})."
    if m["null_dim"] > 1:
        return "family", f"Invariant forms: {m.get('family', m['message'])} (chance {m['chance']:.2g})."
    how = "up to scale (conformal solve)" if m["solve"] == "conformal" else "strictly invariant"
    line = f"Invariant metric: one, {how}, signature {tuple(m['signature'])}, chance {m['chance']:.2g}"
    if "cosine" in m:
        line += f", |cos| {m['cosine']:.4f} with {m['compared_with']}"
    line += "."
    shares = m.get("trace_shares") or []
    dil = [i for i, s in enumerate(shares) if s > 0.5]
    if dil:
        line += (
            f" Channel(s) {', '.join(map(str, dil))} scale it instead of preserving it (dilation-like): "
            "not symmetries of a metric; the independent check of `liegan analyze` tests them on the data."
        )
    return "one", line


def target_problems(scores: dict, symmetry, value: float | None, recent: list[float] = ()) -> list[str]:
    """What keeps one set of generators from the convergence targets of the module docstring, the trend
    aside; [] when every target is met.  value: the primary score (:func:`primary_score`; for
    ``stability`` the latest of ``recent``, the stability values the trend's window holds)."""
    name = primary_score(scores, symmetry)[0]
    problems = []
    if value is None:
        problems.append(f"no {name} score")
    elif name == "span_similarity":
        if value < SPAN_OK:
            problems.append(f"span similarity {value:.4f} < {SPAN_OK}")
        m = scores.get("metric") or {}
        if symmetry.metric is not None and not (m.get("accepted") and m.get("cosine", 0) >= METRIC_COS_OK):
            got = f"|cos| {m['cosine']:.4f}" if "cosine" in m else "no single metric accepted"
            problems.append(f"{symmetry.metric_name or 'declared'} metric not recovered ({got})")
    elif name == "angle_error":
        d = scores.get("discrete", {})
        if d.get("order") != symmetry.discrete.order or d.get("chance", 1) > ORDER_CHANCE_OK:
            problems.append(f"not of order {symmetry.discrete.order} beyond chance")
        if d.get("axis_error", 0) > AXIS_OK:
            problems.append(f"axis {d['axis_error']:.2g} rad off")
    elif name == "stability" and min(recent, default=0.0) < STEADY:
        problems.append(
            f"the learned span still moves (span similarity with earlier generators {min(recent, default=0):.4f}"
            f" < {STEADY})"
        )
    return problems


def _convergence(scores: dict, symmetry, trend: Trend, context: dict) -> tuple[bool, str, list[str], str, float]:
    name, value = primary_score(scores, symmetry)
    recent, reach = trend.recent()
    if name == "stability":  # needs earlier generators: training and analysis both read it from the trend
        value = recent[-1] if recent else None
    change = recent[-1] - recent[0] if len(recent) > 1 else None
    if trend.unit == "epoch":  # an algebra file written before the scalar cadence: judged as it was then
        spread = abs(change) if change is not None else None
        ch = f"{change:+.4f} over the last {len(recent)} epochs" if change is not None else "no trend (one epoch)"
    else:
        spread = max(recent) - min(recent) if len(recent) > 1 else None
        ch = (
            f"range {spread:.4f} over the last {reach} steps ({len(recent)} points)"
            if reach is not None and spread is not None
            else f"a trend of {trend.at[-1] - trend.at[0] if trend.at else 0} steps"
        )
    problems = target_problems(scores, symmetry, value, recent)
    if name != "stability" and spread is not None and spread > TREND_TOL:
        problems.append(f"{name} still changing ({ch})")
    if not recent:
        problems.append("no training trend stored with this algebra (convergence cannot be judged)")
    elif trend.unit == "epoch" and change is None:
        problems.append("one epoch: too few to judge a trend")
    elif trend.unit == "step" and (reach is None or len(recent) < 2):
        problems.append(f"too short to judge a trend (the test needs {trend.window} steps of it)")
    ok = not problems
    text = f"Converged: {name} {value:.4g}, {ch}." if ok else f"Not converged: {'; '.join(problems)}."
    return ok, text, _advice(problems, change, name, context) if not ok else [], name, value


def converged(scores: dict, symmetry, trend: Trend | list[float]) -> bool:
    """The verdict's convergence test alone (what :func:`make_verdict` reports as converged); a plain list
    is a per-epoch trend."""
    return _convergence(scores, symmetry, _as_trend(trend), {})[0]


def _as_trend(trend: Trend | list[float] | None) -> Trend:
    return trend if isinstance(trend, Trend) else Trend(list(trend or []))


def _advice(problems: list[str], change: float | None, name: str, context: dict) -> list[str]:
    out = []
    epochs, run = context.get("epochs"), context.get("run_dir")
    rising = change is not None and ((change > 0) if name != "angle_error" else (change < 0))
    if epochs and (rising or any("still" in p for p in problems)):
        again = f"`liegan train --resume {run} --epochs {2 * epochs}`" if run else f"--epochs {2 * epochs}"
        out.append(f"train longer: {again}")
    n, default_n = context.get("n_samples"), context.get("default_samples")
    if n and default_n and n < default_n:
        out.append(f"use more data: this run had {n:,} samples, the preset expects {default_n:,}")
    steps = context.get("steps")
    if steps is not None and steps < 1000:
        out.append(f"only {steps} optimiser steps were run; the default presets need several hundred to a few thousand")
    out.append(
        "try another --seed; if it stalls at the same place, widen the search space (generator.channels, --mask)"
    )
    return out


def make_verdict(
    scores: dict,
    symmetry,
    L: np.ndarray,
    feature_names: list[str],
    best: dict | None = None,
    trend: Trend | list[float] | None = None,
    context: dict | None = None,
) -> Verdict:
    """The verdict of generators L (c, n, n) with their :func:`liegan.symmetry.score` ``scores``.

    best: the closest reference algebra {name, similarity, chance}; trend: the primary score over training
    (from training; analysis passes the stored one, :meth:`Trend.stored`; a plain list is one value per
    epoch); context: epochs, steps, n_samples, default_samples (the preset's), run_dir, for the advice;
    converged_at, the step since which the test passed at every scoring point of training; stopped_at and planned_steps
    when train.stop_when_converged ended the run there; given_basis, the algebra file of a subgroup-mode
    run, whose generators were given rather than found.
    """
    L = np.asarray(L, dtype=np.float64)
    context = context or {}
    trend = _as_trend(trend)
    lines = _found(scores, symmetry, best, L, feature_names)
    if context.get("given_basis"):
        lines.insert(
            0,
            f"Subgroup mode: the generators were read from {context['given_basis']} and kept fixed; only "
            "their coefficient distribution was learnt, so the scores below are the given basis's, not a "
            "discovery, and whether that distribution settled is not judged.",
        )
    kind, mline = _metric_line(scores.get("metric"), symmetry)
    lines.append(mline)
    ok, cline, advice, name, value = _convergence(scores, symmetry, trend, context)
    if trend.unit == "epoch" and trend.values:
        cline += " (Judged per epoch: this algebra file predates the trend at every scoring point.)"
    if ok and context.get("converged_at") is not None:
        cline += f" The test has passed at every scoring point since step {context['converged_at']}."
    lines.append(cline)
    if context.get("stopped_at") is not None:
        lines.append(
            f"Stopped early at step {context['stopped_at']} of {context.get('planned_steps', '?')} "
            "(train.stop_when_converged), where the test passed; the scores above are of those generators."
        )
    if advice:
        lines.append("What to try: " + "; ".join(advice) + ".")
    kept = trend.kept()
    return Verdict(
        " ".join(lines),
        ok,
        lines,
        advice,
        name,
        value,
        kept.values,
        best["name"] if best else None,
        kind,
        context,
        kept.unit,
        kept.at,
        kept.window,
    )
