"""Bounded readers for the array files users bring (.npz archives and HDF5 datasets).

``numpy.load`` and ``h5py`` trust the shape a file declares: an ``.npy`` header (inside an .npz) or an HDF5
dataspace can declare 10^12 elements in a file of a few hundred bytes, and the reader allocates the whole
array before it finds that the data are missing.  These readers check the declaration first:

- .npz: each member is opened with :mod:`zipfile` itself (``numpy.load`` would read a file that starts with
  the ``.npy`` magic as a bare array, or a pickle, whatever its name); its ``.npy`` header must declare a
  numeric dtype and exactly as many bytes as the member holds, and no more than the size cap.
- HDF5: the dataset must be a plain dataset in this file (no external or soft links, no external raw-data
  files, no virtual dataset: each would make the reader open another file on this machine) of at most the
  size cap.

Every problem is an :class:`InputError` naming the file.  The size cap is ``MAX_ARRAY_BYTES`` per array,
overridden by the environment variable ``LIEGAN_MAX_ARRAY_BYTES``.
"""

from __future__ import annotations

import math
import os
import tokenize
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from liegan.io import InputError, byte_cap

MAX_ARRAY_BYTES = 2 * 1024**3
"""Default cap on the bytes of any one array read from a user's .npz or .h5 file."""

# RuntimeError: an encrypted member; NotImplementedError: an unknown compression method
# SyntaxError, TokenError: numpy parses the .npy header as a Python literal
_NPZ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    KeyError,
    NotImplementedError,
    RuntimeError,
    UnicodeDecodeError,
    SyntaxError,
    tokenize.TokenError,
)


# expect(key, declared shape, dtype): raises InputError when the caller cannot use such an array
Expect = Callable[[str, tuple[int, ...], np.dtype], None]


def max_array_bytes() -> int:
    return byte_cap("LIEGAN_MAX_ARRAY_BYTES", MAX_ARRAY_BYTES)


def _native(arr: np.ndarray) -> np.ndarray:
    """In the machine's byte order: torch cannot take big-endian arrays."""
    return arr if arr.dtype.isnative else arr.astype(arr.dtype.newbyteorder("="))


def _check_declared(src: str, key: str, shape, dtype: np.dtype, cap: int) -> int:
    """Bytes the array will take; refuses object dtypes and sizes over the cap."""
    if dtype.hasobject:
        raise InputError(f"{src}: array {key!r} holds Python objects; only numeric arrays are allowed")
    if any(int(s) < 0 for s in shape):
        raise InputError(f"{src}: array {key!r} declares a negative shape {tuple(shape)}")
    nbytes = math.prod(int(s) for s in shape) * dtype.itemsize
    if nbytes > cap:
        raise InputError(
            f"{src}: array {key!r} declares shape {tuple(shape)} of {dtype} ({nbytes} bytes), "
            f"more than the cap of {cap} bytes (raise LIEGAN_MAX_ARRAY_BYTES if it is genuine)"
        )
    return nbytes


def _npz_member(z: zipfile.ZipFile, info: zipfile.ZipInfo, key: str, src: str, cap: int, expect=None) -> np.ndarray:
    fmt = np.lib.format
    with z.open(info) as fp:
        version = fmt.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(fp)
        else:
            raise InputError(
                f"{src}: array {key!r} uses .npy format version {version}, which is only "
                "written for named structured arrays (not numeric data)"
            )
        nbytes = _check_declared(src, key, shape, dtype, cap)
        if expect is not None:
            expect(key, tuple(shape), dtype)
        held = info.file_size - fp.tell()
        if nbytes != held:
            raise InputError(
                f"{src}: not a readable .npz file: array {key!r} declares shape {tuple(shape)} "
                f"of {dtype} ({nbytes} bytes) but holds {held} bytes (truncated or corrupt)"
            )
    with z.open(info) as fp:  # header checked: numpy reads exactly the declared, bounded amount
        return _native(fmt.read_array(fp, allow_pickle=False))


def read_npz(
    path: str | os.PathLike, keys: tuple[str, ...], src: str | None = None, expect: Expect | None = None
) -> dict[str, np.ndarray]:
    """The arrays named ``keys`` that are present in the .npz file ``path`` (absent ones are left out).

    Refuses, with an InputError naming ``src`` (default: the path): files that are not zip archives,
    damaged or encrypted members, object arrays, and any array whose header declares more bytes than the
    member holds or than :func:`max_array_bytes`.  ``expect(key, shape, dtype)``, when given, sees each
    header before its data are read and raises InputError for a shape or dtype the caller cannot use (so a
    wrong declared shape is refused without reading up to the cap).
    """
    path = Path(path)
    src = str(path) if src is None else src
    cap = max_array_bytes()
    out: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as z:
            members = {info.filename.removesuffix(".npy"): info for info in z.infolist()}
            for key in keys:
                if key in members:
                    out[key] = _npz_member(z, members[key], key, src, cap, expect)
    except InputError:
        raise
    except MemoryError:
        raise InputError(f"{src}: the arrays need more memory than is available") from None
    except _NPZ_ERRORS as e:
        raise InputError(f"{src}: not a readable .npz file ({type(e).__name__}: {e})") from None
    return out


def read_npy(path: str | os.PathLike, src: str | None = None, expect: Expect | None = None) -> np.ndarray:
    """The array in the .npy file ``path``, with the checks of :func:`read_npz` (header first, then the
    bytes: a declared shape over the cap, or one ``expect`` refuses, is refused before anything is read)."""
    path = Path(path)
    src = str(path) if src is None else src
    fmt = np.lib.format
    if not path.is_file():  # a FIFO or device would block or never end
        raise InputError(f"{src}: not a regular file")
    try:
        with open(path, "rb") as fp:
            version = fmt.read_magic(fp)
            if version not in ((1, 0), (2, 0)):
                raise InputError(f"{src}: .npy format version {version} is not one numpy writes for numeric data")
            read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, _, dtype = read_header(fp)
            nbytes = _check_declared(src, "array", shape, dtype, max_array_bytes())
            if expect is not None:
                expect("array", tuple(shape), dtype)
            held = path.stat().st_size - fp.tell()
            if nbytes != held:
                raise InputError(f"{src}: the header declares {nbytes} bytes of data but the file holds {held}")
            fp.seek(0)  # header checked: numpy reads exactly the declared, bounded amount
            arr = fmt.read_array(fp, allow_pickle=False)
    except InputError:
        raise
    except MemoryError:
        raise InputError(f"{src}: the array needs more memory than is available") from None
    except (OSError, ValueError, EOFError) as e:
        raise InputError(f"{src}: not a readable .npy file ({type(e).__name__}: {e})") from None
    return _native(arr)


def npz_names(path: str | os.PathLike) -> list[str]:
    """Array names in an .npz (member names without '.npy'); for messages.  Assumes a readable zip."""
    with zipfile.ZipFile(path) as z:
        return sorted(n.removesuffix(".npy") for n in z.namelist())


def read_h5_dataset(f, key: str, src: str) -> np.ndarray | None:
    """The dataset ``key`` at the root of the open h5py.File ``f`` (None when absent), checked first.

    Numeric dtypes only (kinds f, i, u, b); links, external storage and virtual datasets are refused.
    """
    import h5py

    if key not in f:
        return None
    link = f.get(key, getlink=True)
    if not isinstance(link, h5py.HardLink):
        raise InputError(
            f"{src}: {key!r} is an HDF5 {type(link).__name__} (a link elsewhere), not a dataset stored in this file"
        )
    node = f[key]
    if not isinstance(node, h5py.Dataset):
        raise InputError(f"{src}: {key!r} is an HDF5 {type(node).__name__}, not a dataset")
    if node.dtype.kind not in "fiub":
        raise InputError(f"{src}: {key!r} must be numeric, got HDF5 dtype {node.dtype}")
    if node.shape is None:
        raise InputError(f"{src}: {key!r} is an empty (null) HDF5 dataset")
    if node.external or node.is_virtual:
        raise InputError(
            f"{src}: {key!r} keeps its data in other files (external or virtual dataset); "
            "only data stored inside the file are read"
        )
    _check_declared(src, key, node.shape, node.dtype, max_array_bytes())
    try:
        return _native(node[()])
    except MemoryError:
        raise InputError(f"{src}: {key!r} needs more memory than is available") from None


def check_float32_range(arr: np.ndarray, key: str, src: str) -> None:
    """Training runs in float32: a finite value beyond its range would silently become inf."""
    if arr.dtype.kind in "fiu" and arr.size:
        big = float(np.max(np.abs(arr[np.isfinite(arr)]), initial=0.0))
        if big > float(np.finfo(np.float32).max):
            raise InputError(
                f"{src}: {key!r} holds values up to {big:.3g}, beyond float32's range "
                f"({np.finfo(np.float32).max:.3g}); rescale the data"
            )
