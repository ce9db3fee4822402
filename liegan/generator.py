"""The LieGAN generator: a learnable basis L (c, n, n), a search-space mask and a coefficient distribution.

Sampling draws z ~ p(z) per sample and returns g = exp(sum_i z_i (L * M)_i); the group maths itself lives in
:mod:`liegan.lie` and this module only owns parameters.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from liegan.actions import get_action
from liegan.config import GeneratorConfig
from liegan.io import InputError
from liegan.lie import exp_map
from liegan.safe_arrays import npz_names, read_npy, read_npz


def build_mask(spec: str, n: int, channels: int) -> torch.Tensor:
    """Search-space mask (c, n, n) from a spec string.

    'none': every entry free.  'blocks:2,2,2,2': block-diagonal with the given block sizes (summing to n).
    'twobody4x4': the paper's larger two-body space, coupling (q1, q2) and (p1, p2) in the per-body layout
    (q1x, q1y, p1x, p1y, q2x, q2y, p2x, p2y).  'affine': aff(2) in homogeneous coordinates (n = 3, last row
    zero: linear maps of the plane and translations, as the grid action expects).  Anything else is a path
    to a .npy/.npz file holding an (n, n) or (c, n, n) array (key 'mask' in a .npz).
    """
    if spec == "none":
        M = np.ones((n, n))
    elif spec.startswith("blocks:"):
        try:
            sizes = [int(s) for s in spec[len("blocks:") :].split(",")]
        except ValueError:
            raise InputError(f"mask {spec!r}: block sizes must be integers, e.g. 'blocks:2,2,2,2'") from None
        if sum(sizes) != n or min(sizes) < 1:
            raise InputError(f"mask {spec!r}: block sizes sum to {sum(sizes)} but the data have n = {n}")
        M = np.zeros((n, n))
        start = 0
        for s in sizes:
            M[start : start + s, start : start + s] = 1.0
            start += s
    elif spec == "twobody4x4":
        if n != 8:
            raise InputError(f"mask 'twobody4x4' needs the 8-dimensional two-body state, the data have n = {n}")
        M = np.zeros((n, n))
        for group in ([0, 1, 4, 5], [2, 3, 6, 7]):  # positions of both bodies, momenta of both bodies
            M[np.ix_(group, group)] = 1.0
    elif spec == "affine":
        if n != 3:
            raise InputError(f"mask 'affine' needs 3 x 3 homogeneous generators, the data have n = {n}")
        M = np.ones((n, n))
        M[2, :] = 0.0  # exp of a matrix with a zero last row keeps the homogeneous coordinate at 1
    else:
        path = Path(spec)
        if not path.exists():
            raise InputError(
                f"{path}: mask file not found "
                "(or an unknown mask spec: use 'none', 'blocks:...', 'twobody4x4', 'affine' or a file)"
            )
        allowed = f"allowed: finite real numbers of shape ({n}, {n}) or ({channels}, {n}, {n})"

        def expect(key: str, shape: tuple[int, ...], dtype: np.dtype) -> None:  # from the header, before the data
            if dtype.kind not in "biuf" or shape not in ((n, n), (channels, n, n)):
                raise InputError(f"{path}: mask is {dtype} of shape {shape}; {allowed}")

        if path.suffix.lower() == ".npz":
            M = read_npz(path, ("mask",), expect=expect).get("mask")
            if M is None:
                raise InputError(f"{path}: no 'mask' array in the file (found {npz_names(path)})")
        else:
            M = read_npy(path, expect=expect)
        if not np.isfinite(M).all():
            raise InputError(f"{path}: mask holds non-finite values; {allowed}")
    M = np.broadcast_to(np.asarray(M, dtype=np.float32), (channels, n, n)).copy()
    return torch.from_numpy(M)


class Coefficients(nn.Module):
    """The distribution of z in R^c.

    'normal' (fixed sigma), 'uniform' on [-bound, bound], 'integer' uniform on {int_low, ..., int_high}
    (discrete subgroups: exp(L) itself is the learned group element).  With ``learnable`` (subgroup mode)
    z = mu + C eps with eps ~ N(0, I): the mean and a Cholesky factor of the covariance are trained.
    """

    def __init__(self, cfg: GeneratorConfig, channels: int, learnable: bool = False):
        super().__init__()
        self.kind = cfg.coefficients
        if self.kind not in ("normal", "uniform", "integer"):
            raise InputError(f"unknown coefficient distribution {self.kind!r} (normal, uniform, integer)")
        if learnable and self.kind != "normal":
            raise InputError(
                "subgroup mode learns a normal distribution's mean and covariance: use coefficients 'normal'"
            )
        if self.kind == "integer" and cfg.int_high < cfg.int_low:
            raise InputError(f"integer coefficients need int_low <= int_high, got {cfg.int_low} > {cfg.int_high}")
        self.c, self.sigma, self.bound = channels, cfg.sigma, cfg.bound
        self.low, self.high = cfg.int_low, cfg.int_high
        self.learnable = learnable
        if learnable:
            self.mean = nn.Parameter(torch.zeros(channels))
            self.chol = nn.Parameter(torch.eye(channels) * cfg.sigma)

    def forward(self, batch: int, device: torch.device) -> torch.Tensor:
        if self.learnable:
            eps = torch.randn(batch, self.c, device=device)
            return self.mean + eps @ torch.tril(self.chol).T
        if self.kind == "normal":
            return torch.randn(batch, self.c, device=device) * self.sigma
        if self.kind == "uniform":
            return (torch.rand(batch, self.c, device=device) * 2 - 1) * self.bound
        return torch.randint(self.low, self.high + 1, (batch, self.c), device=device).float()

    def describe(self) -> dict:
        """The distribution as plain data, for algebra.json."""
        if self.learnable:
            C = torch.tril(self.chol.detach().cpu())
            return {
                "distribution": "normal",
                "learned": True,
                "mean": self.mean.detach().cpu().tolist(),
                "covariance": (C @ C.T).tolist(),
            }
        if self.kind == "normal":
            return {"distribution": "normal", "sigma": self.sigma}
        if self.kind == "uniform":
            return {"distribution": "uniform", "low": -self.bound, "high": self.bound}
        return {"distribution": "integer", "low": self.low, "high": self.high}


class LieGenerator(nn.Module):
    """c channels of n x n generators; ``forward`` transforms a batch with freshly sampled group elements.

    ``action`` names how g acts on the data (:mod:`liegan.actions`): 'vector' (x (b, k, n)) or 'grid'
    (square images (b, C, H, H), n = 3).  ``basis`` (c, n, n): the fixed L of subgroup mode
    (:func:`liegan.algebra.subgroup_basis`); without it L starts random (and a resumed run loads its own).
    """

    def __init__(self, n: int, cfg: GeneratorConfig, action: str = "vector", basis: np.ndarray | None = None):
        super().__init__()
        try:
            self.act = get_action(action)
        except ValueError as e:
            raise InputError(str(e)) from None
        self.action = action
        c = cfg.channels
        if c < 1:
            raise InputError(f"channels must be >= 1, got {c}")
        self.register_buffer("mask", build_mask(cfg.mask, n, c))
        if basis is not None:
            if tuple(basis.shape) != (c, n, n):
                raise InputError(f"the fixed basis has shape {tuple(basis.shape)}, the generator ({c}, {n}, {n})")
            L = torch.tensor(basis, dtype=torch.float32)
        elif cfg.init == "normal":
            L = torch.randn(c, n, n) * cfg.init_scale
        elif cfg.init == "uniform":
            L = (torch.rand(c, n, n) * 2 - 1) * cfg.init_scale
        else:
            raise InputError(f"unknown generator init {cfg.init!r} (normal, uniform)")
        if cfg.fixed_norm < 0 or not np.isfinite(cfg.fixed_norm):
            raise InputError(f"fixed_norm must be a finite number >= 0 (0 = off), got {cfg.fixed_norm}")
        self.fixed_norm = float(cfg.fixed_norm)
        self.L = nn.Parameter(L, requires_grad=not cfg.subgroup)
        self.average = float(cfg.average)
        if self.average > 0:  # registered only when on, so a run without it keeps its checkpoints' keys
            self.register_buffer("L_sum", torch.zeros(c, n, n, dtype=torch.float64))
            self.register_buffer("L_count", torch.zeros((), dtype=torch.long))
            self.register_buffer("L_from", torch.full((), -1, dtype=torch.long))  # the step the window opens after
        self.coefficients = Coefficients(cfg, c, learnable=cfg.subgroup)

    def effective(self) -> torch.Tensor:
        """The basis actually used: L * M, each channel rescaled to Frobenius norm ``fixed_norm`` when that
        option is on (then only the channels' directions are learnt): (c, n, n)."""
        return self._at_fixed_norm(self.L * self.mask)

    def _at_fixed_norm(self, Le: torch.Tensor) -> torch.Tensor:
        """Each channel of Le rescaled to Frobenius norm ``fixed_norm`` when that option is on, else Le."""
        if self.fixed_norm <= 0:
            return Le
        return Le * (self.fixed_norm / Le.pow(2).sum(dim=(-2, -1), keepdim=True).add(1e-24).sqrt())

    def accumulate(self, window_from: int) -> None:
        """Add the current effective basis to the mean that :meth:`exported` returns: a step of the window
        that opens after step ``window_from``.  A window that moved (a run resumed with more epochs) starts
        its mean afresh."""
        if int(self.L_from) != window_from:
            self.L_sum.zero_()
            self.L_count.zero_()
            self.L_from.fill_(window_from)
        self.L_sum += self.effective().detach().double()
        self.L_count += 1

    def averaged_steps(self) -> int:
        return int(self.L_count) if self.average > 0 else 0

    def exported(self) -> torch.Tensor:
        """The basis a run exports (c, n, n), float64: the mean over the averaging window once it holds a
        step (rescaled to ``fixed_norm`` when that is on, as every averaged matrix was), else effective()."""
        if not self.averaged_steps():
            return self.effective().detach().double()
        return self._at_fixed_norm(self.L_sum / self.L_count)

    def sample(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(g (batch, n, n), z (batch, c))."""
        z = self.coefficients(batch, self.mask.device)
        return exp_map(z, self.effective()), z

    def forward(self, x: torch.Tensor, y: torch.Tensor | None, y_is_vector: bool):
        """Transform x (b, k, n) or images (b, C, H, H), and y when it lives in the same space (a vector, an
        image).  Returns (gx, gy, z)."""
        g, z = self.sample(x.shape[0])
        gy = self.act(g, y) if (y is not None and y_is_vector) else y
        return self.act(g, x), gy, z
