"""An affine generator (3 x 3 homogeneous, zero last row) named by its parts: rotation, isotropic and
anisotropic scaling, shear, translations.

The parts are the coordinates of L in the Frobenius-orthogonal basis :func:`liegan.algebras.aff2`, so each
part's share |<L, B_i>| / (||L|| ||B_i||) is the |cos| of L with that basis element and the squared shares add
up to 1.  The rotation share is therefore the |cos| with the rotation of aff(2).  How far a part reaches
follows from the coefficient spread: with z ~ N(0, sigma^2), the rotation turns images by sigma |a_rot|
radians (one standard deviation), a_rot the rotation coordinate.
"""

from __future__ import annotations

import numpy as np

from liegan.algebras import AFF2_NAMES, aff2

DOMINANT = 0.95  # a part with at least this share names the generator alone ("a rotation")
MINOR = 0.2  # parts below this share are not mentioned in words
COLLAPSED = 0.01  # without an image size: corners moved by under 1 % of the half-width at |z| = 1


def affine_parts(L) -> dict[str, dict[str, float]]:
    """{part name: {'coefficient': a_i, 'share': |cos(L, B_i)|}} for a 3 x 3 generator L with a zero last row."""
    L = np.asarray(L, dtype=np.float64)
    if L.shape != (3, 3):
        raise ValueError(f"an affine generator is 3 x 3, got shape {L.shape}")
    B = aff2()
    norms = np.linalg.norm(B, axis=(1, 2))
    dots = np.einsum("aij,ij->a", B, L)
    size = np.linalg.norm(L)
    return {
        name: {"coefficient": float(d / n**2), "share": float(abs(d) / (n * size)) if size > 0 else 0.0}
        for name, d, n in zip(AFF2_NAMES, dots, norms, strict=True)
    }


def reach_pixels(L, sigma: float, size: int) -> float:
    """How far exp(z L) moves the farthest pixel of a size x size image at |z| = sigma, to first order, in
    pixels: sigma * max over the grid's corners of |L p| times (size - 1) / 2 pixels per normalised unit."""
    L = np.asarray(L, dtype=np.float64)
    corners = np.array([[u, v, 1.0] for u in (-1.0, 1.0) for v in (-1.0, 1.0)])
    return float(sigma * np.linalg.norm(corners @ L[:2].T, axis=1).max() * (size - 1) / 2)


def describe_affine(L, sigma: float | None = None, size: int | None = None) -> str:
    """The generator in words, e.g. 'a rotation (share 0.99; turns images by 25 degrees at one sigma)'.

    Shares are |cos| with each part of aff(2).  A slant (a simple shear u += s v, as handwriting leans) is
    rotation and shear in equal parts, and is named as such.  With ``sigma`` and ``size`` (the image's side), a
    generator that moves no pixel by half a pixel at one sigma is reported as having collapsed to the
    identity: its direction is then noise, and nothing is claimed (without them: one that moves the corners
    by under COLLAPSED of the half-width at unit coefficient)."""
    parts = affine_parts(L)
    if np.linalg.norm(np.asarray(L)) == 0:
        return "the zero generator (no transformation)"
    if sigma and size and reach_pixels(L, sigma, size) < 0.5:
        return (
            f"collapsed to the identity: it moves pixels by {reach_pixels(L, sigma, size):.2f} px at one "
            "sigma, so no transformation went unnoticed by the discriminator"
        )
    if not (sigma and size) and reach_pixels(L, 1.0, 3) < COLLAPSED:  # size 3: in normalised units
        return (
            f"collapsed to the identity (moves the image's corners by {reach_pixels(L, 1.0, 3):.3f} of its "
            "half-width at unit coefficient); its direction is noise"
        )
    ranked = sorted(parts.items(), key=lambda kv: -kv[1]["share"])
    (top, info), rest = ranked[0], ranked[1:]
    reach = ""
    if top == "rotation" and sigma:
        reach = f"; turns images by {np.degrees(abs(info['coefficient']) * sigma):.0f} degrees at one sigma"
    if info["share"] >= DOMINANT:
        return f"a {top} (share {info['share']:.2f}{reach})"
    rot, shear = parts["rotation"]["share"], parts["shear"]["share"]
    if min(rot, shear) >= 0.6 and rot**2 + shear**2 >= DOMINANT**2:
        return f"a slant, a simple shear (rotation {rot:.2f} and shear {shear:.2f} in equal parts); not a rotation"
    others = [f"{name} ({p['share']:.2f})" for name, p in rest if p["share"] >= MINOR]
    text = f"mostly {top} ({info['share']:.2f}{reach})"
    return text + (f" with {', '.join(others)}" if others else "") + "; no single affine part"
