"""The whole analysis of one algebra: ``analysis.json``, ``report.md`` and PNG figures next to the input.

``liegan analyze RUN_OR_FILE`` and ``python -m liegan.analysis.report FILE`` both call
:func:`write_report`.  Everything is computed from the exported algebra alone (no data, no checkpoint).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from liegan.algebra import Algebra, load_algebra
from liegan.algebras import MINKOWSKI
from liegan.analysis.diagnostics import Diagnostics, diagnose
from liegan.analysis.discrete import MAX_ORDER, ORDER_TOL, DiscreteResult, discrete_analysis, is_integer_run
from liegan.io import atomic_path, jsonable, write_text_atomic
from liegan.metric import MetricResult, cosine, solve_metric

FIGURES = {"generators": "generators.png", "canonical": "canonical.png", "metric": "metric.png",
           "spectrum": "spectrum.png"}


def analyze(algebra: Algebra, metric_tol: float = 0.05, max_order: int = MAX_ORDER,
            order_tol: float = ORDER_TOL) -> tuple[dict, Diagnostics, MetricResult, list[DiscreteResult]]:
    """Run every analysis; return the analysis.json content and the underlying result objects."""
    L = algebra.generators
    n = algebra.n_dim
    diag = diagnose(L)
    met, solve = solve_metric(L, tol=metric_tol)
    b = diag.best
    out: dict[str, Any] = {
        "dataset": algebra.dataset,
        "n_dim": n,
        "n_channels": algebra.n_channels,
        "feature_names": list(algebra.feature_names),
        "coefficients": algebra.coefficients,
        "best_match": {"name": b.name, "similarity": b.similarity, "score": b.score},
        "references": [{"name": m.name, "dim": m.dim, "similarity": m.similarity, "score": m.score,
                        "shares": dict(zip(m.names, m.shares.tolist(), strict=True))}
                       for m in diag.references],
        "closure_residual": diag.closure_residual,
        "structure_constants": diag.structure_constants,
        "killing_form": diag.killing,
        "killing_signature": list(diag.killing_signature),
        "canonical_basis": {"names": diag.canonical_names, "generators": diag.canonical},
        "metric": met.metric,
        "metric_solve": solve,  # 'conformal': invariant only up to scale (e.g. a dilation channel)
        "metric_null_dim": met.null_dim,
        "metric_null_space": met.null_space,
        "metric_singular_values": met.singular_values,
        "metric_gap": met.gap,
        "metric_tolerance": met.tolerance,
        "metric_signature": None if met.signature is None else list(met.signature),
        "metric_residuals": met.residuals,
        "metric_message": met.message,
    }
    if n == 4:
        out["metric_cosine_minkowski"] = None if met.metric is None else cosine(met.metric, MINKOWSKI)
    disc: list[DiscreteResult] = []
    if is_integer_run(algebra.coefficients):
        disc = discrete_analysis(L, algebra.feature_names, max_order, order_tol)
        out["discrete_order"] = disc[0].order if len(disc) == 1 else [d.order for d in disc]
        out["discrete"] = [d.as_dict() for d in disc]
    return jsonable(out), diag, met, disc


# ------------------------------------------------------------------------------------------------ figures


def _heatmaps(mats: np.ndarray, titles: list[str], labels: list[str], path: Path, suptitle: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = max(len(mats), 1)
    cols = min(k, 4)
    rows = (k + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows + 0.4), squeeze=False)
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
    fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def _spectrum(met: MetricResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = np.maximum(met.singular_values, 1e-17)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    colors = ["tab:red" if i < met.null_dim else "tab:blue" for i in range(len(s))]
    ax.bar(range(len(s)), s, color=colors)
    ax.axhline(met.tolerance, color="k", ls="--", lw=1, label=f"tol {met.tolerance:g}")
    ax.set_yscale("log")
    ax.set_xlabel("direction (ascending)")
    ax.set_ylabel("singular value / largest")
    ax.set_title(f"invariant-metric spectrum: null dim {met.null_dim}, gap {met.gap:.3g}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def write_figures(algebra: Algebra, diag: Diagnostics, met: MetricResult, folder: Path) -> dict[str, Path]:
    names = algebra.feature_names
    paths = {k: folder / v for k, v in FIGURES.items()}
    _heatmaps(algebra.generators, [f"L_{i}" for i in range(algebra.n_channels)], names, paths["generators"],
              f"learned generators ({algebra.dataset})")
    _heatmaps(diag.canonical, diag.canonical_names, names, paths["canonical"],
              f"canonical basis aligned with {diag.best.name}")
    _heatmaps(met.null_space, [f"J_{i}" if met.null_dim > 1 else "J" for i in range(met.null_dim)], names,
              paths["metric"], f"invariant metric: {met.message}")
    _spectrum(met, paths["spectrum"])
    return paths


# ------------------------------------------------------------------------------------------------- report


def _matrix_md(M: np.ndarray, digits: int = 3) -> str:
    body = np.array2string(np.asarray(M), precision=digits, suppress_small=True, max_line_width=120)
    return f"```\n{body}\n```"


def summary(res: dict) -> list[str]:
    """A few lines for the terminal."""
    b = res["best_match"]
    lines = [f"best match: {b['name']} (similarity {b['similarity']:.4f})",
             f"closure residual: {res['closure_residual']:.3g}; Killing signature (+,-,0): "
             f"{tuple(res['killing_signature'])}",
             f"invariant metric: {res['metric_message']}"]
    if res["metric"] is not None:
        lines.append(f"metric signature (+,-): {tuple(res['metric_signature'])}")
    if res.get("metric_cosine_minkowski") is not None:
        lines.append(f"|cos| with Minkowski diag(1,-1,-1,-1): {res['metric_cosine_minkowski']:.4f}")
    for d in res.get("discrete", []):
        lines.append(f"discrete (channel {d['channel']}): {d['message']}")
    return lines


def report_markdown(res: dict, src: str, figures: dict[str, Path] | None) -> str:
    names = res["feature_names"]
    md = [f"# LieGAN analysis of `{src}`", "",
          f"dataset `{res['dataset']}`, {res['n_channels']} generator(s) on R^{res['n_dim']} "
          f"(features {', '.join(names)}), coefficients {res['coefficients'] or 'unknown'}.", "",
          "## Summary", ""] + [f"- {line}" for line in summary(res)] + [""]
    md += ["## Reference algebras", "",
           "Similarity: mean cos^2 of the principal angles between the spans (1 when the smaller lies in the "
           "larger). Score: sum cos^2 / max(dims), 1 only for equal spans; it ranks the references.", "",
           "| reference | dim | similarity | score |", "|---|---|---|---|"]
    md += [f"| {r['name']} | {r['dim']} | {r['similarity']:.4f} | {r['score']:.4f} |"
           for r in res["references"]]
    best = res["references"][0]
    md += ["", f"Share of each {best['name']} generator inside the learned span: "
           + ", ".join(f"{k} {v:.3f}" for k, v in best["shares"].items()), ""]
    md += ["## Closure and structure constants", "",
           f"Closure residual (worst ||[L_a, L_b] - sum_k f_abk L_k|| / (||L_a|| ||L_b||)): "
           f"{res['closure_residual']:.3g}.", "",
           f"Killing form K_ab = tr(ad_a ad_b), signature (+, -, 0) = {tuple(res['killing_signature'])}:", "",
           _matrix_md(res["killing_form"]), ""]
    cb = res["canonical_basis"]
    md += ["## Canonical basis", "",
           f"The learned span expressed through the best reference ({best['name']}): each reference "
           "generator projected onto the learned span.", ""]
    for name, G in zip(cb["names"], cb["generators"], strict=True):
        md += [f"**{name}**", "", _matrix_md(G), ""]
    md += ["## Invariant metric", "",
           "Symmetric J with L_i^T J + J L_i = 0 for every generator (singular values relative to the "
           f"largest; tolerance {res['metric_tolerance']}).", "", f"Result: {res['metric_message']}.", "",
           "Smallest singular values: "
           + ", ".join(f"{s:.3g}" for s in res["metric_singular_values"][:6]) + ".", ""]
    if res["metric"] is not None:
        md += ["J (canonical: ||J||_F = sqrt(n), first non-negligible diagonal entry positive):", "",
               _matrix_md(res["metric"], 4), "",
               f"Signature (+, -): {tuple(res['metric_signature'])}; residual per generator: "
               + ", ".join(f"{r:.3g}" for r in res["metric_residuals"]) + "."]
        if res.get("metric_cosine_minkowski") is not None:
            md.append(f"|cos| with diag(1, -1, -1, -1): {res['metric_cosine_minkowski']:.4f}.")
        if res["metric_null_dim"] > 1:
            md += ["", f"The null space is {res['metric_null_dim']}-dimensional: every combination of"]
            for J in res["metric_null_space"]:
                md += ["", _matrix_md(J)]
            md += ["", "is invariant, so the metric is not unique."]
        md.append("")
    if "discrete" in res:
        md += ["## Discrete symmetry", "",
               "Integer coefficients: exp(L) generates the group; its order is the smallest k with "
               "||exp(kL) - I||_F / sqrt(n) below the tolerance.", ""]
        for d in res["discrete"]:
            md.append(f"- channel {d['channel']}: {d['message']}")
        md.append("")
    if figures:
        md += ["## Figures", ""] + [f"![{k}]({p.name})" for k, p in figures.items()] + [""]
    return "\n".join(md)


def output_folder(path: str | Path) -> Path:
    """Where the report of ``path`` goes: the run folder itself, or the folder holding the file."""
    path = Path(path)
    return path if path.is_dir() else path.parent


def write_report(path: str | Path, out: str | Path | None = None, figures: bool = True,
                 metric_tol: float = 0.05, max_order: int = MAX_ORDER, order_tol: float = ORDER_TOL) -> dict:
    """Analyse the algebra at ``path`` and write analysis.json, report.md and (optionally) the figures into
    ``out`` (default: next to the input).  Returns the analysis.json content plus ``paths``."""
    algebra = load_algebra(path)
    folder = Path(out) if out is not None else output_folder(path)
    folder.mkdir(parents=True, exist_ok=True)
    res, diag, met, _ = analyze(algebra, metric_tol, max_order, order_tol)
    figs = write_figures(algebra, diag, met, folder) if figures else None
    write_text_atomic(folder / "analysis.json", json.dumps(res, indent=2) + "\n")
    write_text_atomic(folder / "report.md", report_markdown(res, str(path), figs))
    paths = {"analysis": folder / "analysis.json", "report": folder / "report.md", **(figs or {})}
    return {**res, "paths": {k: str(v) for k, v in paths.items()}}


def add_arguments(p) -> None:
    p.add_argument("--out", default=None, help="folder for the outputs (default: next to the input)")
    p.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    p.add_argument("--metric-tol", type=float, default=0.05,
                   help="a metric direction counts as invariant below this singular value / largest")
    p.add_argument("--max-order", type=int, default=MAX_ORDER, help="largest discrete order searched")
    p.add_argument("--order-tol", type=float, default=ORDER_TOL, help="||exp(kL) - I||_F / sqrt(n) threshold")


def run(args) -> str:
    res = write_report(args.file, args.out, not args.no_figures, args.metric_tol, args.max_order,
                       args.order_tol)
    return "\n".join(summary(res) + [f"wrote {res['paths']['report']} and {res['paths']['analysis']}"])


def main(argv: list[str] | None = None) -> int:
    from liegan.analysis._script import run_script

    return run_script(argv, "Write report.md, analysis.json and figures for an algebra",
                      lambda _a, args: run(args), add_arguments)


if __name__ == "__main__":
    raise SystemExit(main())
