"""Discovered generators as parameter-space symmetries: exact actions on networks, the induced action of a
data symmetry, symmetry ensembles, conserved quantities, teleportation, and the `liegan bridge` pipeline."""

from liegan.bridge.actions import (
    ActionError,
    GLAction,
    LayerAction,
    NonlinearAction,
    OrthogonalAction,
    Radial,
    RescaleAction,
    action_error,
    actions_for,
    evaluate,
    mlp,
    params_of,
)
from liegan.bridge.conserved import ConservationTracker, conserved_quantities, relative_drift
from liegan.bridge.ensemble import EnsembleReport, symmetry_ensemble
from liegan.bridge.induced import (
    AlgebraAction,
    InducedAction,
    InvarianceReport,
    Task,
    algebra_action,
    loss_invariance_error,
)
from liegan.bridge.teleport import TeleportSchedule, descend, linear_regression_problem, teleport

__all__ = ["ActionError", "AlgebraAction", "ConservationTracker", "EnsembleReport", "GLAction", "InducedAction",
           "InvarianceReport", "LayerAction", "NonlinearAction", "OrthogonalAction", "Radial", "RescaleAction", "Task",
           "TeleportSchedule", "action_error", "actions_for", "algebra_action", "conserved_quantities",
           "descend", "evaluate", "linear_regression_problem", "loss_invariance_error", "mlp", "params_of",
           "relative_drift", "symmetry_ensemble", "teleport"]
