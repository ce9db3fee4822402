"""TensorBoard behind one small writer object, so the loop never touches summary APIs directly.

Per epoch: scalars (losses, regularisers, scores), an image of every generator channel (diverging colour
map with symmetric limits, so white is zero and the colour's sign reads directly), the matrices as a text
table, and a histogram of the sampled coefficients.  At the end: hparams with the final scores.
A disabled writer (non-zero ranks in distributed runs) accepts every call and writes nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

CELL = 24  # pixels per matrix entry in generator images


def heatmap(M: np.ndarray, lim: float) -> np.ndarray:
    """(n, n) matrix -> (n*CELL, n*CELL, 3) RGB float image with the RdBu_r map on [-lim, lim]."""
    from matplotlib import colormaps

    v = np.clip(M / lim, -1.0, 1.0) if lim > 0 else np.zeros_like(M)
    rgb = colormaps["RdBu_r"]((v + 1.0) / 2.0)[..., :3]
    return np.kron(rgb, np.ones((CELL, CELL, 1))).astype(np.float32)


def matrix_table(M: np.ndarray, names: list[str]) -> str:
    """A markdown table of M with feature names on both axes (TensorBoard renders markdown text)."""
    head = "| | " + " | ".join(names) + " |\n|" + "---|" * (len(names) + 1) + "\n"
    rows = "".join(f"| **{nm}** | " + " | ".join(f"{v:+.3f}" for v in row) + " |\n"
                   for nm, row in zip(names, M, strict=True))
    return head + rows


class RunWriter:
    def __init__(self, run_dir: Path | None, feature_names: list[str], enabled: bool = True):
        self.names = feature_names
        self.tb = None
        if enabled and run_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(log_dir=str(run_dir))

    def scalars(self, values: dict[str, float], step: int) -> None:
        if self.tb:
            for k, v in values.items():
                self.tb.add_scalar(k, v, step)

    def generators(self, L: np.ndarray, step: int) -> None:
        if not self.tb:
            return
        lim = float(np.abs(L).max())
        for i, M in enumerate(L):
            self.tb.add_image(f"generators/channel_{i}", heatmap(M, lim), step, dataformats="HWC")
            self.tb.add_text(f"generators/channel_{i}", matrix_table(M, self.names), step)

    def coefficients(self, z: torch.Tensor, step: int) -> None:
        if self.tb:
            self.tb.add_histogram("coefficients/z", z.detach().cpu().float(), step)

    def hparams(self, hparams: dict, metrics: dict[str, float]) -> None:
        """The HParams dashboard entry, written into this run's own event file (SummaryWriter.add_hparams
        would open a second one)."""
        if self.tb:
            from torch.utils.tensorboard.summary import hparams as hparams_summary

            clean = {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in hparams.items()}
            final = {f"final/{k}": v for k, v in metrics.items()}
            writer = self.tb._get_file_writer()
            for summary in hparams_summary(clean, final):
                writer.add_summary(summary)
            for k, v in final.items():
                self.tb.add_scalar(k, v)

    def close(self) -> None:
        if self.tb:
            self.tb.flush()
            self.tb.close()
