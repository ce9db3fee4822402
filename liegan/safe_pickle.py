"""A restricted unpickler: read pickles that users bring without letting them run code.

``pickle.loads`` runs whatever callable a file names (``os.system``, ``subprocess.Popen``, ...).  Every
callable reaches the unpickler through :meth:`pickle.Unpickler.find_class`, so overriding it closes that
door: with ``allow_numpy=False`` no global at all is resolved (plain containers, numbers and strings still
load), and with ``allow_numpy=True`` only the handful of names that numpy's own array and scalar pickles
use (protocols 0-5, numpy 1.x ``numpy.core`` and 2.x ``numpy._core`` spellings) are resolved, each to a
guarded wrapper: no object dtypes (an object array would hold further pickled objects), no arrays larger
than the size cap in total, ``_codecs.encode`` only for latin-1 text.  Anything else is an
:class:`InputError` that names the file and the refused global.  Truncated or garbage data are an
:class:`InputError` too.

The unpickler is the pure-Python implementation (``pickle._Unpickler``) so that the BUILD opcode can be
checked as well: a forged ``dtype.__setstate__`` can mark a plain void dtype as holding Python objects,
which would make numpy read raw file bytes as object pointers.  BUILD is therefore allowed only once on a
freshly made dtype (before any array uses it) and on arrays, and a dtype that ends up holding objects is
refused.  Numpy pickles keep array data in single byte strings, so the pure-Python loop costs little.
"""

from __future__ import annotations

import io
import math
import os
import pickle
from pathlib import Path

import numpy as np

from liegan.io import InputError, byte_cap

MAX_PICKLE_BYTES = 2 * 1024**3
"""Default cap on the size of a pickle (file or bytes) and on the total size of the arrays it rebuilds.
Override per call with ``max_bytes`` or for the process with the environment variable
``LIEGAN_MAX_PICKLE_BYTES``."""


def _default_cap() -> int:
    return byte_cap("LIEGAN_MAX_PICKLE_BYTES", MAX_PICKLE_BYTES)


def _numpy_multiarray():
    try:
        from numpy._core import multiarray  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray
    return multiarray


def _numpy_frombuffer():
    try:
        from numpy._core.numeric import _frombuffer  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.numeric import _frombuffer
    return _frombuffer


class _Refused(Exception):
    """Raised inside the guarded wrappers; converted to InputError with the file name."""


class _NdarrayToken:
    """Stands in for ``numpy.ndarray`` in a pickle: it may only be passed to ``_reconstruct``, never
    called (calling ``numpy.ndarray(shape)`` directly would allocate an arbitrary amount of memory)."""


def _check_dtype(dt: np.dtype) -> np.dtype:
    if dt.hasobject:
        raise _Refused("object arrays (dtype with Python objects) are not allowed")
    return dt


class _NumpyGuards:
    def __init__(self, cap: int):
        self.cap = cap
        self.total = 0  # bytes of every array declared so far: many arrays each under the cap add up
        self.unbuilt: dict[int, np.dtype] = {}  # dtypes made by the pickle whose BUILD has not run yet
        self._multiarray = _numpy_multiarray()
        self._frombuffer_impl = _numpy_frombuffer()

    def dtype(self, *args):
        if not args or not isinstance(args[0], str):
            raise _Refused("numpy.dtype may only be made from a type string")
        if len(args) > 3:
            raise _Refused("numpy.dtype takes at most 3 arguments")
        # always a fresh copy (never numpy's shared singleton), filled in by exactly one BUILD
        dt = _check_dtype(np.dtype(args[0], align=bool(args[1]) if len(args) > 1 else False, copy=True))
        self.unbuilt[id(dt)] = dt
        return dt

    def ready(self, dtype) -> np.dtype:
        """A dtype that may be used for data: not one whose BUILD is still pending, no objects."""
        if isinstance(dtype, np.dtype) and id(dtype) in self.unbuilt:
            raise _Refused("a dtype was used before its state was set")
        return _check_dtype(np.dtype(dtype) if isinstance(dtype, (str, bytes)) else dtype)

    def build(self, inst, state) -> None:
        """The BUILD opcode, checked: once per fresh dtype, then any number of times on arrays."""
        if isinstance(inst, np.dtype):
            if self.unbuilt.pop(id(inst), None) is not inst:
                raise _Refused("setting the state of a dtype twice or of a shared dtype")
            inst.__setstate__(state)
            _check_dtype(inst)
        elif type(inst) is np.ndarray:
            if not (isinstance(state, tuple) and len(state) == 5):
                raise _Refused("malformed array state")
            self.ready(state[2])
            self._check_size(state[1], state[2])
            inst.__setstate__(state)
        else:
            raise _Refused(f"setting the state of a {type(inst).__name__} object")

    def _check_size(self, shape, dtype) -> None:
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        if not all(isinstance(s, int) and s >= 0 for s in shape):
            raise _Refused(f"bad array shape {shape!r}")
        size = math.prod(shape) * max(np.dtype(dtype).itemsize, 1)
        if size > self.cap:
            raise _Refused(f"an array of {size} bytes exceeds the cap of {self.cap} bytes")
        self.total += size
        if self.total > self.cap:
            raise _Refused(f"the arrays declared so far take {self.total} bytes, more than the cap of {self.cap} bytes")

    def reconstruct(self, subtype, shape, dtype):
        if subtype is not _NdarrayToken:
            raise _Refused("_reconstruct may only build plain numpy.ndarray")
        if not isinstance(dtype, (str, bytes)):
            raise _Refused("_reconstruct needs a type code")
        dt = self.ready(dtype)
        self._check_size(shape, dt)
        return self._multiarray._reconstruct(np.ndarray, shape, dt)

    def scalar(self, dtype, *args):
        if not isinstance(dtype, np.dtype):
            raise _Refused("numpy scalar without a dtype")
        if not (len(args) == 1 and isinstance(args[0], bytes)):
            raise _Refused("numpy scalar data must be bytes")
        return self._multiarray.scalar(self.ready(dtype), *args)

    def frombuffer(self, buf, dtype, shape, order, *axis_order):
        dt = self.ready(dtype)
        self._check_size(shape, dt)
        if not isinstance(buf, (bytes, bytearray)) or len(axis_order) > 1:
            raise _Refused("malformed protocol-5 array")
        return self._frombuffer_impl(buf, dt, shape, order, *axis_order)

    @staticmethod
    def empty_bytes(*args):
        if args:
            raise _Refused("bytes() is allowed only without arguments (protocol 0/1 empty bytes)")
        return b""

    @staticmethod
    def encode(obj, encoding="utf-8", *rest):
        if not isinstance(obj, str) or encoding not in ("latin1", "latin-1", "iso-8859-1") or rest:
            raise _Refused("_codecs.encode is allowed only for latin-1 text (numpy's protocol-2 bytes)")
        return obj.encode("latin-1")


_NUMPY_NAMES = {
    ("numpy.core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy._core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy.core.multiarray", "scalar"): "scalar",
    ("numpy._core.multiarray", "scalar"): "scalar",
    ("numpy.core.numeric", "_frombuffer"): "frombuffer",
    ("numpy._core.numeric", "_frombuffer"): "frombuffer",
    ("numpy", "dtype"): "dtype",
    ("_codecs", "encode"): "encode",
    ("__builtin__", "bytes"): "empty_bytes",
    ("builtins", "bytes"): "empty_bytes",
}


class RestrictedUnpickler(pickle._Unpickler):
    """Resolves no globals, or (allow_numpy) only guarded numpy array reconstruction."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, src: str, allow_numpy: bool, cap: int):
        super().__init__(file)
        self.src = src
        self.guards = _NumpyGuards(cap) if allow_numpy else None

    def find_class(self, module: str, name: str):
        if self.guards is not None:
            if (module, name) == ("numpy", "ndarray"):
                return _NdarrayToken
            attr = _NUMPY_NAMES.get((module, name))
            if attr is not None:
                return getattr(self.guards, attr)
        allowed = "only numpy arrays are allowed" if self.guards is not None else "no globals are allowed"
        raise InputError(
            f"{self.src}: refusing to load global '{module}.{name}' ({allowed} in this file; "
            "a pickle that names other globals can run arbitrary code)"
        )

    def persistent_load(self, pid):
        raise InputError(f"{self.src}: refusing a pickle with persistent ids")

    def load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        if self.guards is None:
            raise _Refused(f"setting the state of a {type(inst).__name__} object")
        self.guards.build(inst, state)

    dispatch[pickle.BUILD[0]] = load_build


def restricted_loads(data: bytes, src: str, allow_numpy: bool, *, max_bytes: int | None = None) -> object:
    """Unpickle ``data`` (read from ``src``, used in messages) without running code from it.

    allow_numpy=False: only plain containers and scalars (dict, list, tuple, str, bytes, numbers, ...).
    allow_numpy=True: additionally numpy arrays and numpy scalars of non-object dtype.
    max_bytes: cap on len(data) and on the rebuilt arrays' total size (default MAX_PICKLE_BYTES or
    $LIEGAN_MAX_PICKLE_BYTES).
    """
    cap = _default_cap() if max_bytes is None else int(max_bytes)
    if len(data) > cap:
        raise InputError(
            f"{src}: pickle of {len(data)} bytes is larger than the cap of {cap} bytes "
            "(raise LIEGAN_MAX_PICKLE_BYTES if the file is genuine)"
        )
    unpickler = RestrictedUnpickler(io.BytesIO(data), src, allow_numpy, cap)
    try:
        return unpickler.load()
    except InputError:
        raise
    except _Refused as e:
        raise InputError(f"{src}: refusing pickle content: {e}") from None
    except MemoryError:
        raise InputError(f"{src}: pickle needs more memory than is available") from None
    except RecursionError:
        raise InputError(f"{src}: pickle is nested too deeply") from None
    except Exception as e:  # UnpicklingError, EOFError, ValueError, TypeError, ... from bad opcodes
        raise InputError(f"{src}: not a readable pickle ({type(e).__name__}: {e})") from None


def restricted_load_file(path: str | os.PathLike, allow_numpy: bool, *, max_bytes: int | None = None) -> object:
    """:func:`restricted_loads` on a file; the size cap is checked before the file is read."""
    path = Path(path)
    cap = _default_cap() if max_bytes is None else int(max_bytes)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise InputError(f"{path}: not a regular file")
        if size > cap:
            raise InputError(
                f"{path}: file of {size} bytes is larger than the cap of {cap} bytes "
                "(raise LIEGAN_MAX_PICKLE_BYTES if the file is genuine)"
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: not a regular file") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from None
    return restricted_loads(data, str(path), allow_numpy, max_bytes=cap)
