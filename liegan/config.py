"""Configuration: one dataclass per component, composed per command.

Resolution order for ``liegan train`` (later wins): the defaults below < the dataset's preset <
``--config file.toml`` < command-line options.  The resolved config is written to the run folder as
``config.toml`` and stored in checkpoints and in ``algebra.json``, so nothing has to be retyped.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import math
import re
import stat
import tomllib
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from liegan.io import InputError

# Size limits, so a typo cannot ask for a 23 TiB allocation: an algebra of n x n matrices has dimension at
# most n^2 (256 covers n = 16); the published discriminator is 512 wide.
MAX_CHANNELS = 256
MAX_WIDTH = 16384  # discriminator and embedding widths
MAX_LAYERS = 16
MAX_SEED = 2**32 - 1  # numpy's global seeding takes 32 bits
MAX_EPOCHS = 10**6
MAX_BATCH = 2**24
MAX_SAMPLES = 10**9


def limits(
    lo: float | None = None,
    hi: float | None = None,
    *,
    above: bool = False,
    below: bool = False,
    length: tuple[int, int] | None = None,
) -> dict:
    """Field metadata: the allowed range of a number (of each item of a list; ``above``/``below`` exclude the
    end), and a list's allowed length.  Floats must be finite in any case."""
    return {"lo": lo, "hi": hi, "above": above, "below": below, "length": length}


class YKind(enum.StrEnum):
    """What a dataset's y is: a vector that transforms with x, a scalar (N, m), a class label (N,), or none.

    Values are kept as plain strings wherever they are stored (configs, DatasetInfo, checkpoints, JSON):
    a member compares equal to its string, so code compares against the members and a typo is an
    AttributeError instead of a branch that is never taken."""

    VECTOR = "vector"
    SCALAR = "scalar"
    CLASS = "class"
    NONE = "none"


def _num(default, **kw):
    return field(default=default, metadata=limits(**kw))


def _list(default: list, **kw):
    return field(default_factory=lambda: list(default), metadata=limits(**kw))


@dataclass
class DataConfig:
    dataset: str = "twobody"  # a registered name: `liegan datasets` lists them
    data_file: str | None = None  # the user's own file (HNN pickle, .npz/.h5, a top-tagging .h5)
    data_dir: str | None = None  # where built-in data is cached; else $LIEGAN_DATA, else the user cache
    y_kind: YKind | None = None  # custom data: what y is
    n_samples: int | None = _num(None, lo=1, hi=MAX_SAMPLES)  # cap on samples used (simulators: how many)
    split: Literal["train", "val", "test"] = "train"  # for datasets shipped as train/val/test files
    constituents: int = _num(2, lo=1, hi=200)  # top tagging: leading constituents per jet (the files hold 200)
    seed: int = _num(0, lo=0, hi=MAX_SEED)  # simulators: the data are a pure function of this seed


@dataclass
class GeneratorConfig:
    channels: int = _num(1, lo=1, hi=MAX_CHANNELS)  # c: dimension of the algebra searched
    mask: str = "none"  # 'none' | 'blocks:2,2,2,2' | 'twobody4x4' | path to a .npy/.npz mask
    init: Literal["normal", "uniform"] = "normal"  # entries of scale init_scale
    init_scale: float = _num(0.1, lo=0, above=True, hi=1e3)  # small but non-zero: R_id then grows directions
    coefficients: Literal["normal", "uniform", "integer"] = "normal"  # sigma, +-bound, int_low..int_high
    sigma: float = _num(1.0, lo=0, above=True, hi=1e3)
    bound: float = _num(1.0, lo=0, above=True, hi=1e3)
    int_low: int = _num(-10, lo=-1000, hi=1000)
    int_high: int = _num(9, lo=-1000, hi=1000)
    # subgroup mode (the original LieGAN's lie_subgrp): L is the basis of the algebra file subgroup_from, kept
    # fixed, and only the coefficients' mean and covariance are learnt; --subgroup-from FILE turns it on
    subgroup: bool = False
    subgroup_from: str | None = None  # run folder, algebra.npz or an exported algebra file
    # > 0: each channel's effective matrix is rescaled to this Frobenius norm, so only directions are learnt
    # and sigma alone sets how far the sampled transformations reach (0: off, the norms are learnt too)
    fixed_norm: float = _num(0.0, lo=0, hi=1e3)
    # > 0: the exported algebra is the mean of the effective generators over this final fraction of the run's
    # steps (0: the last step's).  The adversarial game keeps a generator swinging about the symmetry by a few
    # percent from step to step; the mean of a settled basis sits closer to it (the matrices are averaged, so
    # the basis must not flip sign or turn within its span over the window).  A run that stops before the
    # window opens (train.stop_when_converged) exports its last step's, and algebra.json has no averaged_steps
    average: float = _num(0.0, lo=0, hi=1, below=True)


@dataclass
class DiscriminatorConfig:
    hidden: list[int] = _list([512, 512], lo=1, hi=MAX_WIDTH, length=(0, MAX_LAYERS))  # the paper's widths ([]: linear)
    negative_slope: float = _num(0.2, lo=0, hi=1)  # LeakyReLU, as published
    embed_dim: int = _num(32, lo=1, hi=MAX_WIDTH)  # class-label embedding for class-conditional data
    # images (the grid action): widths of the stride-2 3x3 convolutions in front of the MLP head; three
    # halve a 28 x 28 digit to 4 x 4 and cost ~2 ms per batch of 64 on one CPU thread
    conv_channels: list[int] = _list([16, 32, 32], lo=1, hi=MAX_WIDTH, length=(0, MAX_LAYERS))
    # images: a fixed k x k box blur in front of the convolutions (0 or 1: none).  Resampling on the grid
    # smooths an image a little; a sharp-eyed discriminator tells transformed images by that smoothing
    # alone, whatever the transformation, and drives every generator to the identity
    blur: int = _num(3, lo=0, hi=31)


@dataclass
class TrainConfig:
    epochs: int = _num(100, lo=1, hi=MAX_EPOCHS)
    batch_size: int = _num(64, lo=1, hi=MAX_BATCH)
    lr_g: float = _num(1e-3, lo=0, hi=1)
    lr_d: float = _num(2e-4, lo=0, hi=1)
    # 'cosine': both learning rates follow half a cosine from their value down to lr_floor times it over the
    # run, which settles the generators instead of leaving them swinging with the last epochs' noise.
    lr_schedule: Literal["constant", "cosine"] = "constant"
    lr_floor: float = _num(0.05, lo=0, hi=1)
    betas_g: list[float] = _list([0.5, 0.999], lo=0, hi=1, below=True, length=(2, 2))  # Adam's, each in [0, 1)
    betas_d: list[float] = _list([0.5, 0.999], lo=0, hi=1, below=True, length=(2, 2))
    lambda_id: float = _num(1.0, lo=0, hi=1e6)  # weight of the identity regulariser R_id
    # where R_id compares gx with x: 'data' (the vectors, or the images' pixels) or, for images, 'fourier'
    # (the magnitudes of their 2-D Fourier transforms, which translations leave unchanged: moving a digit
    # around then earns nothing against R_id, so only the linear part of an affine map can)
    identity_space: Literal["data", "fourier"] = "data"
    # Optional schedule of that weight (see lambda_id_at): lambda_id until epoch lambda_decay[0], then linear
    # to lambda_id_final at epoch lambda_decay[1], then held.  R_id only has to push the generator away from
    # the identity until the discriminator has learnt the data; a weight that stays on keeps pulling the
    # generator off the symmetry the discriminator then holds it at.
    lambda_id_final: float | None = _num(None, lo=0, hi=1e6)  # None: a constant lambda_id (no schedule)
    lambda_decay: list[int] = _list([0, 0], lo=0, hi=MAX_EPOCHS, length=(2, 2))  # [start, end] epochs
    eta_ch: float = _num(0.0, lo=0, hi=1e6)  # weight of channel orthogonality R_ch (matters for c > 1)
    orth_form: Literal["frobenius", "killing"] = "frobenius"
    mu_reg: float = _num(0.0, lo=0, hi=1e6)  # weight of ||L * M||_p (sparsity when p = 1)
    reg_p: float = _num(1.0, lo=1, hi=100)  # a norm needs p >= 1
    seed: int = _num(0, lo=0, hi=MAX_SEED)
    device: str = "auto"  # 'auto' picks CUDA when present; else cpu, cuda or cuda:N
    # CPU threads for torch.  The matrices are tiny (n <= 8, widths of a few hundred), so intra-op threading
    # costs more in synchronisation than it gains on a loaded machine.  0 keeps torch's default.
    threads: int = _num(1, lo=0, hi=1024)
    # faults (see liegan.trainers.faults): a channel norm that explodes, a discriminator that separates
    # everything for collapse_steps steps, or a non-finite loss triggers up to fault_retries recoveries
    max_generator_norm: float = _num(1e3, lo=0)  # a healthy two-body run peaks near 9; 0 disables the check
    collapse_prob: float = _num(1e-3, lo=0, hi=0.5)
    collapse_steps: int = _num(200, lo=0, hi=10**9)  # 0 disables the check
    fault_retries: int = _num(2, lo=0, hi=100)
    checkpoint_every: int = _num(10, lo=1, hi=MAX_EPOCHS)  # epochs; also written at the end and on Ctrl-C
    # steps between TensorBoard scalars (0: about 100 per run); images every 10th
    log_every: int = _num(0, lo=0, hi=10**9)
    # End the run at the first scoring point (the scalar cadence) where the verdict's own convergence test
    # passes (liegan.verdict: the targets met, the score steady over the window): the answer the verdict
    # calls converged, got sooner, with its checkpoint and final scores at that step.  Off by default: a run
    # that stops early skips the rest of its learning-rate decay.
    stop_when_converged: bool = False

    def lr_factor(self, epoch: float) -> float:
        """The learning rates' multiplier at a (fractional) epoch under lr_schedule."""
        if self.lr_schedule == "constant":
            return 1.0
        progress = min(max(epoch / self.epochs, 0.0), 1.0)
        return self.lr_floor + (1.0 - self.lr_floor) * 0.5 * (1.0 + math.cos(math.pi * progress))

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


# a run name is one folder inside the logdir: no separators, no '..', nothing hidden, not too long
RUN_NAME = re.compile(r"[A-Za-z0-9_+=@,-][A-Za-z0-9_.+=@,-]{0,99}")
DEVICE = re.compile(r"auto|cpu|cuda(:\d{1,3})?")


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

    def _where(self, key: str) -> str:
        return self.__dict__.get("origins", {}).get(key, key)

    def check(self) -> TrainCommandConfig:
        """Every field within its type and limits, and the rules between fields; the first violation as an
        InputError naming where the value came from.  Returns self."""
        check_fields(self)
        g, t, r = self.generator, self.train, self.run
        if g.int_low > g.int_high:
            raise InputError(
                f"{self._where('generator.int_low')}: {g.int_low} is above generator.int_high "
                f"{g.int_high}; allowed: int_low <= int_high"
            )
        if t.lambda_decay[0] > t.lambda_decay[1]:
            raise InputError(
                f"{self._where('train.lambda_decay')}: got {t.lambda_decay}; allowed: [start, end] "
                "epochs with start <= end"
            )
        if g.subgroup and not g.subgroup_from:
            raise InputError(
                f"{self._where('generator.subgroup')}: subgroup mode keeps a given basis fixed; name its "
                "algebra file with --subgroup-from FILE (generator.subgroup_from)"
            )
        if not DEVICE.fullmatch(t.device):
            raise InputError(f"{self._where('train.device')}: got {t.device!r}; allowed: auto, cpu, cuda or cuda:N")
        if r.name is not None and not RUN_NAME.fullmatch(r.name):
            raise InputError(
                f"{self._where('run.name')}: got {_show(r.name)}; allowed: a folder name inside the "
                "logdir, up to 100 letters, digits and . _ + = @ , - (not starting with '.')"
            )
        if not r.logdir:
            raise InputError(f"{self._where('run.logdir')}: got an empty path; allowed: a folder")
        return self


# `liegan bridge`: a predictor fitted on the run's data, and the parameter-space uses of the algebra


MAX_STEPS = 10**7  # optimiser steps of one bridge stage
MAX_MEMBERS = 10_000  # ensemble members and random controls: each is a copy of the predictor's forward pass


@dataclass
class PredictorConfig:
    model: str = "mlp"  # hidden activation: 'mlp' (ReLU), 'leaky' (leaky ReLU) or 'linear' (identity)
    hidden: list[int] = _list([32, 32], lo=1, hi=MAX_WIDTH, length=(1, MAX_LAYERS))
    # smaller sets let a top-tagging classifier overfit (test loss above ln 2); at least 4: a quarter held out
    # for testing leaves one test and three training samples
    max_samples: int = _num(20_000, lo=4, hi=MAX_SAMPLES)
    test_fraction: float = _num(0.25, lo=0, hi=1, above=True, below=True)
    fit_steps: int = _num(600, lo=1, hi=MAX_STEPS)  # Adam, full batch
    fit_lr: float = _num(3e-3, lo=0, above=True, hi=10)
    seed: int = _num(0, lo=0, hi=MAX_SEED)


@dataclass
class InvarianceConfig:
    t: float = _num(0.1, lo=0, above=True, hi=100)  # step along each generator for the loss-invariance figures
    n_random: int = _num(8, lo=1, hi=MAX_MEMBERS)  # random generators of equal norm the discovered ones face


@dataclass
class EnsembleConfig:
    members: int = _num(16, lo=1, hi=MAX_MEMBERS)
    sigma: float | None = _num(None, lo=0, above=True, hi=1e3)  # None: the spread the algebra was trained with


@dataclass
class DescentConfig:
    """Plain descent from a fresh start against the same descent with teleportation (same seed, steps)."""

    steps: int = _num(300, lo=1, hi=MAX_STEPS)
    lr: float = _num(0.05, lo=0, above=True, hi=10)
    batch_size: int = _num(0, lo=0, hi=MAX_BATCH)  # 0: full batch
    teleport_at: list[int] = _list([0], lo=0, hi=MAX_STEPS, length=(0, 10_000))  # steps at which to teleport
    teleport_every: int = _num(0, lo=0, hi=MAX_STEPS)  # also every K steps (0: only at teleport_at)
    # 'exact': the architecture's own symmetry (GL_h, neuron rescaling) on the whole training set; 'data': the
    # data-dependent action on every pair of consecutive layers, on mini-batches
    teleport_action: str = "exact"
    teleport_batches: int = _num(1, lo=1, hi=MAX_MEMBERS)  # 'data': mini-batches the element is optimised over
    teleport_batch_size: int = _num(0, lo=0, hi=MAX_BATCH)  # 0: the narrowest hidden width (the data action is
    # exact up to it)
    teleport_steps: int = _num(20, lo=0, hi=MAX_STEPS)  # ascent steps on the group element per batch
    teleport_lr: float = _num(0.2, lo=0, above=True, hi=10)
    objective: str = "grad_norm"  # 'grad_norm' (||grad L||^2) or 'lookahead' (the loss decrease of one step)
    loss_tol: float = _num(1e-6, lo=0, hi=1)  # a teleport step moving the batch loss by more (relative) is refused
    target: float = _num(0.5, lo=0, hi=1, above=True, below=True)  # speed-up measured to this fraction of the
    # initial training loss
    # plain descent is also run at these multiples of lr (each up to the target): a teleport that a larger step
    # size matches is no speed-up, so the figure is given against the fastest of them too
    plain_lr_factors: list[float] = _list([2.0, 4.0, 8.0], lo=0, above=True, hi=1000, length=(0, 8))


@dataclass
class BridgeConfig:
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    invariance: InvarianceConfig = field(default_factory=InvarianceConfig)
    ensemble: EnsembleConfig = field(default_factory=EnsembleConfig)
    descent: DescentConfig = field(default_factory=DescentConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# -------------------------------------------------------------------------------------------------------


_BOOLS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


def _in_range(v, meta: dict):
    lo, hi = meta.get("lo"), meta.get("hi")
    if lo is not None and (v < lo or (meta.get("above") and v == lo)):
        raise ValueError(v)
    if hi is not None and (v > hi or (meta.get("below") and v == hi)):
        raise ValueError(v)
    return v


def _convert(value: Any, typ: Any, meta: dict) -> Any:
    """``value`` as the declared type ``typ`` within the field's limits; ValueError/TypeError if it is not."""
    origin, args = get_origin(typ), get_args(typ)
    if origin in (Union, types.UnionType):  # X | None: None stays None
        if value is None:
            return None
        (typ,) = [a for a in args if a is not type(None)]
        return _convert(value, typ, meta)
    if origin is Literal:
        if not isinstance(value, str) or value not in args:
            raise ValueError(value)
        return value
    if isinstance(typ, enum.EnumMeta):
        if not isinstance(value, str) or value not in [m.value for m in typ]:
            raise ValueError(value)
        return str(value)  # the plain string: checkpoints hold configs and load with weights_only
    if origin is list:
        items = value
        if isinstance(value, str):  # "64,64" from --set, or the TOML-looking "[64, 64]"
            items = [v for v in value.strip().removeprefix("[").removesuffix("]").split(",") if v.strip()]
        lo, hi = meta.get("length") or (0, 1024)
        if not isinstance(items, (list, tuple)) or not lo <= len(items) <= hi:
            raise ValueError(value)
        return [_convert(v, args[0], meta) for v in items]
    if typ is bool:
        if isinstance(value, str) and value.lower() in _BOOLS:
            return _BOOLS[value.lower()]
        if not isinstance(value, bool):
            raise TypeError(value)
        return value
    if typ is int:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise TypeError(value)
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return _in_range(int(value.strip()) if isinstance(value, str) else int(value), meta)
    if typ is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise TypeError(value)
        v = float(value)
        if not math.isfinite(v):
            raise ValueError(value)
        return _in_range(v, meta)
    if typ is str:
        if not isinstance(value, str) or "\x00" in value:
            raise TypeError(value)
        value.encode("utf-8")  # a lone surrogate (undecodable bytes in argv) cannot be written to config.toml
        return value
    raise NotImplementedError(f"config fields of type {typ} are not supported")


def _number(x: float | None, none: str) -> str:
    if x is None:
        return none
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else f"{x:g}"


def _interval(meta: dict) -> str:
    lo, hi = meta.get("lo"), meta.get("hi")
    if lo is None and hi is None:
        return ""
    left = "(" if meta.get("above") else "["
    right = ")" if meta.get("below") or hi is None else "]"
    return f" in {left}{_number(lo, '-inf')}, {_number(hi, 'inf')}{right}"


def allowed(typ: Any, meta: dict) -> str:
    """What a field accepts, in words (for error messages and help)."""
    origin, args = get_origin(typ), get_args(typ)
    if origin in (Union, types.UnionType):
        (typ,) = [a for a in args if a is not type(None)]
        return allowed(typ, meta)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if isinstance(typ, enum.EnumMeta):
        return "one of " + ", ".join(repr(m.value) for m in typ)
    if origin is list:
        lo, hi = meta.get("length") or (0, 1024)
        count = f"{lo}" if lo == hi else f"{lo} to {hi}"
        return f"a list of {count} items, each {allowed(args[0], meta)}"
    words = {bool: "true or false", int: "an integer", float: "a finite number", str: "a string"}[typ]
    return words + (_interval(meta) if typ in (int, float) else "")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _coerce(value: Any, typ: Any, meta: dict, where: str) -> Any:
    """Convert a TOML or command-line value to the field's declared type within its limits; an InputError
    naming ``where`` (the option, or the file and key) and what is allowed otherwise."""
    try:
        return _convert(value, typ, meta)
    except (TypeError, ValueError, OverflowError, UnicodeError):
        raise InputError(f"{where}: got {_show(value)}; allowed: {allowed(typ, meta)}") from None


def _fields(section) -> dict[str, tuple[Any, dict]]:
    return _field_types(type(section))


@functools.cache
def _field_types(cls: type) -> dict[str, tuple[Any, dict]]:
    """Each field's declared type and limits (resolving the annotations once per class: it is slow)."""
    hints = get_type_hints(cls)
    return {f.name: (hints[f.name], dict(f.metadata)) for f in dataclasses.fields(cls)}


def check_fields(cfg, source: str = "config") -> None:
    """Every field of every section of ``cfg`` within its type and limits (configs built in Python, which
    :func:`apply_overrides` did not see)."""
    for sf in dataclasses.fields(cfg):
        section = getattr(cfg, sf.name)
        for name, (typ, meta) in _fields(section).items():
            _coerce(getattr(section, name), typ, meta, f"{source}: {sf.name}.{name}")


def apply_overrides(cfg, overrides: dict, source: str = "override", labels: dict[str, str] | None = None):
    """Apply {'section': {'field': value}} (or flat {'section.field': value}) to ``cfg`` in place, each value
    checked as it is set; unknown keys are errors, not silently ignored.  ``labels`` names a key's origin in
    errors (e.g. 'train.batch_size' -> '--batch-size'); otherwise '<source>: <key>'."""
    if not isinstance(overrides, dict):
        raise InputError(f"{source}: expected a table of sections, got {type(overrides).__name__}")
    flat: dict[str, Any] = {}
    for k, v in overrides.items():
        if isinstance(v, dict):
            flat.update({f"{k}.{kk}": vv for kk, vv in v.items()})
        else:
            flat[k] = v
    for key, value in flat.items():
        section_name, _, name = key.partition(".")
        sections = [f.name for f in dataclasses.fields(cfg)]
        section = getattr(cfg, section_name) if section_name in sections else None
        if section is None or not name:
            raise InputError(f"{source}: unknown config section in {key!r} (sections: {sections})")
        known = _fields(section)
        if name not in known:
            raise InputError(f"{source}: unknown option {key!r} (known: {sorted(known)})")
        where = (labels or {}).get(key) or f"{source}: {key}"
        setattr(section, name, _coerce(value, *known[name], where))
        origins = cfg.__dict__.setdefault("origins", {})  # not a field: where each value came from, for errors
        origins[key] = where
    return cfg


MAX_TOML_BYTES = 1 << 20  # a config is a few hundred bytes; anything near this is not one


def load_toml(path: str | Path) -> dict:
    """A TOML config file as a dict; a FIFO or device is refused (reading one could block or never end)."""
    path = Path(path)
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise InputError(f"{path}: not a regular file (a config must be a TOML file)")
        if st.st_size > MAX_TOML_BYTES:
            raise InputError(f"{path}: {st.st_size} bytes, more than a config file's cap of {MAX_TOML_BYTES}")
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as e:
        raise InputError(f"{path}: not a valid TOML config ({e})") from None


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(str(v), ensure_ascii=False)  # JSON's string escapes are TOML's basic-string escapes


def to_toml(sections: dict, header: str = "") -> str:
    """Write {'section': {'key': scalar-or-list}} as TOML (None values are omitted: TOML has no null)."""
    lines = [f"# {line}" for line in header.splitlines()]
    for name, body in sections.items():
        lines.append(f"\n[{name}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in body.items() if v is not None]
    return "\n".join(lines).lstrip("\n") + "\n"


def config_from_dict(d: dict, source: str = "saved config") -> TrainCommandConfig:
    """Rebuild a config from its dict form (checkpoints, config.toml, algebra.json), checked like any other;
    ``source`` names the file in errors."""
    return apply_overrides(TrainCommandConfig(), d, source=source).check()
