"""Configuration: one dataclass per component, composed per command.

Resolution order for ``liegan train`` (later wins): the defaults below < the dataset's preset <
``--config file.toml`` < command-line options.  The resolved config is written to the run folder as
``config.toml`` and stored in checkpoints and in ``algebra.json``, so nothing has to be retyped.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from liegan.io import InputError


@dataclass
class DataConfig:
    dataset: str = "twobody"  # a registered name: `liegan datasets` lists them
    data_file: str | None = None  # the user's own file (HNN pickle, .npz/.h5, a top-tagging .h5)
    data_dir: str | None = None  # where built-in data is cached; else $LIEGAN_DATA, else the user cache
    y_kind: str | None = None  # custom data: 'vector', 'scalar', 'class' or 'none'
    n_samples: int | None = None  # cap on samples used (simulators: how many to make)
    split: str = "train"  # for datasets shipped as train/val/test files
    constituents: int = 2  # top tagging: leading constituents per jet, as published
    seed: int = 0  # simulators: the data are a pure function of this seed


@dataclass
class GeneratorConfig:
    channels: int = 1  # c: dimension of the algebra searched
    mask: str = "none"  # 'none' | 'blocks:2,2,2,2' | 'twobody4x4' | path to a .npy/.npz mask
    init: str = "normal"  # 'normal' or 'uniform' entries of scale init_scale
    init_scale: float = 0.1  # small but non-zero: the identity regulariser then grows useful directions
    coefficients: str = "normal"  # 'normal' (sigma), 'uniform' (+-bound), 'integer' (int_low..int_high)
    sigma: float = 1.0
    bound: float = 1.0
    int_low: int = -10
    int_high: int = 9
    subgroup: bool = False  # freeze L and learn the coefficients' mean and covariance instead
    # > 0: each channel's effective matrix is rescaled to this Frobenius norm, so only directions are learnt
    # and sigma alone sets how far the sampled transformations reach (0: off, the norms are learnt too)
    fixed_norm: float = 0.0


@dataclass
class DiscriminatorConfig:
    hidden: list[int] = field(default_factory=lambda: [512, 512])  # the paper's widths
    negative_slope: float = 0.2  # LeakyReLU, as published
    embed_dim: int = 32  # class-label embedding for class-conditional data


@dataclass
class TrainConfig:
    epochs: int = 100
    batch_size: int = 64
    lr_g: float = 1e-3
    lr_d: float = 2e-4
    # 'cosine': both learning rates follow half a cosine from their value down to lr_floor times it over the
    # run, which settles the generators instead of leaving them swinging with the last epochs' noise
    # (top tagging: metric |cos| 0.9995 -> 0.99997 and the diagonal within 1.5 % instead of 6 %).
    lr_schedule: str = "constant"
    lr_floor: float = 0.05
    betas_g: list[float] = field(default_factory=lambda: [0.5, 0.999])
    betas_d: list[float] = field(default_factory=lambda: [0.5, 0.999])
    lambda_id: float = 1.0  # weight of the identity regulariser R_id
    # Optional schedule of that weight (see lambda_id_at): lambda_id until epoch lambda_decay[0], then linear
    # to lambda_id_final at epoch lambda_decay[1], then held.  R_id only has to push the generator away from
    # the identity until the discriminator has learnt the data; a weight that stays on keeps pulling the
    # generator off the symmetry the discriminator then holds it at (rotation7: 5% off 2pi/7 at weight 0.3).
    lambda_id_final: float | None = None  # None: a constant lambda_id (no schedule)
    lambda_decay: list[int] = field(default_factory=lambda: [0, 0])  # [start, end] epoch of the linear decay
    eta_ch: float = 0.0  # weight of channel orthogonality R_ch (matters for c > 1)
    orth_form: str = "frobenius"  # or 'killing'
    mu_reg: float = 0.0  # weight of ||L * M||_p (sparsity when p = 1)
    reg_p: float = 1.0
    seed: int = 0
    device: str = "auto"  # 'auto' picks CUDA when present
    # CPU threads for torch.  The matrices are tiny (n <= 8, widths of a few hundred), so intra-op threading
    # costs more in synchronisation than it gains: measured 8.5 ms/step with 1 thread vs 400 ms with 2 on a
    # loaded 2-core machine.  0 keeps torch's default.
    threads: int = 1
    # faults (see liegan.trainers.faults): a channel norm that explodes, a discriminator that separates
    # everything for collapse_steps steps, or a non-finite loss triggers up to fault_retries recoveries
    max_generator_norm: float = 1e3  # a healthy two-body run peaks near 9; 0 disables the check
    collapse_prob: float = 1e-3
    collapse_steps: int = 200  # 0 disables the check
    fault_retries: int = 2
    checkpoint_every: int = 10  # epochs; a checkpoint is also written at the end and on Ctrl-C
    log_every: int = 0  # steps between TensorBoard scalars (0: about 100 per run); images every 10th

    def lr_factor(self, epoch: float) -> float:
        """The learning rates' multiplier at a (fractional) epoch under lr_schedule."""
        if self.lr_schedule == "constant":
            return 1.0
        if self.lr_schedule == "cosine":
            progress = min(max(epoch / max(self.epochs, 1), 0.0), 1.0)
            return self.lr_floor + (1.0 - self.lr_floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
        raise InputError(f"unknown lr_schedule {self.lr_schedule!r} (constant, cosine)")

    def lambda_id_at(self, epoch: float) -> float:
        """R_id's weight at a (fractional) epoch: lambda_id, or the schedule set by lambda_id_final."""
        if self.lambda_id_final is None:
            return self.lambda_id
        start, end = self.lambda_decay
        if epoch <= start:
            return self.lambda_id
        if epoch >= end:
            return self.lambda_id_final
        return self.lambda_id + (self.lambda_id_final - self.lambda_id) * (epoch - start) / (end - start)


@dataclass
class RunConfig:
    logdir: str = "runs"
    name: str | None = None  # run folder is <logdir>/<name>; default <dataset>-<yyyymmdd-hhmmss>
    preset: str = "default"  # which of the dataset's presets to start from


@dataclass
class TrainCommandConfig:
    data: DataConfig = field(default_factory=DataConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)



# `liegan bridge`: a predictor fitted on the run's data, and the parameter-space uses of the algebra


@dataclass
class PredictorConfig:
    model: str = "mlp"  # hidden activation: 'mlp' (ReLU), 'leaky' (leaky ReLU) or 'linear' (identity)
    hidden: list[int] = field(default_factory=lambda: [32, 32])
    max_samples: int = 20_000  # smaller sets let a top-tagging classifier overfit (test loss above ln 2)
    test_fraction: float = 0.25
    fit_steps: int = 600  # Adam, full batch
    fit_lr: float = 3e-3
    seed: int = 0


@dataclass
class InvarianceConfig:
    t: float = 0.1  # step along each generator for the loss-invariance figures
    n_random: int = 8  # random generators of equal norm the discovered ones are compared with


@dataclass
class EnsembleConfig:
    members: int = 16
    sigma: float | None = None  # None: the coefficient spread the algebra was trained with


@dataclass
class DescentConfig:
    """Plain descent from a fresh start against the same descent with teleportation (same seed, steps)."""

    steps: int = 300
    lr: float = 0.05
    batch_size: int = 0  # 0: full batch
    teleport_at: list[int] = field(default_factory=lambda: [0])  # steps at which to teleport
    teleport_every: int = 0  # also every K steps (0: only at teleport_at)
    # 'exact': the architecture's own symmetry (GL_h, neuron rescaling) on the whole training set; 'data': the
    # data-dependent action on every pair of consecutive layers, on mini-batches
    teleport_action: str = "exact"
    teleport_batches: int = 1  # 'data': mini-batches the group element is optimised over, one after another
    teleport_batch_size: int = 0  # 0: the narrowest hidden width (the data-dependent action is exact up to it)
    teleport_steps: int = 20  # ascent steps on the group element per batch
    teleport_lr: float = 0.2
    objective: str = "grad_norm"  # 'grad_norm' (||grad L||^2) or 'lookahead' (the loss decrease of one step)
    loss_tol: float = 1e-6  # a teleport step that moves the batch loss by more than this (relative) is refused
    target: float = 0.5  # the speed-up is measured to this fraction of the initial training loss


@dataclass
class BridgeConfig:
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    invariance: InvarianceConfig = field(default_factory=InvarianceConfig)
    ensemble: EnsembleConfig = field(default_factory=EnsembleConfig)
    descent: DescentConfig = field(default_factory=DescentConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# -------------------------------------------------------------------------------------------------------


def _coerce(value: Any, typ: Any, where: str) -> Any:
    """Convert a TOML or command-line value to the field's declared type, with a clear error."""
    s = str(typ)
    if value is None:
        return None
    try:
        if "list[" in s:
            item = int if "list[int]" in s else float
            items = value
            if isinstance(value, str):  # "64,64" from --set, or the TOML-looking "[64, 64]"
                items = [v for v in value.strip().removeprefix("[").removesuffix("]").split(",") if v.strip()]
            return [item(v) for v in items]
        if typ is bool or s.startswith("bool"):
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                return value.lower() in ("true", "1", "yes")
            return bool(value)
        if typ is int or s.startswith("int"):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if typ is float or s.startswith("float"):
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise InputError(f"{where}: cannot use {value!r} as {s}") from None


def apply_overrides(cfg: TrainCommandConfig, overrides: dict, source: str = "override") -> TrainCommandConfig:
    """Apply {'section': {'field': value}} (or flat {'section.field': value}) in place; unknown keys are
    errors, not silently ignored."""
    flat: dict[str, Any] = {}
    for k, v in overrides.items():
        if isinstance(v, dict):
            flat.update({f"{k}.{kk}": vv for kk, vv in v.items()})
        else:
            flat[k] = v
    for key, value in flat.items():
        section_name, _, name = key.partition(".")
        section = getattr(cfg, section_name, None)
        if section is None or not dataclasses.is_dataclass(section) or not name:
            sections = [f.name for f in dataclasses.fields(cfg)]
            raise InputError(f"{source}: unknown config section in {key!r} (sections: {sections})")
        hints = get_type_hints(type(section))
        if name not in hints:
            raise InputError(f"{source}: unknown option {key!r} (known: {sorted(hints)})")
        setattr(section, name, _coerce(value, hints[name], f"{source}: {key}"))
    return cfg


def load_toml(path: str | Path) -> dict:
    path = Path(path)
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise InputError(f"{path}: not a valid TOML config ({e})") from None


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_toml(sections: dict, header: str = "") -> str:
    """Write {'section': {'key': scalar-or-list}} as TOML (None values are omitted: TOML has no null)."""
    lines = [f"# {line}" for line in header.splitlines()]
    for name, body in sections.items():
        lines.append(f"\n[{name}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in body.items() if v is not None]
    return "\n".join(lines).lstrip("\n") + "\n"


def config_from_dict(d: dict) -> TrainCommandConfig:
    """Rebuild a config from its dict form (checkpoints, config.toml)."""
    return apply_overrides(TrainCommandConfig(), d, source="saved config")
