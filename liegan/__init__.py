"""liegan: discover the Lie-algebra symmetries of data with LieGAN, and put them to use.

``import liegan`` does not import torch: the Algebra file, the scores and the metric are numpy, so that
reading a discovered algebra (and the commands that only read one) start fast.  The group-action maths of
:mod:`liegan.lie` (``exp_map``, ``act``, ...) is re-exported here too, imported with torch on first use.
"""

from liegan._lazy import lazy_exports
from liegan._version import __version__
from liegan.algebra import Algebra, load_algebra
from liegan.io import InputError
from liegan.metric import MetricResult, invariant_metric, metric_residual, solve_metric
from liegan.scores import (
    bracket,
    closure_error,
    data_cosine,
    frobenius_cosine,
    generator_shares,
    span_similarity,
    structure_constants,
)

# the torch functions of liegan.lie
__getattr__, _ = lazy_exports(__name__, dict.fromkeys(("act", "channel_orthogonality", "exp_map", "normalise"), "lie"))

__all__ = [
    "Algebra",
    "InputError",
    "MetricResult",
    "__version__",
    "act",
    "bracket",
    "channel_orthogonality",
    "closure_error",
    "data_cosine",
    "exp_map",
    "frobenius_cosine",
    "generator_shares",
    "invariant_metric",
    "load_algebra",
    "metric_residual",
    "normalise",
    "solve_metric",
    "span_similarity",
    "structure_constants",
]
