"""Reference Lie algebras as stacks of matrix generators (float64 numpy arrays of shape (d, n, n)).

Each builder is a pure function of its size.  The reference registry (each algebra with its generator
names and invariant metric, as a :class:`liegan.symmetry.Symmetry`) is ``liegan.symmetry.REFERENCES``.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np


def _unit(n: int, i: int, j: int) -> np.ndarray:
    E = np.zeros((n, n))
    E[i, j] = 1.0
    return E


def so(n: int) -> np.ndarray:
    """so(n): E_ij - E_ji for i < j; n(n-1)/2 generators."""
    if n < 2:
        return np.zeros((0, n, n))
    return np.stack([_unit(n, i, j) - _unit(n, j, i) for i, j in combinations(range(n), 2)])


def so_pq(p: int, q: int) -> np.ndarray:
    """so(p, q), the algebra preserving eta = diag(+1 x p, -1 x q): rotations inside each block and
    symmetric boosts (E_ij + E_ji) mixing the blocks.  so_pq(1, 3) is the Lorentz algebra so(1,3)."""
    n = p + q
    gens = []
    for i, j in combinations(range(n), 2):
        same_block = (i < p) == (j < p)
        gens.append(_unit(n, i, j) - _unit(n, j, i) if same_block else _unit(n, i, j) + _unit(n, j, i))
    return np.stack(gens)


def so13() -> np.ndarray:
    """so(1,3) on (E, px, py, pz), ordered as boosts K_x, K_y, K_z then rotations J_x, J_y, J_z.

    K_i has entries (0, i) = (i, 0) = 1; J_x rotates (py, pz), J_y rotates (pz, px), J_z rotates (px, py).
    """
    K = [_unit(4, 0, i) + _unit(4, i, 0) for i in (1, 2, 3)]
    J = [_unit(4, k, j) - _unit(4, j, k) for j, k in ((2, 3), (3, 1), (1, 2))]
    return np.stack(K + J)


SO13_NAMES = ["K_x", "K_y", "K_z", "J_x", "J_y", "J_z"]
MINKOWSKI = np.diag([1.0, -1.0, -1.0, -1.0])


def gl(n: int) -> np.ndarray:
    """gl(n): every elementary matrix E_ij; n^2 generators."""
    return np.stack([_unit(n, i, j) for i in range(n) for j in range(n)])


def sl(n: int) -> np.ndarray:
    """sl(n): off-diagonal E_ij and the traceless diagonals E_ii - E_{i+1,i+1}; n^2 - 1 generators."""
    off = [_unit(n, i, j) for i in range(n) for j in range(n) if i != j]
    diag = [_unit(n, i, i) - _unit(n, i + 1, i + 1) for i in range(n - 1)]
    return np.stack(off + diag)


def scaling(n: int) -> np.ndarray:
    """The dilation I_n (one generator): has non-zero trace, so no invariant metric exists."""
    return np.eye(n)[None]


def translations(n: int) -> np.ndarray:
    """Translations of R^(n-1) in homogeneous coordinates on R^n (last coordinate fixed at 1)."""
    return np.stack([_unit(n, i, n - 1) for i in range(n - 1)])


def aff2() -> np.ndarray:
    """aff(2), the affine maps of the plane, as 3 x 3 homogeneous matrices (zero last row), in a basis that is
    orthogonal under the Frobenius product: rotation, isotropic scaling, anisotropic scaling (stretch u,
    squeeze v), shear, translation along u, translation along v (names: :data:`AFF2_NAMES`)."""
    rot = _unit(3, 1, 0) - _unit(3, 0, 1)  # [[0, -1, 0], [1, 0, 0], [0, 0, 0]]
    dil = _unit(3, 0, 0) + _unit(3, 1, 1)
    stretch = _unit(3, 0, 0) - _unit(3, 1, 1)
    shear = _unit(3, 0, 1) + _unit(3, 1, 0)
    return np.stack([rot, dil, stretch, shear, _unit(3, 0, 2), _unit(3, 1, 2)])


AFF2_NAMES = ["rotation", "isotropic scaling", "anisotropic scaling", "shear", "translation u", "translation v"]
AFF2_FEATURES = ["u", "v", "1"]  # rows/columns of a homogeneous generator: the plane's (u, v) and the 1


def twobody_so2() -> np.ndarray:
    """The two-body ground truth: the same 2-D rotation [[0, 1], [-1, 0]] on each of the four 2-vectors
    (q1, p1, q2, p2) of the state (q1x, q1y, p1x, p1y, q2x, q2y, p2x, p2y)."""
    return nbody_so2(2)


def nbody_so2(bodies: int) -> np.ndarray:
    """so(2) rotating every 2-vector of an n-body state (q1x, q1y, p1x, p1y, ..., qnx, qny, pnx, pny) at once:
    [[0, 1], [-1, 0]] repeated 2 * bodies times on the diagonal, one generator."""
    return np.kron(np.eye(2 * bodies), np.array([[0.0, 1.0], [-1.0, 0.0]]))[None]
