"""The independent check: can a classifier tell held-out data from the same data moved by a generator?

For each learned channel L_i, for the whole group, for each generator of the dataset's known symmetry (at
the learned channels' norm: how exact the true symmetry is on these data, e.g. boosts of jets cut in pT
and |eta|) and for a random generator of the same norm (the negative control: what a non-symmetry looks
like to this classifier), a classifier two-sample test: held-out samples are split in two halves A and B;
B is moved by g = exp(t L) with t drawn from the coefficient distribution the algebra was trained with
(y moved too when it is a vector; labels and scalars pass through); a gradient-boosting classifier (not the
discriminator) is trained on half of A and B' to tell them apart and scored on the other half.  Held-out
AUC 0.5 means indistinguishable; its standard error is Hanley and McNeil's.  For an accepted single
metric J, and for the known symmetry's metric, it also reports how much the invariants x_a^T J x_b move
under the transformation (per sample, relative): a boost keeps the pair mass of two four-momenta, a
dilation scales it, even where the distributions alone barely tell them apart.

``liegan analyze RUN`` rebuilds the data from the run (as ``liegan bridge`` does) and stores the entries in
analysis.json as ``validation``; :func:`validate` is the Python API.
"""

from __future__ import annotations

import numpy as np

from liegan.config import YKind
from liegan.discrete import expm
from liegan.verdict import describe_channel

INDISTINGUISHABLE_SE = 2.0  # within 2 standard errors of 0.5
APPROXIMATE_AUC = 0.6  # below: an approximate symmetry; above: the classifier finds it easily


def _auc_se(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley & McNeil (1982) standard error of an AUC from n_pos and n_neg test samples."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (n_pos * n_neg)
    return float(np.sqrt(max(var, 0.25 / (n_pos * n_neg))))


def two_sample_auc(a: np.ndarray, b: np.ndarray, seed: int = 0, threads: int | None = 1) -> tuple[float, float]:
    """Held-out AUC (and its standard error) of a gradient-boosting classifier telling rows of a: (N, f)
    from rows of b: (M, f); each trained on one half, scored on the other."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(seed)
    X = np.concatenate([a, b])
    y = np.concatenate([np.zeros(len(a)), np.ones(len(b))])
    idx = rng.permutation(len(X))
    tr, te = idx[: len(X) // 2], idx[len(X) // 2 :]
    with threadpool_limits(limits=threads):
        clf = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, random_state=seed)
        clf.fit(X[tr], y[tr])
        p = clf.predict_proba(X[te])[:, 1]
    auc = float(roc_auc_score(y[te], p))
    return auc, _auc_se(auc, int(y[te].sum()), int((1 - y[te]).sum()))


def sample_coefficients(coefficients: dict, size: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Draws from the coefficient distribution of algebra.json (normal sigma, uniform, integer; a learned
    normal by its covariance's mean scale)."""
    kind = (coefficients or {}).get("distribution", "normal")
    if kind == "uniform":
        return rng.uniform(coefficients["low"], coefficients["high"], size)
    if kind == "integer":
        return rng.integers(coefficients["low"], coefficients["high"] + 1, size).astype(np.float64)
    if "covariance" in coefficients:  # subgroup mode: one spread for every channel
        sigma = float(np.sqrt(np.mean(np.diag(np.asarray(coefficients["covariance"])))))
    else:
        sigma = float(coefficients.get("sigma", 1.0))
    return rng.normal(0.0, sigma, size)


def _features(x: np.ndarray, y: np.ndarray | None) -> np.ndarray:
    parts = [x.reshape(len(x), -1)]
    if y is not None:
        parts.append(y.reshape(len(y), -1).astype(np.float64))
    return np.concatenate(parts, axis=1)


def _invariant_change(J: np.ndarray, x: np.ndarray, gx: np.ndarray, floor: float = 1e-6) -> float | None:
    """The relative change sum_ab median |I_ab(gx) - I_ab(x)| / sum_ab median |I_ab(x)| of the invariants
    I_ab = x_a^T J x_b of the components that are not negligible: median |I| above ``floor`` times the
    median |x_a| |x_b| (the J-length of a massless four-momentum is zero up to the metric's own error, and
    its relative change would only measure that error).  None when every invariant is negligible."""
    iu = np.triu_indices(x.shape[1])
    before = np.einsum("nai,ij,nbj->nab", x, J, x)[:, iu[0], iu[1]]
    after = np.einsum("nai,ij,nbj->nab", gx, J, gx)[:, iu[0], iu[1]]
    r = np.linalg.norm(x, axis=-1)
    size = np.median((r[:, :, None] * r[:, None, :])[:, iu[0], iu[1]], axis=0)
    scale = np.median(np.abs(before), axis=0)
    ok = scale > floor * size
    # summed over the invariants: the large ones (the pair products of four-momenta) dominate, not a tiny
    # constituent mass whose relative change is large for any transformation that is not exactly Lorentz
    return float(np.median(np.abs(after - before), axis=0)[ok].sum() / scale[ok].sum()) if ok.any() else None


def _message(auc: float, se: float) -> str:
    if abs(auc - 0.5) <= INDISTINGUISHABLE_SE * se:
        return "indistinguishable from the data (a symmetry, to this test's resolution)"
    if auc < APPROXIMATE_AUC:
        return f"approximate: the classifier tells them apart slightly (AUC {auc:.3f})"
    return f"not a symmetry: the classifier tells them apart (AUC {auc:.3f})"


def validate(
    L: np.ndarray,
    x: np.ndarray,
    y: np.ndarray | None,
    y_kind: str,
    coefficients: dict,
    feature_names: list[str],
    truth=None,
    metric: np.ndarray | None = None,
    mask: np.ndarray | None = None,
    max_samples: int = 40_000,
    seed: int = 0,
    metric_noise: float = 0.0,
    dilation: bool = False,
) -> list[dict]:
    """The entries of the module docstring for learned generators L: (c, n, n) on held-out data x: (N, k, n)
    (y as the dataset gives it).  truth: a known continuous Symmetry (its generators are checked at the
    learned norm, and the invariants of its metric are followed too: a learned metric is only as exact as the
    algebra, too coarse for the small invariants of collimated jets); metric: an accepted single J, whose
    invariants count when above 10 x ``metric_noise`` (its residual) of their scale; dilation: also check
    the pure dilation at the learned norm (when the metric was accepted only up to scale, to say what the
    dilation-like channels do to the data).  Returns a list of {name, kind, auc, auc_se, n_test,
    invariant_change, declared_invariant_change, description, message}; one per channel first."""
    rng = np.random.default_rng(seed)
    L = np.asarray(L, dtype=np.float64)
    n = L.shape[-1]
    idx = rng.permutation(len(x))[:max_samples]
    x = np.asarray(x, dtype=np.float64)[idx]
    y = None if y is None or y_kind == YKind.NONE else np.asarray(y)[idx]
    half = len(x) // 2
    declared = truth.metric if truth is not None and truth.metric is not None else None
    xa, xb = x[:half], x[half : 2 * half]
    ya, yb = (None, None) if y is None else (y[:half], y[half : 2 * half])
    norm = float(np.mean(np.linalg.norm(L, axis=(1, 2))))

    def check(name: str, kind: str, g: np.ndarray, description: str) -> dict:
        gx = np.einsum("bij,bkj->bki", g, xb)
        gy = np.einsum("bij,bkj->bki", g, yb) if y_kind == YKind.VECTOR and yb is not None else yb
        auc, se = two_sample_auc(_features(xa, ya), _features(gx, gy), seed)
        # a learned metric's invariants count only above its own error (10 x its residual)
        change = _invariant_change(metric, xb, gx, max(1e-6, 10 * metric_noise)) if metric is not None else None
        known = _invariant_change(declared, xb, gx) if declared is not None else None
        return {
            "name": name,
            "kind": kind,
            "auc": auc,
            "auc_se": se,
            "n_test": half,
            "invariant_change": change,
            "declared_invariant_change": known,
            "description": description,
            "message": _message(auc, se),
        }

    out = []
    for i, Li in enumerate(L):
        t = sample_coefficients(coefficients, (half,), rng)
        out.append(check(f"L_{i}", "learned", expm(t[:, None, None] * Li), describe_channel(Li, feature_names)))
    z = sample_coefficients(coefficients, (half, len(L)), rng)
    out.append(check("group", "learned group", expm(np.einsum("bc,cij->bij", z, L)), "all channels at once"))
    if truth is not None and truth.discrete is None and truth.n_dim == n:
        for T, name in zip(truth.generators, truth.generator_names, strict=True):
            t = sample_coefficients(coefficients, (half,), rng)
            g = expm(t[:, None, None] * (norm / np.linalg.norm(T)) * T)
            out.append(check(f"{truth.name} {name}", "known", g, f"the known generator {name} at the learned norm"))
    if dilation:
        t = sample_coefficients(coefficients, (half,), rng)
        out.append(
            check(
                "dilation D",
                "reference",
                expm(t[:, None, None] * (norm / np.sqrt(n)) * np.eye(n)),
                "the pure dilation at the learned norm (scales every feature)",
            )
        )
    M = np.ones((n, n)) if mask is None else np.asarray(mask).reshape(-1, n, n)[0]
    R = rng.standard_normal((n, n)) * M
    R *= norm / np.linalg.norm(R)
    t = sample_coefficients(coefficients, (half,), rng)
    out.append(
        check(
            "random",
            "control",
            expm(t[:, None, None] * R),
            "a random generator of the same norm in the search space (negative control)",
        )
    )
    return out


def validate_run(
    algebra,
    src,
    truth=None,
    metric: np.ndarray | None = None,
    max_samples: int = 40_000,
    seed: int = 0,
    metric_noise: float = 0.0,
    dilation: bool = False,
) -> list[dict]:
    """:func:`validate` on the run's own data, rebuilt from algebra.json's data config (as ``liegan bridge``
    does); samples are drawn afresh from the whole set, which for built-in datasets includes the training
    samples (the classifier never saw them, the generator did)."""
    from liegan.datasets import load_dataset
    from liegan.trainers.bridge import data_config_for

    ds = load_dataset(data_config_for(algebra, src))
    y = None if ds.y is None else ds.y.numpy()
    return validate(
        algebra.generators,
        ds.x.numpy(),
        y,
        ds.info.y_kind,
        algebra.coefficients,
        list(algebra.feature_names),
        truth,
        metric,
        algebra.mask,
        max_samples,
        seed,
        metric_noise,
        dilation,
    )
