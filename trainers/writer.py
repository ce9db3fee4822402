"""TensorBoard behind one small writer object, so the loop never touches summary APIs directly.

What a user opening ``tensorboard --logdir runs`` should see first is the result, so the tags are grouped:
  Summary/      similarity to the known symmetry, the invariant metric's cosine with the known one, the share
                of each known generator inside the learned span, the two adversarial losses, and
                ``converged`` (1 where the verdict's convergence test passes: when the answer arrived)
  loss/ reg/ disc/   the other terms of the losses and the discriminator's probabilities
  scores/ metric/   the remaining scores of trainers/scoring.py
  generators/   one image of every channel (feature names on the axes, one fixed colour scale with its bar)
                and, when the dataset declares its symmetry, the learned span written in that symmetry's
                named basis (text)
  coefficients/ a histogram of the sampled coefficients
``Summary`` is capitalised so that it sorts before the lower-case groups.  Scalars are written every
``every`` steps (chosen so that a run has about 100 points: convergence within an epoch is visible), as means
over the steps since the last point; images, texts and histograms at every IMAGE_EVERY-th point and at the
end.  The final values go to the HParams dashboard (as the last value of each Summary series) and to one
text table, never as one-point charts.  A custom-scalars layout overlays the per-generator shares and the two
losses in one chart each.  A disabled writer (non-zero ranks in distributed runs) accepts every call and
writes nothing.
For images (the grid action) also a strip of real samples above the same samples transformed, and each
generator drawn as a vector field on the image grid (generators/field_<i>).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from liegan.actions import grid_flow
from liegan.datasets.base import DatasetInfo
from liegan.io import jsonable

POINTS = 100  # scalar points per run when the cadence is automatic
IMAGE_EVERY = 10  # scalar points between two images (TensorBoard keeps 10 per tag unless told otherwise)
SUMMARY = "Summary"
N_SAMPLES = 8  # images per row of the real / transformed strip (grid action)
ARROWS = 11  # arrows per side of a generator's vector field (grid action)

# stats/score key -> tag; the first pattern that matches wins
_TAGS = [
    (r"similarity_to_truth", SUMMARY + "/similarity_to_truth"),
    (r"share_(.+)", SUMMARY + r"/share_\1"),
    (r"metric_cosine_(.+)", SUMMARY + r"/metric_cosine_\1"),
    (r"(span_chance|metric_accepted|discrete_.+|converged)", SUMMARY + r"/\1"),  # the verdict's other scores
    (r"loss/(generator|discriminator)", SUMMARY + r"/loss_\1"),
    (r"metric_(.+)", r"metric/\1"),
    (r"([^/]+)", r"scores/\1"),
]


def tag_of(key: str) -> str:
    """The TensorBoard tag of a stats or score key (keys already in a group keep it)."""
    for pattern, repl in _TAGS:
        if re.fullmatch(pattern, key):
            return re.sub(pattern, repl, key)
    return key


def cadence(total_steps: int, every: int = 0) -> int:
    """Steps between scalar points: ``every`` when set, else so that the run has about POINTS of them."""
    return every if every > 0 else max(1, total_steps // POINTS)


# matplotlib's RdBu_r, from its eleven ColorBrewer anchors (blue negative, white zero, red positive)
_RDBU_R = np.array(
    [
        [5, 48, 97],
        [33, 102, 172],
        [67, 147, 195],
        [146, 197, 222],
        [209, 229, 240],
        [247, 247, 247],
        [253, 219, 199],
        [244, 165, 130],
        [214, 96, 77],
        [178, 24, 43],
        [103, 0, 31],
    ],
    dtype=np.float64,
)


def _colour(v: np.ndarray) -> np.ndarray:
    """Values in [-1, 1] -> RGB uint8 on RdBu_r."""
    x = (np.clip(v, -1.0, 1.0) + 1.0) / 2.0 * (len(_RDBU_R) - 1)
    i = np.minimum(x.astype(int), len(_RDBU_R) - 2)
    f = (x - i)[..., None]
    return ((1 - f) * _RDBU_R[i] + f * _RDBU_R[i + 1]).round().astype(np.uint8)


def _font(size: int):
    """DejaVu Sans from matplotlib's data (found without importing matplotlib), else PIL's own font."""
    import importlib.util

    from PIL import ImageFont

    spec = importlib.util.find_spec("matplotlib")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
        if path.exists():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


def _panel(draw, image, M: np.ndarray, names: list[str], x0: int, y0: int, cell: int, fonts) -> None:
    """One channel's matrix at (x0, y0): coloured cells, values when small, feature names on both axes."""
    from PIL import Image, ImageDraw

    small, tiny = fonts
    n = len(M)
    image.paste(Image.fromarray(np.kron(_colour(M), np.ones((cell, cell, 1), np.uint8))), (x0, y0))
    draw.rectangle([x0 - 1, y0 - 1, x0 + n * cell, y0 + n * cell], outline=(0, 0, 0))
    for r, name in enumerate(names):
        c = y0 + r * cell + cell // 2
        draw.text((x0 - 4, c), name, fill=(0, 0, 0), font=small, anchor="rm")
        label = Image.new("L", (int(draw.textlength(name, font=small)) + 2, small.size + 4), 0)
        ImageDraw.Draw(label).text((1, 0), name, fill=255, font=small)
        label = label.rotate(90, expand=True) if n > 4 else label
        image.paste((0, 0, 0), (x0 + r * cell + (cell - label.width) // 2, y0 + n * cell + 4), label)
    if n <= 5:
        for (r, k), v in np.ndenumerate(M):
            draw.text(
                (x0 + k * cell + cell // 2, y0 + r * cell + cell // 2),
                f"{v:+.2f}",
                fill=(255, 255, 255) if abs(v) > 0.6 else (0, 0, 0),
                font=tiny,
                anchor="mm",
            )


def _colour_bar(draw, image, x0: int, y0: int, height: int, fonts) -> None:
    """The one colour scale of every panel, [-1, 1], with ticks and its label."""
    from PIL import Image, ImageDraw

    small, _ = fonts
    ramp = _colour(np.linspace(1.0, -1.0, height))[:, None, :].repeat(14, axis=1)
    image.paste(Image.fromarray(ramp), (x0, y0))
    draw.rectangle([x0 - 1, y0 - 1, x0 + 14, y0 + height], outline=(0, 0, 0))
    for v in (1.0, 0.5, 0.0, -0.5, -1.0):
        y = y0 + round((1.0 - v) / 2.0 * (height - 1))
        draw.line([x0 + 14, y, x0 + 18, y], fill=(0, 0, 0))
        draw.text((x0 + 21, y), f"{v:+.1f}" if v else "0", fill=(0, 0, 0), font=small, anchor="lm")
    text = "entry / largest |entry| of its channel"
    label = Image.new("L", (int(draw.textlength(text, font=small)) + 2, small.size + 4), 0)
    ImageDraw.Draw(label).text((1, 0), text, fill=255, font=small)
    label = label.rotate(90, expand=True)
    image.paste((0, 0, 0), (x0 + 56, y0 + (height - label.height) // 2), label)


def generator_figure(L: np.ndarray, names: list[str], title: str, labels: list[str] | None = None) -> np.ndarray:
    """All channels of L (c, n, n) side by side as one RGB image (H, W, 3) uint8; ``labels``: a caption
    per channel (e.g. the known generator it is closest to).

    Each channel is divided by its largest |entry| (written under its caption), so that one colour scale,
    [-1, 1] with white at zero, holds for every channel and every step: the colours compare across steps
    and channels, the captions give the magnitudes.  Drawn with PIL (a few milliseconds; matplotlib took
    seconds per image on a busy machine, as long as a hundred training steps).
    """
    from PIL import Image, ImageDraw

    c, n = L.shape[0], L.shape[-1]
    fonts = (_font(12), _font(10))
    cell = 34 if n <= 5 else (22 if n <= 10 else 12)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    margin = int(max(measure.textlength(nm, font=fonts[0]) for nm in names)) + 8
    cols = min(c, 4)
    rows = -(-c // cols)
    pw, ph = margin + n * cell + 16, 38 + n * cell + margin + 8  # one panel: captions, matrix, x labels
    width, height = cols * pw + 90, 26 + rows * ph
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.text((width // 2, 6), title, fill=(0, 0, 0), font=fonts[0], anchor="mt")
    for i, M in enumerate(L):
        x0, y0 = (i % cols) * pw + margin, 26 + (i // cols) * ph + 36
        peak = float(np.abs(M).max())
        caption = f"L{i}" + (f" {labels[i]}" if labels else "")
        draw.text((x0 + n * cell // 2, y0 - 34), caption, fill=(0, 0, 0), font=fonts[0], anchor="mt")
        draw.text(
            (x0 + n * cell // 2, y0 - 18), f"max |entry| {peak:.3g}", fill=(60, 60, 60), font=fonts[1], anchor="mt"
        )
        _panel(draw, image, M / peak if peak > 0 else M, names, x0, y0, cell, fonts)
    _colour_bar(draw, image, cols * pw + 8, 62, min(height - 90, 240), fonts)
    return np.asarray(image)


def in_named_basis(L: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each learned channel as a combination of the known generators, all scaled to unit Frobenius norm:
    coefficients (c, d) and the norm of the part outside the known span (c,)."""
    unit = lambda A: A / np.maximum(np.linalg.norm(A, axis=(-2, -1), keepdims=True), 1e-300)  # noqa: E731
    Lh, Th = unit(np.asarray(L, np.float64)), unit(np.asarray(T, np.float64))
    B = Th.reshape(len(Th), -1).T  # (n*n, d)
    flat = Lh.reshape(len(Lh), -1)
    coef = np.linalg.lstsq(B, flat.T, rcond=None)[0].T
    return coef, np.linalg.norm(flat - coef @ B.T, axis=-1)


def named_basis_table(coef: np.ndarray, outside: np.ndarray, names: list[str]) -> str:
    """:func:`in_named_basis` as a markdown table: | L0 | +0.98 (K_x) | ... | outside 0.02 |."""
    head = "| channel | " + " | ".join(names) + " | outside the known span |\n" + "|---" * (len(names) + 2) + "|\n"
    rows = "".join(
        f"| L{i} | " + " | ".join(f"{v:+.3f}" for v in row) + f" | {out:.3f} |\n"
        for i, (row, out) in enumerate(zip(coef, outside, strict=True))
    )
    return head + rows


def closest_labels(coef: np.ndarray, outside: np.ndarray, names: list[str]) -> list[str]:
    """Per channel: the known generator with the largest coefficient, e.g. '~ +0.99 K_x', or 'outside'
    when most of the channel is outside the known span."""
    out = []
    for row, rest in zip(coef, outside, strict=True):
        j = int(np.argmax(np.abs(row)))
        out.append(f"outside the span ({rest:.2f})" if rest > abs(row[j]) else f"~ {row[j]:+.2f} {names[j]}")
    return out


def matrix_table(M: np.ndarray, names: list[str]) -> str:
    """A markdown table of M with feature names on both axes (TensorBoard renders markdown text)."""
    head = "| | " + " | ".join(names) + " |\n|" + "---|" * (len(names) + 1) + "\n"
    rows = "".join(
        f"| **{nm}** | " + " | ".join(f"{v:+.3f}" for v in row) + " |\n" for nm, row in zip(names, M, strict=True)
    )
    return head + rows


def sample_strip(x: torch.Tensor, gx: torch.Tensor, n: int = N_SAMPLES) -> np.ndarray:
    """Real images x (b, C, H, W) in the top row, the same images transformed (gx) below: (2H, nW, 3) RGB,
    grey from the first channel unless there are three, both rows on one intensity scale."""
    rows = []
    for batch in (x[:n], gx[:n]):
        imgs = batch.detach().float().cpu()
        imgs = imgs[:, :3] if imgs.shape[1] == 3 else imgs[:, :1].expand(-1, 3, -1, -1)
        rows.append(torch.cat(list(imgs), dim=2))  # (3, H, nW)
    strip = torch.cat(rows, dim=1).permute(1, 2, 0).numpy()
    lo, hi = float(strip.min()), float(strip.max())
    return ((strip - lo) / (hi - lo) if hi > lo else np.zeros_like(strip)).astype(np.float32)


def vector_field(L: np.ndarray, pixels: int = 240) -> np.ndarray:
    """(pixels, pixels, 3) RGB picture of how image content moves under exp(tL), t > 0
    (liegan.actions.grid_flow): ARROWS x ARROWS arrows on the normalised square [-1, 1]^2, v pointing down as
    in the images, the longest arrow one grid spacing.  Drawn with PIL (matplotlib takes seconds per image on
    a busy machine)."""
    from PIL import Image, ImageDraw

    flow = grid_flow(L, ARROWS).numpy()
    longest = float(np.linalg.norm(flow, axis=-1).max())
    spacing = pixels / (ARROWS + 1)
    scale = spacing / longest if longest > 0 else 0.0
    image = Image.new("RGB", (pixels, pixels), "white")
    draw = ImageDraw.Draw(image)
    for i in range(ARROWS):  # row: v
        for j in range(ARROWS):  # column: u
            cx, cy = (j + 1) * spacing, (i + 1) * spacing
            du, dv = flow[i, j] * scale
            tail, tip = (cx - du / 2, cy - dv / 2), (cx + du / 2, cy + dv / 2)
            draw.line([tail, tip], fill=(31, 119, 180), width=2)
            back, side = np.array([-du, -dv]) * 0.3, np.array([dv, -du]) * 0.15
            for head in (back + side, back - side):
                draw.line([tip, (tip[0] + head[0], tip[1] + head[1])], fill=(31, 119, 180), width=2)
    return (np.asarray(image) / 255.0).astype(np.float32)


class RunWriter:
    """info: the dataset's DatasetInfo (feature names, known symmetry); every: steps between scalar points."""

    def __init__(self, run_dir: Path | None, info: DatasetInfo, every: int, enabled: bool = True):
        self.info, self.every = info, every
        self.names = list(info.feature_names)
        self.points = 0  # scalar points written by this process (images at every IMAGE_EVERY-th)
        self.imaged_at: int | None = None  # the step of the latest images
        self.window: dict[str, torch.Tensor] = {}  # per-step statistics summed since the last point
        self.window_steps = 0
        self.grid = info.action == "grid"  # images: sample strips and vector fields too
        self.tb = None
        if enabled and run_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(log_dir=str(run_dir))
            self._layout()

    @property
    def enabled(self) -> bool:
        return self.tb is not None

    @property
    def symmetry_names(self) -> list[str]:
        return list(self.info.symmetry.generator_names)

    def _layout(self) -> None:
        """The custom-scalars dashboard: the shares of the known generators in one chart, the losses in one."""
        summary = {"losses (generator, discriminator)": ["Multiline", [SUMMARY + "/loss_.*"]]}
        if self.info.symmetry is not None and self.info.symmetry.dim > 1:
            summary[f"share of each {self.info.symmetry.name} generator in the learned span"] = [
                "Multiline",
                [SUMMARY + "/share_.*"],
            ]
        self.tb.add_custom_scalars({SUMMARY: summary})

    # ------------------------------------------------------------------------------------------ per step
    def due(self, step: int) -> bool:
        """Whether step ``step`` (counted from 1) ends a scalar interval."""
        return step % self.every == 0

    def accumulate(self, stats: dict[str, torch.Tensor]) -> None:
        """Add one step's statistics (summed on the device: no host sync per step)."""
        if self.tb:
            for k, v in stats.items():
                self.window[k] = self.window.get(k, 0.0) + v.detach()
            self.window_steps += 1

    def point(
        self, step: int, scores: dict[str, float], L: np.ndarray, z: torch.Tensor | None, final: bool = False
    ) -> None:
        """Write the means since the last point and ``scores`` at ``step``; images, texts and the histogram
        at every IMAGE_EVERY-th point and when ``final``."""
        if not self.tb:
            return
        values = dict(scores)
        if self.window_steps:
            means = torch.stack([v.float() for v in self.window.values()]).cpu() / self.window_steps
            values |= dict(zip(self.window, means.tolist(), strict=True))
        for k, v in values.items():
            self.tb.add_scalar(tag_of(k), v, step)
        self.window, self.window_steps = {}, 0
        if self.points % IMAGE_EVERY == 0 or final:
            self.images(L, z, step)
        self.points += 1

    def samples(self, x: torch.Tensor, gx: torch.Tensor, step: int) -> None:
        """Images only: real samples beside the generator's transformations of them, with the other images."""
        if self.tb and self.grid and self.imaged_at == step:
            self.tb.add_image("samples/real_top_transformed_bottom", sample_strip(x, gx), step, dataformats="HWC")

    def last(self, step: int, scores: dict[str, float], L: np.ndarray, z: torch.Tensor | None) -> None:
        """At the end of a run (or a signal): the point and images of ``step`` unless already written."""
        if self.window_steps:
            self.point(step, scores, L, z, final=True)
        elif self.imaged_at != step:
            self.images(L, z, step)

    def images(self, L: np.ndarray, z: torch.Tensor | None, step: int) -> None:
        self.imaged_at = step
        labels = None
        if self.info.symmetry is not None:
            coef, outside = in_named_basis(L, self.info.symmetry.generators)
            labels = closest_labels(coef, outside, self.symmetry_names)
            name = self.info.symmetry.name
            self.tb.add_text(
                "generators/in_named_basis",
                f"The learned channels in the basis of {name} (every matrix scaled to unit norm):"
                "\n\n" + named_basis_table(coef, outside, self.symmetry_names),
                step,
            )
        title = f"{self.info.name}: learned generators at step {step}"
        image = generator_figure(L, self.names, title, labels)
        self.tb.add_image("generators/all_channels", image, step, dataformats="HWC")
        if self.grid:
            for i, M in enumerate(L):
                self.tb.add_image(f"generators/field_{i}", vector_field(M), step, dataformats="HWC")
        tables = "\n\n".join(f"**L{i}**\n\n" + matrix_table(M, self.names) for i, M in enumerate(L))
        self.tb.add_text("generators/matrices", tables, step)
        if z is not None:
            self.tb.add_histogram("coefficients/z", z.detach().cpu().float(), step)

    def scalars(self, values: dict[str, float], step: int) -> None:
        """Write ``values`` at ``step`` as they are (pipelines other than the adversarial loop, e.g. the
        bridge, whose keys already name their group)."""
        if self.tb:
            for k, v in values.items():
                self.tb.add_scalar(tag_of(k), v, step)

    # ---------------------------------------------------------------------------------------------- end
    def text(self, tag: str, text: str, step: int) -> None:
        """A text summary (the verdict: SUMMARY + '/verdict')."""
        if self.tb:
            self.tb.add_text(tag, text, step)

    def final(self, hparams: dict, metrics: dict, step: int) -> None:
        """The HParams dashboard entry (metrics: the last value of each Summary series) and a text table of
        every final value, written into this run's own event file (SummaryWriter.add_hparams would open a
        second one)."""
        if not self.tb:
            return
        from torch.utils.tensorboard.summary import hparams as hparams_summary

        clean = {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in hparams.items()}
        shown = {
            tag_of(k): v
            for k, v in metrics.items()
            if isinstance(v, (int, float)) and tag_of(k).startswith(SUMMARY + "/")
        }
        writer = self.tb._get_file_writer()
        for summary in hparams_summary(clean, shown):
            writer.add_summary(summary)
        fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
        rows = "".join(f"| {k} | {fmt(v)} |\n" for k, v in jsonable(metrics).items())
        # after Summary/verdict in the sorted Text tab: the words first, then the numbers
        head = f"Final values (step {step}):\n\n| quantity | value |\n|---|---|\n"
        self.tb.add_text(SUMMARY + "/verdict_scores", head + rows, step)

    def close(self) -> None:
        if self.tb:
            self.tb.flush()
            self.tb.close()
