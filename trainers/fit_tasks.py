"""The prediction tasks `liegan fit` trains on: an in-distribution split and an out-of-distribution one.

Two-body: windows of a trajectory, ``w_in`` past states -> the next ``w_out`` (the original's augmentation
experiment: 20-step trajectories, 5 -> 5, 10 windows per trajectory).  Any other dataset: its own (x, y)
pairs, shuffled and split.

The out-of-distribution split breaks the symmetry on purpose: the predictor sees only the samples whose
phase, the angle of a pair of coordinates (q1 of the window's first state for two-body; the jet's (px, py)
for top tagging; the first two features otherwise), lies in one quarter of the circle, and is tested on
the samples whose phase lies in the other three.  A symmetry that rotates that angle (found on all the
unlabelled data) can carry a model across; a plain model has never seen those regions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from liegan.bridge.data import TARGETS
from liegan.config import DataConfig, YKind
from liegan.io import InputError

OOD_PAIR = {"topquark": (1, 2)}  # (px, py): the azimuth; every other dataset: its first two features


@dataclass
class Split:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    def head(self, n: int) -> Split:
        """The first n training samples (training-set size curves), the same test set."""
        return Split(self.x_train[:n], self.y_train[:n], self.x_test, self.y_test)


@dataclass
class FitTask:
    """y_kind: 'vector' (y (N, k_out, n) moves with x), 'scalar' (N, m) or 'class' (N,); n_out: the output
    width for scalar and class targets; particles: x is a set of four-momenta (a tagger's input)."""

    y_kind: str
    iid: Split
    ood: Split
    n_out: int
    particles: bool
    info: dict

    @property
    def k_in(self) -> int:
        return int(self.iid.x_train.shape[1])

    @property
    def n(self) -> int:
        return int(self.iid.x_train.shape[2])

    @property
    def out_shape(self) -> tuple[int, ...]:
        return tuple(self.iid.y_train.shape[1:]) if self.y_kind == YKind.VECTOR else (self.n_out,)


def phase_quarter(x: torch.Tensor, pair: tuple[int, int]) -> torch.Tensor:
    """True where the angle of (x_i, x_j), x summed over its components, lies in [0, pi / 2)."""
    s = x.sum(1)
    phase = torch.atan2(s[:, pair[1]], s[:, pair[0]]) % (2 * math.pi)
    return phase < math.pi / 2


def ood_split(x_tr, y_tr, x_te, y_te, pair: tuple[int, int]) -> Split:
    keep_tr, keep_te = phase_quarter(x_tr, pair), ~phase_quarter(x_te, pair)
    if keep_tr.sum() < 2 or keep_te.sum() < 1:
        raise InputError(
            f"too few samples for the out-of-distribution split ({int(keep_tr.sum())} train, {int(keep_te.sum())} test)"
        )
    return Split(x_tr[keep_tr], y_tr[keep_tr], x_te[keep_te], y_te[keep_te])


def windows(traj: np.ndarray, w_in: int, w_out: int, n_windows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, T, n) trajectories -> x (N * n_windows, w_in, n), y (N * n_windows, w_out, n), window starts
    0..n_windows-1 of every trajectory."""
    if n_windows < 1 or n_windows - 1 + w_in + w_out > traj.shape[1]:
        raise InputError(
            f"{n_windows} windows of {w_in} -> {w_out} states do not fit in trajectories of {traj.shape[1]} steps"
        )
    xs = [traj[:, s : s + w_in] for s in range(n_windows)]
    ys = [traj[:, s + w_in : s + w_in + w_out] for s in range(n_windows)]
    x = np.stack(xs, 1).reshape(-1, w_in, traj.shape[2])
    y = np.stack(ys, 1).reshape(-1, w_out, traj.shape[2])
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y.astype(np.float32))


def twobody_task(cfg, data_seed: int) -> FitTask:
    """Windows of simulated two-body trajectories (``cfg``: a FitConfig)."""
    from liegan.datasets.twobody import DT, simulate

    n_win = cfg.steps - cfg.w_in - cfg.w_out
    x_tr, y_tr = windows(simulate(cfg.n_train, data_seed, "train", cfg.steps, DT), cfg.w_in, cfg.w_out, n_win)
    x_te, y_te = windows(simulate(cfg.n_test, data_seed, "test", cfg.steps, DT), cfg.w_in, cfg.w_out, n_win)
    ood = ood_split(x_tr, y_tr, x_te, y_te, (0, 1))
    info = {
        "dataset": "twobody",
        "windows": f"{cfg.w_in} -> {cfg.w_out} states, {n_win} per trajectory of {cfg.steps}",
        "n_train": len(x_tr),
        "n_test": len(x_te),
        "ood_n_train": len(ood.x_train),
        "ood_n_test": len(ood.x_test),
        "ood": "train: phase of q1 in [0, pi/2); test: the rest",
    }
    return FitTask(YKind.VECTOR, Split(x_tr, y_tr, x_te, y_te), ood, 0, False, info)


def pairs_task(dc: DataConfig, cfg, seed: int) -> FitTask:
    """The dataset's own (x, y), shuffled, capped at cfg.max_samples, a quarter held out."""
    from liegan.datasets import load_dataset

    ds = load_dataset(dc)
    kind = ds.info.y_kind
    if kind not in TARGETS or ds.y is None:
        raise InputError(f"dataset {dc.dataset!r} has no target (y kind {kind!r}); `liegan fit` trains a predictor")
    idx = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[: cfg.max_samples]
    x, y = ds.x[idx], ds.y[idx]
    n_te = max(1, len(idx) // 4)
    iid = Split(x[n_te:], y[n_te:], x[:n_te], y[:n_te])
    pair = OOD_PAIR.get(ds.info.name, (0, 1))
    if ds.info.n_dim < 2:
        raise InputError(f"dataset {dc.dataset!r} has n = 1: no phase for the out-of-distribution split")
    ood = ood_split(*vars(iid).values(), pair)
    n_out = int(y.max()) + 1 if kind == YKind.CLASS else (int(y.shape[1]) if kind == YKind.SCALAR else 0)
    names = ds.info.feature_names
    info = {
        "dataset": ds.info.name,
        "source": ds.info.source,
        "n_train": len(iid.x_train),
        "n_test": n_te,
        "ood_n_train": len(ood.x_train),
        "ood_n_test": len(ood.x_test),
        "ood": f"train: angle of ({names[pair[0]]}, {names[pair[1]]}) in [0, pi/2); test: the rest",
    }
    return FitTask(kind, iid, ood, n_out, ds.info.name == "topquark", info)
