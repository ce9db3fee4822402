"""The whole analysis of one algebra: ``analysis.json``, ``report.md`` and PNG figures next to the input.

``liegan analyze RUN_OR_FILE`` and ``python -m liegan.analysis.report FILE`` both call
:func:`write_report`.  Everything is computed from the exported algebra alone (no data, no checkpoint).
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from liegan.algebra import Algebra, load_algebra
from liegan.analysis.diagnostics import Diagnostics, diagnose
from liegan.discrete import MAX_ORDER, ORDER_TOL, DiscreteResult, discrete_analysis, is_integer_run
from liegan.io import InputError, atomic_path, jsonable, write_text_atomic
from liegan.metric import MetricResult, calibrating, solve_metric
from liegan.symmetry import Symmetry, best_reference, score
from liegan.verdict import Trend, make_verdict

FIGURES = {
    "generators": "generators.png",
    "canonical": "canonical.png",
    "metric": "metric.png",
    "spectrum": "spectrum.png",
}


def known_symmetry(algebra: Algebra) -> Symmetry | None:
    """The symmetry the run was scored against (algebra.json's ``symmetry``), or None."""
    if not algebra.symmetry:
        return None
    try:
        return Symmetry.from_dict(algebra.symmetry)
    except ValueError as e:
        raise InputError(f"algebra metadata 'symmetry': {e}") from None


def analyze(
    algebra: Algebra, max_order: int = MAX_ORDER, order_tol: float = ORDER_TOL, validation: list[dict] | None = None
) -> tuple[dict, Diagnostics, MetricResult, list[DiscreteResult]]:
    """Run every analysis; return the analysis.json content and the underlying result objects.

    Scores against the known symmetry come from :func:`liegan.symmetry.score` and the verdict from
    :func:`liegan.verdict.make_verdict` with the training's stored trend, as in training, so ``liegan
    train`` and ``liegan analyze`` agree.  ``validation``: the independent check's entries
    (:func:`liegan.analysis.validation.validate`), stored and summarised when given."""
    L, mask, names = algebra.generators, algebra.mask, list(algebra.feature_names)
    n = algebra.n_dim
    sym = known_symmetry(algebra)
    diag = diagnose(L, mask)
    met = solve_metric(L, mask=mask)
    scores = score(L, sym, mask, names, max_order, order_tol)
    stored = algebra.verdict or {}
    verdict = make_verdict(
        scores,
        sym,
        L,
        names,
        best_reference(L, mask),
        Trend.stored(stored),
        stored.get("context") or {"epochs": algebra.metrics.get("epochs")},
    )
    if validation:
        verdict.lines.append(validation_line(validation))
        verdict.summary = " ".join(verdict.lines)
    b = diag.best
    out: dict[str, Any] = {
        "verdict": verdict.as_dict(),
        "dataset": algebra.dataset,
        "n_dim": n,
        "n_channels": algebra.n_channels,
        "feature_names": names,
        "coefficients": algebra.coefficients,
        "symmetry": None if sym is None else sym.name,
        "scores": scores,
        "best_match": {"name": b.name, "similarity": b.similarity, "chance": b.chance, "score": b.score},
        "references": [
            {
                "name": m.name,
                "dim": m.dim,
                "similarity": m.similarity,
                "chance": m.chance,
                "score": m.score,
                "shares": dict(zip(m.names, m.shares.tolist(), strict=True)),
            }
            for m in diag.references
        ],
        "noise_level": diag.noise,
        "closure_residual": diag.closure_residual,
        "structure_constants": diag.structure_constants,
        "killing_form": diag.killing,
        "killing_signature": list(diag.killing_signature),
        "canonical_basis": {"names": diag.canonical_names, "generators": diag.canonical},
        "metric_accepted": met.accepted,
        "metric": met.metric,  # None unless exactly one metric was accepted
        "metric_solve": met.solve,  # 'conformal': invariant only up to scale (e.g. a dilation channel)
        "metric_null_dim": met.null_dim,
        "metric_null_space": met.null_space,
        "metric_family": scores.get("metric", {}).get("family"),
        "metric_chance": met.chance,
        "metric_calibration_draws": met.draws,  # the chance is resolved to 1 / (draws + 1)
        "metric_singular_values": met.singular_values,
        "metric_gap": met.gap,
        "metric_residual": met.noise,
        "metric_tolerance": met.tolerance,
        "metric_signature": None if met.signature is None else list(met.signature),
        "metric_residuals": met.residuals,
        "metric_message": met.message,
    }
    if sym is not None and sym.metric is not None:
        out[f"metric_cosine_{sym.metric_name or 'truth'}"] = scores.get("metric", {}).get("cosine")
    disc: list[DiscreteResult] = []
    if is_integer_run(algebra.coefficients):
        axis = None if sym is None or sym.discrete is None else sym.discrete.axis
        disc = discrete_analysis(L, names, max_order, order_tol, axis)
        out["discrete_order"] = disc[0].order if len(disc) == 1 else [d.order for d in disc]
        out["discrete"] = [d.as_dict() for d in disc]
    if validation is not None:
        out["validation"] = validation
    return jsonable(out), diag, met, disc


def validation_line(entries: list[dict]) -> str:
    """The independent check in one sentence for the verdict."""
    parts = [f"{e['name']} AUC {e['auc']:.3f} +- {e['auc_se']:.3f}" for e in entries]
    line = (
        "Independent check (a gradient-boosting classifier telling held-out data from their transforms; "
        "AUC 0.5 = indistinguishable): " + ", ".join(parts) + "."
    )
    by = {e["name"]: e for e in entries}
    known = [
        e["declared_invariant_change"]
        for e in entries
        if e["kind"] == "known" and e.get("declared_invariant_change") is not None
    ]
    if "dilation D" in by and by["dilation D"].get("declared_invariant_change") is not None and known:
        dil = by["dilation D"]["declared_invariant_change"]
        line += (
            f" The pure dilation changes the known metric's invariants by {dil:.1%} per sample (the known "
            f"generators by at most {max(known):.1g}): it is not a symmetry, even where"
            " the distribution barely shows it."
        )
    return line


# ------------------------------------------------------------------------------------------------ figures


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")  # nothing clipped, whatever the title
    _pyplot().close(fig)


def _heatmaps(mats: np.ndarray, titles: list[str], labels: list[str], path: Path, suptitle: str) -> None:
    plt = _pyplot()
    k = max(len(mats), 1)
    cols = min(k, 4)
    rows = (k + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows + 0.6), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, M, t in zip(axes.ravel(), mats, titles, strict=False):
        v = float(np.abs(M).max()) or 1.0
        im = ax.imshow(M, cmap="RdBu_r", vmin=-v, vmax=v)
        ax.set_title(t, fontsize=9)
        ax.axis("on")
        ticks = range(M.shape[0])
        ax.set_xticks(ticks, labels, fontsize=6, rotation=90)
        ax.set_yticks(ticks, labels, fontsize=6)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    if not len(mats):
        axes[0, 0].text(0.5, 0.5, "(none)", ha="center", va="center")
    fig.tight_layout()
    fig.suptitle(textwrap.fill(suptitle, width=int(45 * cols)), fontsize=10, y=1.0, va="bottom")
    _save(fig, path)


def _spectrum(met: MetricResult, path: Path) -> None:
    plt = _pyplot()
    s = np.maximum(met.singular_values, 1e-17)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    colors = ["tab:red" if i < met.null_dim else "tab:blue" for i in range(len(s))]
    ax.bar(range(len(s)), s, color=colors)
    ax.axhline(met.tolerance, color="k", ls="--", lw=1, label=f"tol {met.tolerance:g}")
    ax.set_yscale("log")
    ax.set_xlabel("direction (ascending)")
    ax.set_ylabel("singular value / largest")
    ax.set_title(
        textwrap.fill(
            f"invariant-metric spectrum ({met.solve} solve): accepted {met.null_dim}, "
            f"gap {met.gap:.3g}, chance {met.chance:.2g}",
            60,
        ),
        fontsize=9,
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


def _validation(entries: list[dict], path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.0 + 0.7 * len(entries), 3.4))
    x = np.arange(len(entries))
    auc = [e["auc"] for e in entries]
    ax.bar(
        x,
        np.array(auc) - 0.5,
        bottom=0.5,
        yerr=[2 * e["auc_se"] for e in entries],
        capsize=3,
        color=["tab:gray" if e["name"] == "group" else "tab:blue" for e in entries],
    )
    ax.axhline(0.5, color="k", lw=1, ls="--", label="indistinguishable (0.5)")
    ax.set_xticks(x, [e["name"] for e in entries], rotation=45, ha="right", fontsize=8)
    ax.set_ylim(0.4, max(1.0, max(auc) + 0.05))
    ax.set_ylabel("held-out AUC (+- 2 s.e.)")
    ax.set_title("x vs exp(t L) x: can a classifier tell them apart?", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    _save(fig, path)


def write_figures(
    algebra: Algebra, diag: Diagnostics, met: MetricResult, folder: Path, validation: list[dict] | None = None
) -> dict[str, Path]:
    names = algebra.feature_names
    paths = {k: folder / v for k, v in FIGURES.items()}
    _heatmaps(
        algebra.generators,
        [f"L_{i}" for i in range(algebra.n_channels)],
        names,
        paths["generators"],
        f"learned generators ({algebra.dataset})",
    )
    _heatmaps(
        diag.canonical,
        diag.canonical_names,
        names,
        paths["canonical"],
        f"canonical basis aligned with {diag.best.name}",
    )
    what = (
        "none accepted"
        if not met.accepted
        else "one metric"
        if met.null_dim == 1
        else f"a {met.null_dim}-dimensional family"
    )
    _heatmaps(
        met.null_space,
        [f"J_{i}" if met.null_dim > 1 else "J" for i in range(met.null_dim)],
        names,
        paths["metric"],
        f"invariant metric ({met.solve} solve): {what}",
    )
    _spectrum(met, paths["spectrum"])
    if validation:
        paths["validation"] = folder / "validation.png"
        _validation(validation, paths["validation"])
    return paths


# ------------------------------------------------------------------------------------------------- report


def _matrix_md(M: np.ndarray, rows: list[str] | None = None, cols: list[str] | None = None, digits: int = 3) -> str:
    """A markdown table of M with its row and column names (feature names for metrics and generators)."""
    M = np.asarray(M, dtype=np.float64)
    rows = rows or [str(i) for i in range(M.shape[0])]
    cols = cols or rows
    head = "| | " + " | ".join(cols) + " |\n|" + "---|" * (len(cols) + 1)
    body = [
        "| **"
        + r
        + "** | "
        + " | ".join(f"{v:.{digits}g}" if abs(v) >= 10 ** -(digits + 3) else "0" for v in row)
        + " |"
        for r, row in zip(rows, M, strict=True)
    ]
    return "\n".join([head, *body])


def _num(v) -> str:
    return "-" if v is None else f"{v:.3g}"


def summary(res: dict) -> list[str]:
    """A few lines for the terminal: the verdict first."""
    b = res["best_match"]
    lines = ["verdict:"] + [f"  {line}" for line in res["verdict"]["lines"]]
    lines += [
        f"best match: {b['name']} (similarity {b['similarity']:.4f}, random span {b['chance']:.2f})",
        f"closure residual: {res['closure_residual']:.3g}; Killing signature (+,-,0): "
        f"{tuple(res['killing_signature'])} (zero below the noise level {res['noise_level']:.2g})",
        f"invariant metric: {res['metric_message']}",
    ]
    if res["metric"] is not None:
        lines.append(f"metric signature (+,-): {tuple(res['metric_signature'])}")
    for key in [k for k in res if k.startswith("metric_cosine_")]:
        if res[key] is not None:
            lines.append(f"|cos| with the declared metric ({key.removeprefix('metric_cosine_')}): {res[key]:.4f}")
    for d in res.get("discrete", []):
        lines.append(f"discrete (channel {d['channel']}): {d['message']}")
    for e in res.get("validation", []):
        lines.append(f"independent check {e['name']}: {e['message']}")
    return lines


def report_markdown(res: dict, src: str, figures: dict[str, Path] | None) -> str:
    names = res["feature_names"]
    ch = [f"L_{i}" for i in range(res["n_channels"])]
    md = (
        [
            f"# LieGAN analysis of `{src}`",
            "",
            f"dataset `{res['dataset']}`, {res['n_channels']} generator(s) on R^{res['n_dim']} "
            f"(features {', '.join(names)}), coefficients {res['coefficients'] or 'unknown'}; known symmetry: "
            f"{res['symmetry'] or 'none declared'}.",
            "",
            "## Verdict",
            "",
        ]
        + [f"- {line}" for line in res["verdict"]["lines"]]
        + [""]
    )
    md += ["## Summary", ""] + [f"- {line}" for line in summary(res)[len(res["verdict"]["lines"]) + 1 :]] + [""]
    md += [
        "## Reference algebras",
        "",
        "Similarity: mean cos^2 of the principal angles between the spans (1 when the smaller lies in the "
        "larger); chance: what a random span of the learned rank in the search space scores on average. "
        "Score: sum cos^2 / max(dims), 1 only for equal spans; it ranks the references.",
        "",
        "| reference | dim | similarity | chance | score |",
        "|---|---|---|---|---|",
    ]
    md += [
        f"| {r['name']} | {r['dim']} | {r['similarity']:.4f} | {r['chance']:.2f} | {r['score']:.4f} |"
        for r in res["references"]
    ]
    best = res["references"][0]
    md += [
        "",
        f"Share of each {best['name']} generator inside the learned span: "
        + ", ".join(f"{k} {v:.3f}" for k, v in best["shares"].items()),
        "",
    ]
    md += [
        "## Closure and structure constants",
        "",
        f"Closure residual (worst ||[L_a, L_b] - sum_k f_abk L_k|| / (||L_a|| ||L_b||)): "
        f"{res['closure_residual']:.3g}.",
        "",
        f"Killing form K_ab = tr(ad_a ad_b), signature (+, -, 0) = {tuple(res['killing_signature'])} "
        f"(eigenvalues of the unit-norm channels' form below 2 x the noise level {res['noise_level']:.2g} count "
        "as zero):",
        "",
        _matrix_md(res["killing_form"], ch),
        "",
    ]
    cb = res["canonical_basis"]
    md += [
        "## Canonical basis",
        "",
        f"The learned span expressed through the best reference ({best['name']}): each reference "
        "generator projected onto the learned span.",
        "",
    ]
    for name, G in zip(cb["names"], cb["generators"], strict=True):
        md += [f"**{name}**", "", _matrix_md(G, names), ""]
    md += [
        "## Invariant metric",
        "",
        "Symmetric J with L_i^T J + J L_i = 0 for every generator, accepted only when well determined "
        f"(residual <= {res['metric_tolerance']}, a clear gap) and beyond chance (random generators of the "
        "same number, size and mask rarely look as invariant).",
        "",
        f"Result: {res['metric_message']}.",
        "",
        "Smallest singular values: " + ", ".join(f"{s:.3g}" for s in res["metric_singular_values"][:6]) + ".",
        "",
    ]
    if res["metric"] is not None:
        md += [
            "J (canonical: ||J||_F = sqrt(n), first non-negligible diagonal entry positive):",
            "",
            _matrix_md(res["metric"], names, digits=4),
            "",
            f"Signature (+, -): {tuple(res['metric_signature'])}; residual per generator: "
            + ", ".join(f"{r:.3g}" for r in res["metric_residuals"])
            + ".",
        ]
        for key in [k for k in res if k.startswith("metric_cosine_") and res[k] is not None]:
            md.append(f"|cos| with the declared metric ({key.removeprefix('metric_cosine_')}): {res[key]:.4f}.")
        md.append("")
    elif res["metric_null_dim"] > 1:
        md += [f"Not one metric: {res['metric_family']}. A basis of the family:", ""]
        for J in res["metric_null_space"]:
            md += [_matrix_md(J, names), ""]
    if "discrete" in res:
        md += [
            "## Discrete symmetry",
            "",
            "Integer coefficients: exp(L) generates the group; its order is the smallest k with "
            "||exp(kL) - I||_F / sqrt(n) below the tolerance.",
            "",
        ]
        md += [f"- channel {d['channel']}: {d['message']}" for d in res["discrete"]] + [""]
    if res.get("validation"):
        md += [
            "## Independent check",
            "",
            "For each generator (and the whole group) a gradient-boosting classifier, not the discriminator, "
            "is trained to tell held-out samples x from other held-out samples moved by exp(t L) at the "
            "trained coefficient spread; its AUC on a third part (0.5: indistinguishable, with its standard "
            "error) says how exact the symmetry is on these data.",
            "",
            "Invariant change: the per-sample relative change of the invariants x_a^T J x_b of the "
            "components (sum over the not negligible ones of the median |change|, over the sum of their "
            "median sizes) under the transformation, for the accepted metric (counted only above its own "
            "error) and for the known symmetry's metric.",
            "",
            "| transformation | what it is | AUC | s.e. | invariant change (learned J / known J) | verdict |",
            "|---|---|---|---|---|---|",
        ]
        md += [
            f"| {e['name']} | {e['description']} | {e['auc']:.3f} | {e['auc_se']:.3f} | "
            f"{_num(e.get('invariant_change'))} / {_num(e.get('declared_invariant_change'))} | {e['message']} |"
            for e in res["validation"]
        ] + [""]
    if figures:
        md += ["## Figures", ""] + [f"![{k}]({p.name})" for k, p in figures.items()] + [""]
    return "\n".join(md)


def output_folder(path: str | Path) -> Path:
    """Where the report of ``path`` goes: the run folder itself, or the folder holding the file."""
    path = Path(path)
    return path if path.is_dir() else path.parent


def write_report(
    path: str | Path,
    out: str | Path | None = None,
    figures: bool = True,
    max_order: int = MAX_ORDER,
    order_tol: float = ORDER_TOL,
    validation: bool = False,
    max_samples: int = 40_000,
) -> dict:
    """Analyse the algebra at ``path`` and write analysis.json, report.md and (optionally) the figures into
    ``out`` (default: next to the input).  ``validation``: run the independent check on the run's data
    (skipped, with the reason in ``validation_skipped``, when the data cannot be rebuilt).  Returns the
    analysis.json content plus ``paths``."""
    algebra = load_algebra(path)
    if not (np.linalg.norm(algebra.generators, axis=(1, 2)) > 0).any():  # as the analyses drop zero channels
        raise InputError(
            f"{path}: every generator is zero, or so small that its norm underflows (an untrained or collapsed "
            "run): nothing to analyse"
        )
    folder = Path(out) if out is not None else output_folder(path)
    folder.mkdir(parents=True, exist_ok=True)
    checks, skipped = None, None
    if validation:
        checks, skipped = _validation_entries(algebra, Path(path), max_samples)
    res, diag, met, _ = analyze(algebra, max_order, order_tol, checks)
    if skipped:
        res["validation_skipped"] = skipped
    figs = write_figures(algebra, diag, met, folder, checks) if figures else None
    write_text_atomic(folder / "analysis.json", json.dumps(res, indent=2) + "\n")
    write_text_atomic(folder / "report.md", report_markdown(res, str(path), figs))
    paths = {"analysis": folder / "analysis.json", "report": folder / "report.md", **(figs or {})}
    return {**res, "paths": {k: str(v) for k, v in paths.items()}}


def _validation_entries(algebra: Algebra, src: Path, max_samples: int) -> tuple[list[dict] | None, str | None]:
    from liegan.analysis.validation import validate_run

    met = solve_metric(algebra.generators, mask=algebra.mask)
    try:
        return validate_run(
            algebra,
            src,
            known_symmetry(algebra),
            met.metric,
            max_samples,
            metric_noise=met.noise,
            dilation=met.solve == "conformal",
        ), None
    except InputError as e:  # no data for this algebra: the rest of the analysis stands on its own
        return None, f"independent check skipped: {e}"


def add_arguments(p) -> None:
    p.add_argument("--out", default=None, help="folder for the outputs (default: next to the input)")
    p.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    v = p.add_mutually_exclusive_group()
    v.add_argument(
        "--validate",
        action="store_true",
        help="run the independent check (a classifier two-sample test of every generator on the "
        "run's data, rebuilt from algebra.json) also for an algebra file; for a run folder it "
        "runs by default",
    )
    v.add_argument("--no-validation", action="store_true", help="skip the independent check")
    p.add_argument(
        "--validation-samples",
        type=int,
        default=40_000,
        help="samples for the independent check (half moved, half as they are)",
    )
    p.add_argument(
        "--metric-draws",
        type=int,
        default=None,
        help="random generator sets the invariant metric's chance is calibrated with, for n >= 9 (default: "
        "500, fewer above n ~ 38 where each costs ~(n^2/2)^3; the chance is resolved to 1/(draws + 1))",
    )
    p.add_argument("--max-order", type=int, default=MAX_ORDER, help="largest discrete order searched")
    p.add_argument("--order-tol", type=float, default=ORDER_TOL, help="||exp(kL) - I||_F / sqrt(n) threshold")


MAX_METRIC_DRAWS = 100_000


def _progress(total: int, desc: str):
    """A progress bar on stderr for a long calibration, shown only once it has run for two seconds."""
    from tqdm import tqdm

    tty = sys.stderr.isatty()
    return tqdm(total=total, desc=desc, unit="set", file=sys.stderr, delay=2.0, mininterval=0.5 if tty else 30.0)


def run(args) -> str:
    if args.validation_samples < 20:
        raise InputError(f"--validation-samples {args.validation_samples}: need at least 20")
    if args.metric_draws is not None and not 1 <= args.metric_draws <= MAX_METRIC_DRAWS:
        raise InputError(f"--metric-draws {args.metric_draws}: allowed 1 to {MAX_METRIC_DRAWS}")
    # a run folder has its data to rebuild; an algebra file alone is analysed without (and without torch)
    validate = args.validate or (Path(args.file).is_dir() and not args.no_validation)
    with calibrating(args.metric_draws, _progress):
        res = write_report(
            args.file, args.out, not args.no_figures, args.max_order, args.order_tol, validate, args.validation_samples
        )
    lines = summary(res) + ([res["validation_skipped"]] if "validation_skipped" in res else [])
    return "\n".join(lines + [f"wrote {res['paths']['report']} and {res['paths']['analysis']}"])


def main(argv: list[str] | None = None) -> int:
    from liegan.analysis._script import run_script

    return run_script(
        argv, "Write report.md, analysis.json and figures for an algebra", lambda _a, args: run(args), add_arguments
    )


if __name__ == "__main__":
    raise SystemExit(main())
