"""liegan: discover the Lie-algebra symmetries of data with LieGAN, and put them to use."""

from liegan._version import __version__
from liegan.algebra import Algebra, load_algebra
from liegan.io import InputError
from liegan.lie import (
    act,
    bracket,
    channel_orthogonality,
    closure_error,
    data_cosine,
    exp_map,
    frobenius_cosine,
    generator_shares,
    normalise,
    span_similarity,
    structure_constants,
)
from liegan.metric import MetricResult, invariant_metric, metric_residual, solve_metric

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
