"""Analysis of discovered algebras: reference matching, closure, invariant metrics, discrete symmetries,
reports, and a consumer that puts a learned metric to use.

Scripts: ``python -m liegan.analysis.<diagnostics|metric|discrete|report|metric_features> ...``;
``liegan analyze RUN_OR_FILE`` runs :func:`write_report`.

The public names below are re-exported explicitly but imported on first use, so that running a submodule
as a script (``python -m``) does not import it twice.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Diagnostics": "diagnostics",
    "ReferenceMatch": "diagnostics",
    "best_match": "diagnostics",
    "canonical_basis": "diagnostics",
    "change_of_basis": "diagnostics",
    "compare_references": "diagnostics",
    "diagnose": "diagnostics",
    "form_signature": "diagnostics",
    "killing_form": "diagnostics",
    "structure_constants_in_basis": "diagnostics",
    "DiscreteResult": "discrete",
    "analyse_generator": "discrete",
    "discrete_analysis": "discrete",
    "order_errors": "discrete",
    "analyze": "report",
    "write_report": "report",
    "metric_features": "metric_features",
    "compare_metrics": "metric_features",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"liegan.analysis.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'liegan.analysis' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
