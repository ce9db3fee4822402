"""Discovered generators as parameter-space symmetries: exact actions on networks, the induced action of a
data symmetry, symmetry ensembles, conserved quantities, teleportation, and the `liegan bridge` pipeline.

The names below are imported (with torch) on first use, so that `liegan --help` does not import torch."""

from liegan._lazy import lazy_exports

_EXPORTS = {
    "ActionError": "actions",
    "AlgebraAction": "induced",
    "ConservationTracker": "conserved",
    "EnsembleReport": "ensemble",
    "GLAction": "actions",
    "InducedAction": "induced",
    "InvarianceReport": "induced",
    "LayerAction": "actions",
    "NonlinearAction": "actions",
    "OrthogonalAction": "actions",
    "Radial": "actions",
    "RescaleAction": "actions",
    "Task": "induced",
    "TeleportSchedule": "teleport",
    "action_error": "actions",
    "actions_for": "actions",
    "algebra_action": "induced",
    "conserved_quantities": "conserved",
    "descend": "teleport",
    "evaluate": "actions",
    "linear_regression_problem": "teleport",
    "loss_invariance_error": "induced",
    "mlp": "actions",
    "params_of": "actions",
    "relative_drift": "conserved",
    "symmetry_ensemble": "ensemble",
    "teleport": "teleport",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
