"""Reference Lie algebras as stacks of matrix generators (float64 numpy arrays of shape (d, n, n)).

Each builder is a pure function of its size.  ``REFERENCE_ALGEBRAS`` maps a name to a builder of the
algebra acting on R^n (``None`` where the algebra has no representation of that size), so scoring code can
loop over every reference of matching size.
"""

from __future__ import annotations

from collections.abc import Callable
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


def twobody_so2() -> np.ndarray:
    """The two-body ground truth: the same 2-D rotation [[0, 1], [-1, 0]] on each of the four 2-vectors
    (q1, p1, q2, p2) of the state (q1x, q1y, p1x, p1y, q2x, q2y, p2x, p2y)."""
    return np.kron(np.eye(4), np.array([[0.0, 1.0], [-1.0, 0.0]]))[None]


def _if(cond: bool, fn: Callable[[], np.ndarray]) -> np.ndarray | None:
    return fn() if cond else None


# name -> builder(n) -> (d, n, n) or None when the algebra does not act on R^n
REFERENCE_ALGEBRAS: dict[str, Callable[[int], np.ndarray | None]] = {
    "so(n)": lambda n: _if(n >= 2, lambda: so(n)),
    "so(2) x 4 (two-body)": lambda n: _if(n == 8, twobody_so2),
    "so(1,3)": lambda n: _if(n == 4, so13),
    "so(2,2)": lambda n: _if(n == 4, lambda: so_pq(2, 2)),
    "so(1,n-1)": lambda n: _if(n >= 2 and n != 4, lambda: so_pq(1, n - 1)),
    "sl(n)": lambda n: _if(n >= 2, lambda: sl(n)),
    "gl(n)": lambda n: gl(n),
    "scaling": lambda n: scaling(n),
    "translations": lambda n: _if(n >= 2, lambda: translations(n)),
}


def references_for(n: int) -> dict[str, np.ndarray]:
    """Every shipped reference algebra acting on R^n, with n substituted into its name."""
    out = {}
    for name, build in REFERENCE_ALGEBRAS.items():
        gens = build(n)
        if gens is not None:
            out[name.replace("n-1", str(n - 1)).replace("(n)", f"({n})")] = gens
    return out


def _pair_names(n: int, prefix_same: str = "L", prefix_mixed: str = "K", p: int | None = None) -> list[str]:
    """Names of generators built over index pairs i < j (1-based), as in :func:`so` and :func:`so_pq`."""
    out = []
    for i, j in combinations(range(n), 2):
        mixed = p is not None and (i < p) != (j < p)
        out.append(f"{prefix_mixed if mixed else prefix_same}_{i + 1}{j + 1}")
    return out


def generator_names(name: str, n: int) -> list[str]:
    """Readable names of the generators of the reference algebra ``name`` (a key of
    :data:`REFERENCE_ALGEBRAS`, before or after :func:`references_for` substitutes n) on R^n, in the order
    its builder returns them: K_x ... J_z for so(1,3), L_ij rotations, K_ij boosts, E_ij / H_i for sl and gl,
    D for the dilation, T_i for translations."""
    if name == "so(1,3)" and n == 4:
        return list(SO13_NAMES)
    if name.startswith("so(2) x 4"):
        return ["R(q1,p1,q2,p2)"]
    if name in ("so(n)", f"so({n})"):
        return _pair_names(n)
    if name.startswith("so(") and "," in name:
        p = int(name[3:name.index(",")])
        return _pair_names(n, "L", "K", p)
    if name in ("sl(n)", f"sl({n})"):
        off = [f"E_{i + 1}{j + 1}" for i in range(n) for j in range(n) if i != j]
        return off + [f"H_{i + 1}" for i in range(n - 1)]
    if name in ("gl(n)", f"gl({n})"):
        return [f"E_{i + 1}{j + 1}" for i in range(n) for j in range(n)]
    if name == "scaling":
        return ["D"]
    if name == "translations":
        return [f"T_{i + 1}" for i in range(n - 1)]
    raise KeyError(f"unknown reference algebra {name!r}")


def named_references(n: int) -> dict[str, tuple[np.ndarray, list[str]]]:
    """Like :func:`references_for`, with each algebra's generator names: {name: (gens (d, n, n), names)}."""
    return {name: (gens, generator_names(name, n)) for name, gens in references_for(n).items()}
