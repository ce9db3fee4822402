"""The grid action against closed forms: identity, exact 90-degree rotations and pixel shifts, composition
(g then h is g h), and the generator / discriminator / regulariser on images."""

import math

import numpy as np
import pytest
import torch

from liegan.actions import act_grid, get_action, grid_flow, grid_points
from liegan.algebras import AFF2_NAMES, aff2
from liegan.config import DiscriminatorConfig, GeneratorConfig
from liegan.discriminator import build_discriminator
from liegan.generator import LieGenerator, build_mask
from liegan.io import InputError
from liegan.lie import exp_map, identity_cosine

ROT = torch.as_tensor(aff2()[0])


def homogeneous(A, t=(0.0, 0.0)) -> torch.Tensor:
    g = torch.eye(3, dtype=torch.float64)
    g[:2, :2] = torch.as_tensor(A, dtype=torch.float64)
    g[:2, 2] = torch.as_tensor(t, dtype=torch.float64)
    return g


def images(b=2, c=1, size=7, seed=0) -> torch.Tensor:
    return torch.rand(b, c, size, size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def blob(size=64, centre=(0.1, -0.05), width=0.25) -> torch.Tensor:
    """A smooth image (1, 1, size, size): bilinear resampling of it is accurate to ~1e-3."""
    p = grid_points(size)
    r2 = (p[..., 0] - centre[0]) ** 2 + 2 * (p[..., 1] - centre[1]) ** 2
    return torch.exp(-r2 / width**2)[None, None]


@pytest.mark.parametrize("size", [2, 5, 8, 28])
def test_identity_leaves_images_unchanged(size):
    x = images(size=size)
    g = torch.eye(3, dtype=torch.float64).expand(2, 3, 3)
    torch.testing.assert_close(act_grid(g, x), x, rtol=0, atol=1e-12)


@pytest.mark.parametrize("size", [3, 6, 28, 33])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_rotation_by_multiples_of_90_degrees_is_a_pixel_permutation(size, k):
    """exp(k pi/2 R): output (u, v) samples input (-v, u) for k = 1, i.e. numpy's rot90 on (row, column)."""
    x = images(b=3, c=2, size=size)
    g = exp_map(torch.full((3, 1), k * math.pi / 2, dtype=torch.float64), ROT[None])
    out = act_grid(g, x)
    torch.testing.assert_close(out, torch.rot90(x, k, dims=(-2, -1)), rtol=0, atol=1e-9)
    assert not torch.allclose(out, x), "negative control: a rotation by 90 degrees moves the pixels"


def test_shift_by_whole_pixels_is_a_zero_filled_roll():
    size, shift = 9, 2
    x = images(size=size)
    g = homogeneous(np.eye(2), (2.0 * shift / (size - 1), 0.0)).expand(2, 3, 3)  # sample shift pixels to the right
    expected = torch.zeros_like(x)
    expected[..., : size - shift] = x[..., shift:]
    torch.testing.assert_close(act_grid(g, x), expected, rtol=0, atol=1e-9)


def test_g_then_h_equals_gh_exactly_on_permutations():
    x = images(size=6)
    g = homogeneous([[0.0, -1.0], [1.0, 0.0]])  # rotation by 90 degrees
    h = homogeneous([[-1.0, 0.0], [0.0, 1.0]])  # mirror in u
    gh = act_grid((g @ h).expand(2, 3, 3), x)
    torch.testing.assert_close(act_grid(h.expand(2, 3, 3), act_grid(g.expand(2, 3, 3), x)), gh, rtol=0, atol=1e-9)
    hg = act_grid((h @ g).expand(2, 3, 3), x)
    assert not torch.allclose(gh, hg), "negative control: g h and h g differ, so the order is tested"


def test_g_then_h_equals_gh_on_a_smooth_image():
    """Two bilinear resamplings differ from one by the interpolation error alone: second order in the pixel
    size (measured 0.0137, 0.0046, 0.0013 at 64, 128, 256 pixels), while the other order stays 0.12 away."""
    L = torch.as_tensor(aff2())
    g = exp_map(torch.tensor([[0.3, 0.05, -0.1, 0.1, 0.05, 0.0]], dtype=torch.float64), L)
    h = exp_map(torch.tensor([[-0.5, 0.0, 0.1, 0.0, 0.0, -0.08]], dtype=torch.float64), L)
    errors = []
    for size in (64, 128, 256):
        x = blob(size)
        once = act_grid(g @ h, x)
        errors.append(float((act_grid(h, act_grid(g, x)) - once).abs().max()))
        assert (act_grid(h @ g, x) - once).abs().max() > 0.1, "negative control: the other order is far"
    assert errors[0] / errors[1] > 2.5 and errors[1] / errors[2] > 3.0 and errors[2] < 2e-3, errors


def test_grid_action_refuses_non_square_images_and_non_affine_elements():
    with pytest.raises(ValueError, match="square"):
        act_grid(torch.eye(3)[None], torch.zeros(1, 1, 4, 5))
    with pytest.raises(ValueError, match="3 x 3"):
        act_grid(torch.eye(4)[None], torch.zeros(1, 1, 4, 4))
    with pytest.raises(ValueError, match="unknown action"):
        get_action("pixels")


def test_flow_of_the_basis():
    """Content moves with -L q: a rotation's flow is tangential, a translation's is uniform."""
    f = grid_flow(aff2()[0], 5)
    q = grid_points(5)[..., :2]
    assert torch.allclose((f * q).sum(-1), torch.zeros(5, 5, dtype=torch.float64), atol=1e-12)
    torch.testing.assert_close(grid_flow(aff2()[4], 5), torch.tensor([-1.0, 0.0], dtype=torch.float64).expand(5, 5, 2))
    assert len(AFF2_NAMES) == 6


def test_affine_mask_and_generator_on_images():
    cfg = GeneratorConfig(mask="affine", init_scale=0.3)
    M = build_mask("affine", 3, 1)
    assert M[0, 2].abs().sum() == 0 and M[0, :2].sum() == 6
    with pytest.raises(InputError, match="affine"):
        build_mask("affine", 4, 1)
    torch.manual_seed(0)
    G = LieGenerator(3, cfg, action="grid")
    x, labels = images(b=4, size=10).float(), torch.arange(4)
    gx, gy, z = G(x, labels, y_is_vector=False)
    assert gx.shape == x.shape and gy is labels and z.shape == (4, 1)
    assert (G.effective()[0, 2] == 0).all()
    with pytest.raises(InputError, match="unknown action"):
        LieGenerator(3, cfg, action="pixels")


@pytest.mark.parametrize("size", [8, 28, 33])
@pytest.mark.parametrize("y_kind", ["class", "none", "scalar"])
def test_conv_discriminator_any_square_size(size, y_kind):
    cfg = DiscriminatorConfig(hidden=[16], conv_channels=[4, 8])
    D = build_discriminator("grid", (2, size, size), y_kind, (1,) if y_kind == "scalar" else (), 10, cfg)
    assert any(isinstance(m, torch.nn.Conv2d) for m in D.modules())
    y = {"class": torch.arange(3), "none": None, "scalar": torch.zeros(3, 1)}[y_kind]
    assert D(torch.zeros(3, 2, size, size), y).shape == (3,)
    mlp = build_discriminator("vector", (1, 4), "none", (), 0, cfg)
    assert not any(isinstance(m, torch.nn.Conv2d) for m in mlp.modules())


def test_identity_cosine_on_images_and_in_fourier_space():
    x = blob(32).expand(2, 1, 32, 32)
    assert identity_cosine(x, x) == pytest.approx(1.0)
    rolled = torch.roll(x, shifts=(3, -5), dims=(-2, -1))  # a circular shift: |FFT| exactly unchanged
    assert identity_cosine(rolled, x, space="fourier") == pytest.approx(1.0, abs=1e-6)
    assert identity_cosine(rolled, x) < 0.9, "pixels: the shifted image is far from the original"
    turned = torch.rot90(x, 1, dims=(-2, -1))
    assert identity_cosine(turned, x, space="fourier") < 0.99, "negative control: a rotation turns |FFT|"
    with pytest.raises(ValueError, match="images"):
        identity_cosine(torch.ones(2, 1, 3), torch.ones(2, 1, 3), space="fourier")
