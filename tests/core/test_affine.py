"""Affine generators named by their parts, with negative controls."""

import numpy as np
import pytest

from liegan.affine import affine_parts, describe_affine
from liegan.algebras import aff2

A = aff2()


def test_parts_are_the_cosines_with_the_orthogonal_basis():
    L = 0.3 * A[0] + 0.1 * A[3] + 0.05 * A[4]
    parts = affine_parts(L)
    assert sum(p["share"] ** 2 for p in parts.values()) == pytest.approx(1.0)
    assert parts["rotation"]["coefficient"] == pytest.approx(0.3) and parts["translation u"]["coefficient"] == 0.05
    with pytest.raises(ValueError, match="3 x 3"):
        affine_parts(np.eye(4))


def test_words():
    assert describe_affine(0.6 * A[0], 1.0, 28).startswith("a rotation (share 1.00; turns images by 34 degrees")
    slant = np.zeros((3, 3))
    slant[0, 1] = 0.2  # u += s v: a leaning digit
    assert "slant" in describe_affine(slant, 1.0, 28) and "not a rotation" in describe_affine(slant, 1.0, 28)
    assert describe_affine(1e-3 * A[0], 1.0, 28).startswith("collapsed to the identity"), "negative control"
    assert describe_affine(1e-3 * A[0]).startswith("collapsed to the identity")
    assert "rotation" not in describe_affine(A[1] + 0.5 * A[3]).split(";")[0].replace("no single", "")
