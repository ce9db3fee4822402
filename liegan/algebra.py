"""The Algebra: the one currency every downstream consumer reads (CLI, analysis, bridge, user scripts).

On disk it is two files side by side, written atomically:
  algebra.npz   arrays: ``generators`` (c, n, n) effective basis (mask applied), ``mask`` (c, n, n), and
                ``metadata``, the JSON text of algebra.json as a 0-d string array, so that the npz alone,
                copied anywhere, keeps its context (``json.loads(str(np.load(f)["metadata"]))``)
  algebra.json  metadata: dataset, feature_names, n_dim, n_channels, coefficients, config, metrics,
                symmetry (the dataset's known symmetry, liegan.symmetry.Symmetry.to_dict, or null), verdict
                (liegan.verdict), liegan_version, format_version
``Algebra.save_pt`` writes the same content as one torch file that loads with ``weights_only=True``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from liegan._version import __version__
from liegan.io import InputError, atomic_path, jsonable, write_text_atomic
from liegan.safe_arrays import max_array_bytes, npz_names, read_npz

FORMAT_VERSION = 1
NPZ_NAME, JSON_NAME = "algebra.npz", "algebra.json"
_REQUIRED_JSON = ("dataset", "feature_names", "n_dim", "n_channels", "coefficients")


@dataclass
class Algebra:
    """A discovered Lie-algebra basis and everything needed to interpret it.

    generators: (c, n, n) float64, the effective basis L * mask.
    mask: (c, n, n) float64 search-space mask (ones where entries were free).
    coefficients: the coefficient distribution, e.g. {"distribution": "normal", "sigma": 1.0}.
    """

    generators: np.ndarray
    mask: np.ndarray | None = None
    dataset: str = "unknown"
    feature_names: list[str] = field(default_factory=list)
    coefficients: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    symmetry: dict | None = None  # the known symmetry the run was scored against (Symmetry.to_dict())
    verdict: dict | None = None  # the training verdict (liegan.verdict.Verdict.as_dict())
    liegan_version: str = __version__

    def __post_init__(self):
        G = np.asarray(self.generators, dtype=np.float64)
        if G.ndim == 2:
            G = G[None]
        if G.ndim != 3 or G.shape[1] != G.shape[2]:
            raise ValueError(f"generators must have shape (c, n, n), got {G.shape}")
        self.generators = G
        M = np.ones_like(G) if self.mask is None else np.asarray(self.mask, np.float64)
        self.mask = np.broadcast_to(M, G.shape).copy()
        if not self.feature_names:
            self.feature_names = [f"x{i}" for i in range(self.n_dim)]

    @property
    def n_dim(self) -> int:
        return int(self.generators.shape[-1])

    @property
    def n_channels(self) -> int:
        return int(self.generators.shape[0])

    def metadata(self) -> dict:
        return jsonable(
            {
                "format_version": FORMAT_VERSION,
                "dataset": self.dataset,
                "feature_names": list(self.feature_names),
                "n_dim": self.n_dim,
                "n_channels": self.n_channels,
                "coefficients": self.coefficients,
                "config": self.config,
                "metrics": self.metrics,
                "symmetry": self.symmetry,
                "verdict": self.verdict,
                "liegan_version": self.liegan_version,
                "arrays_sha256": arrays_digest(self.generators, self.mask),  # ties algebra.json to its npz
            }
        )

    # ---------------------------------------------------------------------------------------- writers
    def save(self, folder: str | Path) -> tuple[Path, Path]:
        """Write algebra.npz and algebra.json into ``folder`` (each atomically); return both paths.

        The two are a pair: the JSON names the SHA-256 of the npz's arrays, and the npz holds the JSON's
        content too, so a crash between the two renames is seen on loading (the npz's own copy is used)."""
        folder = Path(folder)
        npz = self.save_npz(folder / NPZ_NAME)
        js = self.save_json(folder / JSON_NAME)
        return npz, js

    def save_npz(self, path: str | Path) -> Path:
        path = Path(path)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:  # a file object stops numpy from appending ".npz" to the temp name
                np.savez(f, generators=self.generators, mask=self.mask, metadata=np.array(json.dumps(self.metadata())))
        return path

    def save_json(self, path: str | Path, include_generators: bool = False) -> Path:
        meta = self.metadata()
        if include_generators:  # `liegan export --format json`: one self-contained, human-readable file
            meta["generators"] = self.generators.tolist()
            meta["mask"] = self.mask.tolist()
        write_text_atomic(path, json.dumps(meta, indent=2) + "\n")
        return Path(path)

    def save_pt(self, path: str | Path) -> Path:
        """One torch file of tensors and plain Python values, loadable with ``torch.load(weights_only=True)``."""
        import torch

        path = Path(path)
        with atomic_path(path) as tmp:
            torch.save(
                {
                    "generators": torch.from_numpy(self.generators),
                    "mask": torch.from_numpy(self.mask),
                    "metadata": self.metadata(),
                },
                tmp,
            )
        return path

    def export(self, fmt: str, out: str | Path) -> Path:
        writers = {
            "npz": self.save_npz,
            "pt": self.save_pt,
            "json": lambda p: self.save_json(p, include_generators=True),
        }
        if fmt not in writers:
            raise InputError(f"unknown export format {fmt!r}: use one of {sorted(writers)}")
        return writers[fmt](out)


# -------------------------------------------------------------------------------------------- readers


def _as_array(value: Any, name: str, src: Path, kinds: str = "fiu") -> np.ndarray:
    """A finite float64 array from an array, tensor or nested list whose dtype kind is in ``kinds``;
    anything else (ragged lists, strings, complex, NaN) is an InputError."""
    try:
        if hasattr(value, "detach") and hasattr(value, "is_floating_point"):  # a torch tensor
            value = value.detach().cpu()
            # floats via float64: bfloat16 has no numpy twin
            value = (value.double() if value.is_floating_point() else value).numpy()
        arr = np.asarray(value)
    except (ValueError, TypeError, RuntimeError, OverflowError) as e:
        raise InputError(f"{src}: {name!r} is not a rectangular real numeric array ({e})") from None
    if arr.dtype.kind not in kinds:
        raise InputError(f"{src}: {name!r} must be a numeric array, got {arr.dtype} {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise InputError(f"{src}: {name!r} contains NaN or inf")
    return arr


def _check_generators(G: Any, src: Path) -> np.ndarray:
    G = _as_array(G, "generators", src)
    if G.ndim != 3 or G.shape[1] != G.shape[2] or G.shape[0] == 0:
        raise InputError(f"{src}: 'generators' must be a non-empty numeric array of shape (c, n, n), got {G.shape}")
    return G


def _check_mask(M: Any, G: np.ndarray, src: Path) -> np.ndarray | None:
    if M is None:
        return None
    M = _as_array(M, "mask", src, kinds="fiub")
    if M.shape not in (G.shape, G.shape[1:]):
        raise InputError(f"{src}: 'mask' has shape {M.shape}, expected {G.shape}")
    return M


def _read_json(path: Path) -> dict:
    cap = max_array_bytes()
    try:
        if path.stat().st_size > cap:
            raise InputError(
                f"{path}: JSON file of {path.stat().st_size} bytes is larger than the cap of "
                f"{cap} bytes (raise LIEGAN_MAX_ARRAY_BYTES if it is genuine)"
            )
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not a readable algebra JSON file ({e})") from None
    return _parse_meta(text, path)


def _parse_meta(text: str, path: Path) -> dict:
    """The metadata object in ``text`` (algebra.json, or the npz's ``metadata`` member), checked."""
    try:
        meta = json.loads(text)
    except ValueError as e:  # JSONDecodeError, and an integer of more digits than Python converts
        raise InputError(f"{path}: not readable algebra metadata JSON ({e})") from None
    except RecursionError:
        raise InputError(f"{path}: not readable algebra metadata JSON (nested too deeply)") from None
    if not isinstance(meta, dict):
        raise InputError(f"{path}: expected a JSON object at the top level")
    missing = [k for k in _REQUIRED_JSON if k not in meta]
    if missing:
        raise InputError(f"{path}: missing required keys {missing}")
    return meta


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray | None, dict | None]:
    """Generators, mask and the embedded metadata (None in files written before it was embedded)."""
    arrays = read_npz(path, ("generators", "mask", "metadata"))
    if "generators" not in arrays:
        raise InputError(f"{path}: no 'generators' array (found {npz_names(path)})")
    G = _check_generators(arrays["generators"], path)
    meta = arrays.get("metadata")
    if meta is not None:
        if meta.dtype.kind != "U" or meta.ndim != 0:
            raise InputError(f"{path}: 'metadata' must be one JSON string, got {meta.dtype} {meta.shape}")
        meta = _parse_meta(str(meta), path)
    return G, _check_mask(arrays.get("mask"), G, path), meta


_META_TYPES = {
    "dataset": str,
    "feature_names": list,
    "coefficients": dict,
    "config": dict,
    "metrics": dict,
    "symmetry": (dict, type(None)),
    "verdict": (dict, type(None)),
    "liegan_version": str,
}


def _from_meta(G, M, meta: dict, src: Path) -> Algebra:
    if meta.get("n_dim", G.shape[-1]) != G.shape[-1] or meta.get("n_channels", G.shape[0]) != G.shape[0]:
        raise InputError(
            f"{src}: metadata says n_channels={meta.get('n_channels')}, "
            f"n_dim={meta.get('n_dim')} but the generators have shape {G.shape}"
        )
    for key, kind in _META_TYPES.items():
        if key in meta and not isinstance(meta[key], kind):
            want = kind.__name__ if isinstance(kind, type) else f"{kind[0].__name__} or null"
            raise InputError(f"{src}: metadata {key!r} must be a {want}, got {type(meta[key]).__name__}")
    names = meta.get("feature_names") or []
    if not all(isinstance(n, str) for n in names):
        raise InputError(f"{src}: feature_names must be strings")
    if names and len(names) != G.shape[-1]:
        raise InputError(f"{src}: {len(names)} feature_names for n_dim={G.shape[-1]}")
    return Algebra(
        G,
        _check_mask(M, G, src),
        dataset=meta.get("dataset", "unknown"),
        feature_names=list(names),
        coefficients=meta.get("coefficients", {}),
        config=meta.get("config", {}),
        metrics=meta.get("metrics", {}),
        symmetry=meta.get("symmetry"),
        verdict=meta.get("verdict"),
        liegan_version=meta.get("liegan_version", "unknown"),
    )


def arrays_digest(generators: np.ndarray, mask: np.ndarray) -> str:
    """SHA-256 of the generators and mask as float64 (what algebra.json names to say which npz it goes with)."""
    h = hashlib.sha256()
    for a in (generators, mask):
        a = np.ascontiguousarray(a, dtype=np.float64)
        h.update(f"{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def subgroup_basis(path: str | Path, n: int | None = None) -> np.ndarray:
    """The generators (c, m, m) of the algebra at ``path`` (read by :func:`load_algebra`): the fixed basis of
    subgroup mode.  ``n``: the data's dimension, which m must equal."""
    L = load_algebra(path).generators
    if n is not None and L.shape[-1] != n:
        raise InputError(
            f"{path}: its {L.shape[0]} generator(s) act on R^{L.shape[-1]} ({L.shape[-1]} x {L.shape[-1]} "
            f"matrices) but the data have n = {n}; subgroup mode needs an algebra of the data's dimension"
        )
    return L


def load_algebra(path: str | Path) -> Algebra:
    """Load an Algebra from a run folder, ``algebra.npz`` (with its sibling JSON when present), a
    self-contained ``.json`` export, or a ``.pt`` export.  Malformed input raises :class:`InputError`."""
    path = Path(path)
    if path.is_dir():
        if not (path / NPZ_NAME).exists():
            raise InputError(f"{path}: no {NPZ_NAME} in this folder (has the run finished or been exported?)")
        path = path / NPZ_NAME
    if not path.exists():
        raise InputError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        G, M, inside = _read_npz(path)
        # the JSON beside it first (what a user reads, and may have edited), else the copy inside
        side = path.with_suffix(".json")
        meta = _read_json(side) if side.exists() else inside or {"dataset": "unknown"}
        pair = meta.get("arrays_sha256")
        if pair is not None and pair != arrays_digest(G, M if M is not None else np.ones_like(G)):
            if inside is None:
                raise InputError(
                    f"{side}: describes other generators than {path.name} beside it (its "
                    "arrays_sha256 differs); export the algebra again"
                )
            meta = inside  # the JSON is from another save (a crash between the two renames): the npz's own copy
        return _from_meta(G, M, meta, path)
    if suffix == ".json":
        meta = _read_json(path)
        if "generators" in meta:
            return _from_meta(_check_generators(meta["generators"], path), meta.get("mask"), meta, path)
        side = path.with_suffix(".npz")
        if not side.exists():
            raise InputError(f"{path}: holds no generators and {side.name} is not beside it")
        G, M, _ = _read_npz(side)
        return _from_meta(G, M, meta, path)
    if suffix == ".pt":
        import torch

        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except MemoryError:
            raise InputError(f"{path}: the .pt file needs more memory than is available") from None
        except Exception as e:  # torch's reader raises many types (RuntimeError, UnpicklingError, zip errors)
            first = (str(e).splitlines() or [type(e).__name__])[0]
            raise InputError(f"{path}: not a readable liegan .pt export ({first})") from None
        if not isinstance(obj, dict) or "generators" not in obj or not isinstance(obj.get("metadata"), dict):
            raise InputError(f"{path}: not a liegan .pt export (expected a dict with 'generators' and 'metadata')")
        return _from_meta(_check_generators(obj["generators"], path), obj.get("mask"), obj["metadata"], path)
    raise InputError(f"{path}: unknown algebra file type {suffix!r} (expected a run folder, .npz, .json or .pt)")
