"""liegan: discover the Lie-algebra symmetries of data with LieGAN, and put them to use.

The public names below are imported on first use: ``import liegan`` (and with it the ``liegan`` command's
start, `liegan --help`) costs nothing, the Algebra file, the scores and the metric need numpy only, and the
group-action maths of :mod:`liegan.lie` (``exp_map``, ``act``, ...) brings torch when first asked for.
"""

from liegan._lazy import lazy_exports
from liegan._version import __version__ as __version__  # re-exported

_EXPORTS = {
    "Algebra": "algebra",
    "load_algebra": "algebra",
    "InputError": "io",
    "MetricResult": "metric",
    "invariant_metric": "metric",
    "metric_residual": "metric",
    "solve_metric": "metric",
    "DiscretePart": "symmetry",
    "Symmetry": "symmetry",
    "bracket": "scores",
    "closure_error": "scores",
    "data_cosine": "scores",
    "frobenius_cosine": "scores",
    "generator_shares": "scores",
    "span_similarity": "scores",
    "structure_constants": "scores",
    "act": "lie",
    "channel_orthogonality": "lie",
    "exp_map": "lie",
    "normalise": "lie",
}
__all__ = sorted([*_EXPORTS, "__version__"])
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
