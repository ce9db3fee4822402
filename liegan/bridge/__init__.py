"""Discovered generators as parameter-space symmetries: exact actions on networks, the induced action of a
data symmetry, symmetry ensembles, conserved quantities and teleportation.

A library over tensors and torch modules; the `liegan bridge` pipeline that fits predictors and runs it on a
dataset lives in liegan.trainers.bridge.  The names below are imported (with torch) on first use, so that
`liegan --help` does not import torch."""

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
    "TeleportResult": "teleport",
    "TeleportSchedule": "teleport",
    "action_error": "actions",
    "actions_for": "actions",
    "algebra_action": "induced",
    "conserved_quantities": "conserved",
    "data_dependent_actions": "actions",
    "evaluate": "actions",
    "loss_invariance_error": "induced",
    "mlp": "actions",
    "params_of": "actions",
    "prediction_loss": "data",
    "relative_drift": "conserved",
    "symmetry_ensemble": "ensemble",
    "teleport": "teleport",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
