"""Put a symmetry to work: sample the group an algebra generates, solve for equivariant maps, build
equivariant and invariant models, and check them.

Layering: group (sampling, constraints) -> nullspace (equivariant maps, invariant vectors and forms) ->
models (augmentation, EMLP, invariant-feature models, group averaging) -> checks (equivariance error).
"""

from liegan.symmetric.checks import assert_equivariant, equivariance_error
from liegan.symmetric.group import Group, group_of
from liegan.symmetric.models import (
    EMLP,
    EquivariantLinear,
    GroupAveraged,
    GroupSpaces,
    InvariantMLP,
    ParticleNet,
    PlainMLP,
    augment,
)
from liegan.symmetric.nullspace import (
    NullSpace,
    commutant,
    invariant_forms,
    invariant_vectors,
    merged_generator,
    null_space,
)

__all__ = [
    "EMLP",
    "EquivariantLinear",
    "Group",
    "GroupAveraged",
    "GroupSpaces",
    "InvariantMLP",
    "NullSpace",
    "ParticleNet",
    "PlainMLP",
    "assert_equivariant",
    "augment",
    "commutant",
    "equivariance_error",
    "group_of",
    "invariant_forms",
    "invariant_vectors",
    "merged_generator",
    "null_space",
]
