import numpy as np
import pytest
import torch

from liegan.algebras import so
from liegan.config import GeneratorConfig
from liegan.discriminator import Discriminator
from liegan.generator import LieGenerator, build_mask
from liegan.io import InputError


def test_block_mask():
    M = build_mask("blocks:2,2,2,2", 8, 3)
    assert M.shape == (3, 8, 8)
    assert M[0].sum() == 16 and M[0, 0, 1] == 1 and M[0, 0, 2] == 0


def test_twobody4x4_mask_couples_positions_and_momenta():
    M = build_mask("twobody4x4", 8, 1)[0].numpy()
    q = [0, 1, 4, 5]
    assert M[np.ix_(q, q)].all() and M.sum() == 32 and M[0, 2] == 0  # q1x does not couple to p1x


def test_user_mask_file_and_errors(tmp_path):
    np.save(tmp_path / "m.npy", np.eye(3))
    assert torch.equal(build_mask(str(tmp_path / "m.npy"), 3, 2)[1], torch.eye(3))
    with pytest.raises(InputError, match="sum to 5"):
        build_mask("blocks:2,3", 4, 1)
    with pytest.raises(InputError, match="mask file not found"):
        build_mask(str(tmp_path / "none.npy"), 3, 1)
    np.save(tmp_path / "w.npy", np.eye(4))
    with pytest.raises(InputError, match="shape"):
        build_mask(str(tmp_path / "w.npy"), 3, 1)


def test_effective_basis_is_masked():
    G = LieGenerator(4, GeneratorConfig(channels=2, mask="blocks:2,2"))
    assert (G.effective()[:, 0, 2] == 0).all() and (G.effective()[:, 0, 1] != 0).all()


@pytest.mark.parametrize("kind", ["normal", "uniform", "integer"])
def test_coefficient_distributions(kind):
    torch.manual_seed(0)
    G = LieGenerator(3, GeneratorConfig(channels=2, coefficients=kind, sigma=2.0, bound=0.5, int_low=-3, int_high=2))
    z = G.coefficients(20000, torch.device("cpu"))
    if kind == "normal":
        assert z.std().item() == pytest.approx(2.0, rel=0.03)
    elif kind == "uniform":
        assert z.min() >= -0.5 and z.max() <= 0.5 and z.std().item() == pytest.approx(0.5 / 3**0.5, rel=0.03)
    else:
        assert set(z.unique().tolist()) == {-3, -2, -1, 0, 1, 2}
    assert G.coefficients.describe()["distribution"] == kind


def test_subgroup_mode_keeps_the_given_basis_and_learns_the_distribution():
    basis = so(3)[:2]
    G = LieGenerator(3, GeneratorConfig(channels=2, subgroup=True, subgroup_from="so3"), basis=basis)
    assert not G.L.requires_grad
    torch.testing.assert_close(G.effective().double(), torch.from_numpy(basis), rtol=0, atol=1e-7)
    with pytest.raises(InputError, match="fixed basis has shape"):
        LieGenerator(3, GeneratorConfig(channels=3, subgroup=True, subgroup_from="so3"), basis=basis)
    z = G.coefficients(8, torch.device("cpu"))
    z.sum().backward()
    assert G.coefficients.mean.grad is not None and G.coefficients.chol.grad is not None
    assert G.coefficients.describe()["learned"] is True
    with pytest.raises(InputError, match="subgroup mode"):
        LieGenerator(3, GeneratorConfig(subgroup=True, coefficients="integer"))


def test_forward_transforms_vector_y_and_passes_labels():
    G = LieGenerator(3, GeneratorConfig(channels=1))
    x, y = torch.randn(5, 2, 3), torch.randn(5, 1, 3)
    torch.manual_seed(1)
    gx, gy, z = G(x, y, True)
    torch.manual_seed(1)
    g, _ = G.sample(5)
    assert torch.allclose(gx, torch.einsum("bij,bkj->bki", g, x), atol=1e-6)
    assert torch.allclose(gy, torch.einsum("bij,bkj->bki", g, y), atol=1e-6)
    labels = torch.tensor([0, 1, 0, 1, 1])
    _, passed, _ = G(x, labels, False)
    assert passed is labels


@pytest.mark.parametrize(
    "y_kind,y",
    [
        ("vector", torch.randn(4, 1, 3)),
        ("scalar", torch.randn(4, 2)),
        ("class", torch.tensor([0, 1, 1, 0])),
        ("none", None),
    ],
)
def test_discriminator_reads_x_and_y(y_kind, y):
    """One logit per sample, and the logits depend on y (when there is one) as well as on x."""
    torch.manual_seed(0)
    D = Discriminator((2, 3), y_kind, tuple(y.shape[1:]) if y is not None and y_kind != "class" else (), 2)
    x = torch.randn(4, 2, 3)
    out = D(x, y)
    assert out.shape == (4,)
    assert (D(x + 1.0, y) - out).abs().max() > 1e-4, "the logits ignore x"
    if y is not None:
        other = 1 - y if y_kind == "class" else y + 1.0
        assert (D(x, other) - out).abs().max() > 1e-4, f"the logits ignore a {y_kind} y"


def test_fixed_norm_rescales_each_channel_and_keeps_directions():
    torch.manual_seed(0)
    free = LieGenerator(4, GeneratorConfig(channels=3, init_scale=0.07))
    torch.manual_seed(0)
    fixed = LieGenerator(4, GeneratorConfig(channels=3, init_scale=0.07, fixed_norm=0.25))
    Lf, L0 = fixed.effective().double(), free.effective().double()
    assert torch.allclose(Lf.norm(dim=(1, 2)), torch.full((3,), 0.25, dtype=torch.float64), atol=1e-6)
    cos = (Lf * L0).sum(dim=(1, 2)) / (Lf.norm(dim=(1, 2)) * L0.norm(dim=(1, 2)))
    assert torch.allclose(cos, torch.ones(3, dtype=torch.float64), atol=1e-6)
    # negative control: without the option the norms are the raw ones (not 0.25)
    assert not torch.allclose(L0.norm(dim=(1, 2)), torch.full((3,), 0.25, dtype=torch.float64), atol=1e-2)
    # the radial direction gets no gradient: a loss on the norm alone leaves L's gradient orthogonal to L
    fixed.effective().pow(2).sum().backward()
    assert (fixed.L.grad * fixed.L).sum().abs().item() < 1e-6
    with pytest.raises(InputError, match="fixed_norm"):
        LieGenerator(4, GeneratorConfig(channels=1, fixed_norm=-1.0))
