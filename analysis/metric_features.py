"""Put a learned metric to use: top tagging from J-inner products of constituent four-momenta.

For each jet with leading constituents p_1..p_k (E, px, py, pz) the features are the inner products
<p_i, p_j>_J = p_i^T J p_j for i <= j (with J = Minkowski these are the constituent masses^2 and the pair
invariants m_ij^2 - m_i^2 - m_j^2 over 2) and <P, P>_J of the summed four-momentum P (the jet mass^2 for
Minkowski).  The same classifier is trained on the same jets with the learned metric, Minkowski
diag(1, -1, -1, -1) and the Euclidean identity; if the learned metric is the Lorentz metric, its features
should tag as well as Minkowski's and better than Euclidean ones, which mix mass with energy.

Run as ``python -m liegan.analysis.metric_features [ALGEBRA_FILE] --data-dir DIR`` (a folder holding
topquark/<split>.h5, e.g. from ``liegan data synth topquark --jets N --out DIR``) or ``--data-file F.h5``.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from liegan.algebras import MINKOWSKI
from liegan.cli import Parser
from liegan.io import InputError, write_text_atomic
from liegan.metric import cosine, solve_metric

EUCLIDEAN = np.eye(4)


def metric_features(p: np.ndarray, J: np.ndarray, total: bool = True) -> np.ndarray:
    """Features of jets p: (N, k, 4) under the metric J: (4, 4) -> (N, k(k+1)/2 [+ 1]).

    Columns: <p_i, p_j>_J for i <= j (row-major upper triangle), then <P, P>_J of P = sum_i p_i."""
    p = np.asarray(p, dtype=np.float64)
    J = np.asarray(J, dtype=np.float64)
    G = np.einsum("nia,ab,njb->nij", p, J, p)
    iu = np.triu_indices(p.shape[1])
    feats = [G[:, iu[0], iu[1]]]
    if total:
        P = p.sum(axis=1)
        feats.append(np.einsum("na,ab,nb->n", P, J, P)[:, None])
    return np.concatenate(feats, axis=1)


def _classifier(kind: str, seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import QuantileTransformer

    if kind == "gb":
        return HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, random_state=seed)
    if kind == "logistic":  # quantile-normalised features: inner products span orders of magnitude
        return make_pipeline(
            QuantileTransformer(n_quantiles=200, output_distribution="normal"), LogisticRegression(max_iter=2000)
        )
    raise InputError(f"unknown classifier {kind!r} (use 'gb' or 'logistic')")


def compare_metrics(
    p: np.ndarray,
    y: np.ndarray,
    metrics: dict[str, np.ndarray],
    classifier: str = "gb",
    test_fraction: float = 0.5,
    seed: int = 0,
    threads: int | None = 1,
) -> dict[str, dict]:
    """Train one classifier per metric on the same train/test split of jets p: (N, k, 4), labels y: (N,).

    threads: OpenMP/BLAS threads for the fit (1 by default: for a few thousand jets, more threads cost more
    in synchronisation than they save, badly so on a busy machine; None leaves the library default).
    Returns {metric name: {accuracy, auc, n_features}} on the held-out jets."""
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.model_selection import train_test_split
    from threadpoolctl import threadpool_limits

    y = np.asarray(y)
    if len(np.unique(y)) != 2:
        raise InputError(f"need jets of both classes, got labels {np.unique(y).tolist()}")
    idx_tr, idx_te = train_test_split(np.arange(len(y)), test_size=test_fraction, random_state=seed, stratify=y)
    out = {}
    for name, J in metrics.items():
        X = metric_features(p, J)
        with threadpool_limits(limits=threads):
            clf = _classifier(classifier, seed).fit(X[idx_tr], y[idx_tr])
            prob = clf.predict_proba(X[idx_te])[:, 1]
        out[name] = {
            "accuracy": float(accuracy_score(y[idx_te], prob > 0.5)),
            "auc": float(roc_auc_score(y[idx_te], prob)),
            "n_features": int(X.shape[1]),
        }
    return out


def learned_metric(path: str) -> tuple[np.ndarray, dict]:
    """The invariant metric of the algebra at ``path`` (canonical form) and a short description."""
    from liegan.algebra import load_algebra

    alg = load_algebra(path)
    if alg.n_dim != 4:
        raise InputError(f"{path}: the algebra acts on R^{alg.n_dim}; four-momenta need n = 4")
    res = solve_metric(alg.generators, mask=alg.mask)
    if res.metric is None:  # none accepted, or a family: no one metric to put to use
        raise InputError(f"{path}: {res.message}")
    return res.metric, {
        "metric": res.metric.tolist(),
        "solve": res.solve,
        "message": res.message,
        "gap": res.gap,
        "chance": res.chance,
        "signature": list(res.signature),
        "cosine_minkowski": cosine(res.metric, MINKOWSKI),
    }


def main(argv: list[str] | None = None) -> int:
    ap = Parser(
        description="Top tagging from J-inner products: learned vs Minkowski vs Euclidean metric on the same jets"
    )
    ap.add_argument(
        "file",
        metavar="ALGEBRA_FILE",
        nargs="?",
        default=None,
        help="run folder or exported algebra whose invariant metric is compared (optional)",
    )
    ap.add_argument("--data-dir", default=None, help="folder holding topquark/<split>.h5")
    ap.add_argument("--data-file", default=None, help="a top-tagging .h5 file (instead of --data-dir)")
    ap.add_argument("--split", default="test")
    ap.add_argument("--jets", type=int, default=20000, help="jets read from the file")
    ap.add_argument("--constituents", type=int, default=4, help="leading constituents per jet")
    ap.add_argument("--classifier", default="gb", choices=["gb", "logistic"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="threads for the classifier (0: library default)")
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    args = ap.parse_args(argv)
    try:
        from liegan.config import DataConfig
        from liegan.datasets import load_dataset

        metrics, info = {}, {}
        if args.file:
            metrics["learned"], info = learned_metric(args.file)
        metrics["minkowski"], metrics["euclidean"] = MINKOWSKI, EUCLIDEAN
        ds = load_dataset(
            DataConfig(
                dataset="topquark",
                data_dir=args.data_dir,
                data_file=args.data_file,
                split=args.split,
                n_samples=args.jets,
                constituents=args.constituents,
            )
        )
        t0 = time.perf_counter()
        res = compare_metrics(
            ds.x.numpy(), ds.y.numpy(), metrics, args.classifier, seed=args.seed, threads=args.threads or None
        )
        secs = time.perf_counter() - t0
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(
        f"{len(ds)} jets, {args.constituents} constituents, classifier {args.classifier} "
        f"(half train, half test; {secs:.1f} s)"
    )
    if info:
        print(f"learned metric: {info['message']}; |cos| with Minkowski {info['cosine_minkowski']:.4f}")
    for name, r in res.items():
        print(f"  {name:<10} accuracy {r['accuracy']:.4f}  AUC {r['auc']:.4f}  ({r['n_features']} features)")
    if args.out:
        write_text_atomic(
            args.out,
            json.dumps(
                {
                    "jets": len(ds),
                    "constituents": args.constituents,
                    "classifier": args.classifier,
                    "learned": info,
                    "results": res,
                },
                indent=2,
            )
            + "\n",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
