"""Fuzz and property tests for every loader of user files (issue 4, part 4).

Each case must end in the loader's own InputError naming the file (or load as valid data): never another
exception type, never an interpreter crash, never code execution (marker files), never unbounded memory
(huge declared shapes run in a memory-limited subprocess with the default caps).  Cases come from
hypothesis (derandomized, so CI is reproducible) and from deterministic corpora; conftest.py counts them
and prints the total.
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import math
import os
import pickle
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liegan import algebras
from liegan.algebra import Algebra, load_algebra
from liegan.config import DataConfig
from liegan.datasets import load_dataset
from liegan.datasets.topquark_synth import write_split
from liegan.io import InputError
from liegan.safe_pickle import restricted_loads


def fuzz_settings(n: int) -> settings:
    """Reproducible in CI: derandomized, no deadline (the machine is shared), n examples."""
    return settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    )


class CaseTimeout(Exception):
    """A loader ran longer than the per-case limit (an unbounded loop over a declared size)."""


HEADROOM_BYTES = 2 * 1024**3


@contextmanager
def memory_limit(headroom: int = HEADROOM_BYTES):
    """Cap this process's address space at its current size plus ``headroom`` for the duration: a loader
    that allocates what a file declares fails (MemoryError or an I/O error) instead of filling the machine.
    C code cannot be interrupted by the time limit, so this is the bound that protects CI."""
    with open("/proc/self/status") as f:
        vm = int(next(line for line in f if line.startswith("VmSize")).split()[1]) * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = vm + headroom if hard == resource.RLIM_INFINITY else min(vm + headroom, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@contextmanager
def time_limit(seconds: float):
    state = {"active": True}

    def _raise(signum, frame):
        if state["active"]:
            raise CaseTimeout(f"the loader ran for more than {seconds} s")

    old = signal.signal(signal.SIGALRM, _raise)
    # repeat every 0.2 s: a signal landing in a weakref or GC callback is swallowed there
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.2)
    try:
        yield
    finally:
        while True:  # a last signal may land inside this block: retry until the timer is off
            try:
                state["active"] = False
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, old)
                break
            except CaseTimeout:
                continue


def attempt(stats: dict, load: Callable[[], object], src: str | Path, *, limit_s: float = 10.0) -> object | InputError:
    """Run one fuzz case: the loader must return or raise InputError whose one-line message names ``src``.

    Returns the loaded object or the InputError.
    """
    stats["cases"] += 1
    t0 = time.perf_counter()
    try:
        with memory_limit(), time_limit(limit_s):
            out = load()
    except InputError as e:
        text = str(e)
        assert str(src) in text, f"InputError does not name the file {src}: {text}"
        assert "\n" not in text, f"InputError message is not one line: {text!r}"
        stats["refused"] += 1
        return e
    except BaseException as e:  # noqa: BLE001 - any other type is exactly what the fuzz looks for
        raise AssertionError(f"{src}: loader raised {type(e).__name__} instead of InputError: {e}") from e
    finally:
        stats["seconds"] += time.perf_counter() - t0
    stats["accepted"] += 1
    return out


# -------------------------------------------------------------------------------------- byte mutations


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    """``seed`` damaged one of four ways: truncated at any length, bits flipped, a run of bytes
    overwritten with random bytes, or random bytes inserted."""
    kind = draw(st.sampled_from(["truncate", "flip", "overwrite", "insert"]))
    data = bytearray(seed)
    if kind == "truncate":
        return bytes(data[: draw(st.integers(0, len(data) - 1))])
    if kind == "flip":
        for _ in range(draw(st.integers(1, 8))):
            pos = draw(st.integers(0, len(data) - 1))
            data[pos] ^= 1 << draw(st.integers(0, 7))
        return bytes(data)
    pos = draw(st.integers(0, len(data) - 1))
    chunk = draw(st.binary(min_size=1, max_size=16))
    if kind == "overwrite":
        data[pos : pos + len(chunk)] = chunk
    else:
        data[pos:pos] = chunk
    return bytes(data)


def truncations(data: bytes, n: int = 24) -> list[int]:
    """Prefix lengths covering every class: empty, tiny, each power of two, around the middle, one short."""
    cuts = {0, 1, 2, 7, 8, len(data) // 2, len(data) - 1, len(data) - 2}
    p = 16
    while p < len(data):
        cuts.update({p, p + 1})
        p *= 2
    cuts.update(np.linspace(0, len(data) - 1, n, dtype=int).tolist())
    return sorted(c for c in cuts if 0 <= c < len(data))


# ---------------------------------------------------------------------------------- hostile pickles

DANGEROUS_GLOBALS = [
    ("os", "system"),
    ("posix", "system"),
    ("builtins", "eval"),
    ("builtins", "exec"),
    ("builtins", "__import__"),
    ("builtins", "getattr"),
    ("builtins", "open"),
    ("subprocess", "Popen"),
    ("subprocess", "check_output"),
    ("numpy", "load"),
    ("numpy.testing", "assert_equal"),
    ("numpy", "fromfile"),
    ("numpy.lib.format", "read_array"),
    ("numpy", "ndarray"),
    ("numpy.core.multiarray", "_reconstruct_evil"),
    ("torch", "load"),
    ("pickle", "loads"),
    ("shutil", "rmtree"),
    ("webbrowser", "open"),
    ("__builtin__", "eval"),
]


def hostile_pickle(module: str, name: str, arg: str, protocol: int) -> bytes:
    """A pickle that calls module.name(arg) when loaded (GLOBAL for protocols 0-3, STACK_GLOBAL for 4-5)."""
    if protocol <= 3:
        head = b"\x80" + bytes([protocol]) if protocol >= 2 else b""
        ref = b"c" + module.encode() + b"\n" + name.encode() + b"\n"
        body = ref + b"(" + _str_op(arg) + b"tR"
    else:
        head = b"\x80" + bytes([protocol])
        body = _str_op(module) + _str_op(name) + b"\x93" + _str_op(arg) + b"\x85R"
    return head + b"}" + _str_op("coords") + body + b"s."  # {'coords': module.name(arg)}


def _str_op(s: str) -> bytes:
    raw = s.encode()
    return b"X" + len(raw).to_bytes(4, "little") + raw  # BINUNICODE


def numpy_pickle(obj, protocol: int) -> bytes:
    buf = io.BytesIO()
    pickle.dump(obj, buf, protocol=protocol)
    return buf.getvalue()


# ---------------------------------------------------------------------------------- forged .npy headers


def npy_with_header(descr: str, shape: tuple, data: bytes = b"", fortran: bool = False) -> bytes:
    header = f"{{'descr': {descr!r}, 'fortran_order': {fortran}, 'shape': {shape!r}, }}"
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode("latin-1") + data


# ==================================================================================== seed files


@functools.cache
def _seed_files() -> dict[str, bytes]:
    """Valid files written by the real writers; every mutation starts from one of these."""
    d = Path(tempfile.mkdtemp(prefix="liegan-fuzz-seeds-"))
    rng = np.random.default_rng(0)
    out: dict[str, bytes] = {}
    hnn = {"coords": rng.normal(size=(2, 5, 8)), "test_coords": rng.normal(size=(100, 8))}
    for protocol in (2, 4, 5):
        out[f"hnn{protocol}"] = numpy_pickle(hnn, protocol)
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    buf = io.BytesIO()
    np.savez(buf, x=x, y=y)
    out["npz"] = buf.getvalue()
    buf = io.BytesIO()
    np.savez_compressed(buf, x=x, y=y)
    out["npz_compressed"] = buf.getvalue()
    with h5py.File(d / "c.h5", "w") as f:
        f.create_dataset("x", data=x)
        f.create_dataset("y", data=y)
    out["h5"] = (d / "c.h5").read_bytes()
    digits = rng.integers(0, 256, (3, 6, 6)).astype(np.uint8)
    idx = bytes([0, 0, 8, 3]) + b"".join(int(k).to_bytes(4, "big") for k in digits.shape) + digits.tobytes()
    out["idx"], out["idx_gz"] = idx, gzip.compress(idx)
    buf = io.BytesIO()
    np.savez(buf, x=digits, y=np.arange(3))
    out["images_npz"] = buf.getvalue()
    write_split(d / "train.h5", 20, seed=0)
    out["topquark"] = (d / "train.h5").read_bytes()
    alg = Algebra(algebras.so(3), dataset="fuzz")
    npz, js = alg.save(d)
    out["algebra_npz"], out["algebra_json_meta"] = npz.read_bytes(), js.read_bytes()
    out["algebra_json"] = alg.export("json", d / "e.json").read_bytes().rstrip()  # any cut is then invalid
    out["algebra_pt"] = alg.export("pt", d / "e.pt").read_bytes()
    shutil.rmtree(d)
    return out


class _Seeds:
    """The seed files behind a fixture whose repr stays short in hypothesis' failure reports."""

    def __getitem__(self, key: str) -> bytes:
        return _seed_files()[key]

    def __repr__(self) -> str:
        return "<seed files>"


@pytest.fixture(scope="module")
def seeds() -> _Seeds:
    return _Seeds()


def _twobody(path: Path):
    return load_dataset(DataConfig(dataset="twobody", data_file=str(path)))


def _custom(path: Path):
    return load_dataset(DataConfig(dataset="custom", data_file=str(path)))


def _topquark(root: Path):
    return load_dataset(DataConfig(dataset="topquark", data_dir=str(root)))


def _digits(path: Path):
    return load_dataset(DataConfig(dataset="rotmnist", data_file=str(path)))


def _images(path: Path):
    return load_dataset(DataConfig(dataset="images", data_file=str(path)))


def _check_images(ds) -> None:
    """An accepted image file must give float32, finite, square (N, C, H, H) images for the grid action."""
    assert ds.x.dtype == torch.float32 and ds.x.ndim == 4 and ds.x.shape[0] > 0
    assert ds.x.shape[-1] == ds.x.shape[-2] >= 2 and torch.isfinite(ds.x).all() and ds.info.action == "grid"


def _check_dataset(ds, n_dim: int | None = None) -> None:
    """An accepted file must give the protocol's tensors: float32, finite, (N, k, n) with N, n > 0."""
    assert ds.x.dtype == torch.float32 and ds.x.ndim == 3 and ds.x.shape[0] > 0
    assert torch.isfinite(ds.x).all()
    if n_dim is not None:
        assert ds.x.shape[2] == n_dim


# ============================================================================ HNN pickle / unpickler


@fuzz_settings(150)
@given(data=st.binary(max_size=300), allow_numpy=st.booleans())
def test_unpickler_random_bytes(fuzz_stats, data, allow_numpy):
    attempt(fuzz_stats, lambda: restricted_loads(data, "rand.pkl", allow_numpy), "rand.pkl")


@fuzz_settings(200)
@given(data=st.data(), which=st.sampled_from(["hnn2", "hnn4", "hnn5"]))
def test_unpickler_mutated_numpy_pickles(fuzz_stats, seeds, data, which):
    raw = data.draw(mutated(seeds[which]))
    out = attempt(fuzz_stats, lambda: restricted_loads(raw, "m.pkl", True), "m.pkl")
    if not isinstance(out, InputError) and isinstance(out, dict):
        for v in out.values():
            assert not (isinstance(v, np.ndarray) and v.dtype.hasobject)


@fuzz_settings(120)
@given(data=st.data(), which=st.sampled_from(["hnn2", "hnn4", "hnn5"]))
def test_hnn_loader_mutated_files(fuzz_stats, seeds, tmp_path, data, which):
    path = tmp_path / "2body-orbits-dataset.pkl"
    path.write_bytes(data.draw(mutated(seeds[which])))
    out = attempt(fuzz_stats, lambda: _twobody(path), path)
    if not isinstance(out, InputError):
        _check_dataset(out, 8)


ODD_DTYPES = [
    "f8",
    "f4",
    "f2",
    ">f8",
    "i8",
    "u1",
    "bool",
    "c16",
    "U3",
    "S2",
    "M8[s]",
    "m8[s]",
    "O",
    "V8",
    [("a", "f8"), ("b", "i4")],
]


@fuzz_settings(100)
@given(
    dtype=st.sampled_from(ODD_DTYPES),
    shape=st.lists(st.integers(0, 9), min_size=0, max_size=4).map(tuple),
    nonfinite=st.booleans(),
    key=st.sampled_from(["coords", "test_coords", "other"]),
)
def test_hnn_loader_wrong_dtypes_and_shapes(fuzz_stats, tmp_path, dtype, shape, nonfinite, key):
    arr = np.zeros(shape, dtype=dtype)
    if nonfinite and arr.dtype.kind == "f" and arr.size:
        arr.flat[0] = np.nan
    path = tmp_path / "h.pkl"
    path.write_bytes(pickle.dumps({key: arr}, protocol=4))
    out = attempt(fuzz_stats, lambda: _twobody(path), path)
    if not isinstance(out, InputError):
        assert key == "coords" and arr.dtype.kind in "fiu" and not nonfinite or arr.dtype.kind != "f"
        _check_dataset(out, 8)


def test_hostile_pickles_run_nothing(fuzz_stats, tmp_path):
    """Every dangerous global, in every protocol, directly and through the HNN loader: refused, and the
    marker file that each payload would create never appears."""
    marker = tmp_path / "PWNED"
    payload = f"touch {marker}"
    for module, name in DANGEROUS_GLOBALS:
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            raw = hostile_pickle(module, name, payload, protocol)
            for allow_numpy in (True, False):
                err = attempt(
                    fuzz_stats, lambda raw=raw, a=allow_numpy: restricted_loads(raw, "evil.pkl", a), "evil.pkl"
                )
                assert isinstance(err, InputError), (module, name, protocol)
            path = tmp_path / "evil.pkl"
            path.write_bytes(raw)
            assert isinstance(attempt(fuzz_stats, lambda p=path: _twobody(p), path), InputError)
    assert not marker.exists()
    # negative control: the same bytes through plain pickle do run the command
    pickle.loads(hostile_pickle("os", "system", payload, 2))
    assert marker.exists()


# ======================================================================================== custom .npz


@fuzz_settings(150)
@given(data=st.data(), which=st.sampled_from(["npz", "npz_compressed"]))
def test_custom_npz_mutated(fuzz_stats, seeds, tmp_path, data, which):
    path = tmp_path / "d.npz"
    path.write_bytes(data.draw(mutated(seeds[which])))
    out = attempt(fuzz_stats, lambda: _custom(path), path)
    if not isinstance(out, InputError):
        _check_dataset(out)


@fuzz_settings(120)
@given(
    descr=st.sampled_from(["<f8", "<f4", "|u1", "<i8", "|b1", "<c16", "|O", "<U4", "|V8", "<M8[s]"]),
    shape=st.lists(st.one_of(st.integers(0, 12), st.integers(10**6, 10**13)), max_size=3).map(tuple),
    n_data=st.integers(0, 256),
    fortran=st.booleans(),
)
def test_custom_npz_forged_headers(fuzz_stats, tmp_path, descr, shape, n_data, fortran):
    """Any declared shape and dtype, with any amount of data behind it: refused unless it is consistent."""
    path = tmp_path / "f.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x.npy", npy_with_header(descr, shape, bytes(n_data), fortran))
    out = attempt(fuzz_stats, lambda: _custom(path), path)
    declared = math.prod(shape) * np.dtype(descr).itemsize
    if not isinstance(out, InputError):
        assert declared == n_data and descr in ("<f8", "<f4", "|u1", "<i8")
        _check_dataset(out)


@fuzz_settings(60)
@given(
    dtype=st.sampled_from(ODD_DTYPES),
    shape=st.lists(st.integers(0, 6), max_size=4).map(tuple),
    y_dtype=st.sampled_from([None, "f8", "O", "c8", "U2", "bool"]),
)
def test_custom_npz_wrong_dtypes(fuzz_stats, tmp_path, dtype, shape, y_dtype):
    arrays = {"x": np.zeros(shape, dtype=dtype)}
    if y_dtype is not None:
        arrays["y"] = np.zeros(shape[:1] + (3,), dtype=y_dtype)
    path = tmp_path / "w.npz"
    np.savez(path, **arrays)
    out = attempt(fuzz_stats, lambda: _custom(path), path)
    if not isinstance(out, InputError):
        assert np.dtype(dtype).kind in "fiu"
        _check_dataset(out)


# ========================================================================================= custom .h5


@fuzz_settings(100)
@given(data=st.data())
def test_custom_h5_mutated(fuzz_stats, seeds, tmp_path, data):
    path = tmp_path / "d.h5"
    path.write_bytes(data.draw(mutated(seeds["h5"])))
    out = attempt(fuzz_stats, lambda: _custom(path), path)
    if not isinstance(out, InputError):
        _check_dataset(out)


@fuzz_settings(60)
@given(
    dtype=st.sampled_from(["f8", "f4", "i2", "u1", "bool", "c16", "S3", "vlen", "compound", "enum"]),
    shape=st.lists(st.integers(0, 6), max_size=4).map(tuple),
    chunked_huge=st.booleans(),
)
def test_custom_h5_wrong_dtypes_and_shapes(fuzz_stats, tmp_path, dtype, shape, chunked_huge):
    path = tmp_path / "w.h5"
    special = {
        "vlen": h5py.vlen_dtype("f8"),
        "compound": np.dtype([("a", "f8")]),
        "enum": h5py.enum_dtype({"a": 0, "b": 1}, basetype="i1"),
    }
    with h5py.File(path, "w") as f:
        if chunked_huge:  # declared, never written: a few hundred bytes on disk
            f.create_dataset("x", shape=(10**12, 3), dtype=special.get(dtype, dtype), chunks=(64, 3))
        else:
            f.create_dataset("x", shape=shape, dtype=special.get(dtype, dtype))
    out = attempt(fuzz_stats, lambda: _custom(path), path)
    if not isinstance(out, InputError):
        assert not chunked_huge
        _check_dataset(out)


# ============================================================================ digits (IDX) and images


@fuzz_settings(150)
@given(data=st.data(), which=st.sampled_from(["idx", "idx_gz"]))
def test_idx_images_mutated(fuzz_stats, seeds, tmp_path, data, which):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(data.draw(mutated(seeds[which])))
    out = attempt(fuzz_stats, lambda: _digits(path), path)
    if not isinstance(out, InputError):
        _check_images(out)


@fuzz_settings(100)
@given(
    code=st.integers(0, 255),
    ndim=st.integers(0, 5),
    dims=st.lists(st.one_of(st.integers(0, 8), st.integers(2**20, 2**32 - 1)), min_size=5, max_size=5),
    n_data=st.integers(0, 300),
)
def test_idx_forged_headers(fuzz_stats, tmp_path, code, ndim, dims, n_data):
    """Any type code, rank and declared size, with any amount of data behind it."""
    path = tmp_path / "forged-images-idx3-ubyte"
    head = bytes([0, 0, code, ndim]) + b"".join(d.to_bytes(4, "big") for d in dims[:ndim])
    path.write_bytes(head + bytes(n_data))
    out = attempt(fuzz_stats, lambda: _digits(path), path)
    if not isinstance(out, InputError):
        _check_images(out)


@fuzz_settings(100)
@given(data=st.data())
def test_images_npz_mutated(fuzz_stats, seeds, tmp_path, data):
    path = tmp_path / "im.npz"
    path.write_bytes(data.draw(mutated(seeds["images_npz"])))
    out = attempt(fuzz_stats, lambda: _images(path), path)
    if not isinstance(out, InputError):
        _check_images(out)


@fuzz_settings(60)
@given(
    dtype=st.sampled_from(ODD_DTYPES),
    shape=st.lists(st.integers(0, 6), max_size=5).map(tuple),
    y_dtype=st.sampled_from([None, "i8", "f8", "O", "U2", "bool"]),
)
def test_images_npz_wrong_dtypes_and_shapes(fuzz_stats, tmp_path, dtype, shape, y_dtype):
    arrays = {"x": np.zeros(shape, dtype=dtype)}
    if y_dtype is not None:
        arrays["y"] = np.zeros(shape[:1], dtype=y_dtype)
    path = tmp_path / "w.npz"
    np.savez(path, **arrays)
    out = attempt(fuzz_stats, lambda: _images(path), path)
    if not isinstance(out, InputError):
        assert np.dtype(dtype).kind in "fiu"
        _check_images(out)


# ========================================================================================= top quark


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # a timeout in a callback
@fuzz_settings(150)
@given(data=st.data())
def test_topquark_mutated(fuzz_stats, seeds, tmp_path, data):
    (tmp_path / "topquark").mkdir(exist_ok=True)
    path = tmp_path / "topquark" / "train.h5"
    path.write_bytes(data.draw(mutated(seeds["topquark"])))
    out = attempt(fuzz_stats, lambda: _topquark(tmp_path), path, limit_s=5.0)
    if not isinstance(out, InputError):
        _check_dataset(out, 4)


@fuzz_settings(60)
@given(
    attr=st.one_of(
        st.binary(max_size=80),
        st.tuples(st.sampled_from(DANGEROUS_GLOBALS), st.integers(0, 5)).map(
            lambda t: hostile_pickle(t[0][0], t[0][1], "touch PWNED", t[1])
        ),
        st.lists(st.text(max_size=6), max_size=6).map(lambda names: pickle.dumps(names, protocol=0)),
    ),
    field=st.sampled_from(["values_block_0_kind", "values_block_1_kind"]),
)
def test_topquark_column_attribute_corrupted(fuzz_stats, seeds, tmp_path, attr, field):
    """The pickled column names are the one place pandas files hold pickles: any content is refused or
    parsed as plain names, never run."""
    (tmp_path / "topquark").mkdir(exist_ok=True)
    path = tmp_path / "topquark" / "train.h5"
    path.write_bytes(seeds["topquark"])
    with h5py.File(path, "a") as f:
        f["table/table"].attrs[field] = np.void(attr) if attr else np.bytes_(b"")
    out = attempt(fuzz_stats, lambda: _topquark(tmp_path), path, limit_s=5.0)
    assert isinstance(out, InputError)
    assert not (tmp_path / "PWNED").exists() and not Path("PWNED").exists()


def _topquark_file(seeds, tmp_path) -> Path:
    (tmp_path / "topquark").mkdir(exist_ok=True)
    path = tmp_path / "topquark" / "train.h5"
    path.write_bytes(seeds["topquark"])
    return path


def test_topquark_corrupt_btree_is_input_error(seeds, tmp_path):
    path = _topquark_file(seeds, tmp_path)
    data = bytearray(path.read_bytes())
    i = data.find(b"TREE")
    data[i : i + 4] = b"XXXX"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="train.h5"):
        _topquark(tmp_path)


def test_topquark_inflated_row_count_is_refused_quickly(seeds, tmp_path):
    path = _topquark_file(seeds, tmp_path)
    with h5py.File(path, "a") as f:
        f["table/table"].resize((10**10,))
    code = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (8 * 1024**3, 8 * 1024**3)); "
        "from liegan.config import DataConfig; from liegan.datasets import load_dataset; "
        "from liegan.io import InputError\n"
        "try:\n    load_dataset(DataConfig(dataset='topquark', data_dir=sys.argv[1]))\n"
        "except InputError as e:\n    print('InputError', e)"
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60
        )  # imports take a few seconds; reading 10^10 rows, hours
    except subprocess.TimeoutExpired:
        pytest.fail("the topquark reader was still reading 10^10 declared rows after 60 s")
    assert proc.stdout.startswith("InputError") and "train.h5" in proc.stdout, proc.stderr[-500:]


# ====================================================================================== algebra files


@fuzz_settings(80)
@given(data=st.data(), which=st.sampled_from(["algebra_npz", "algebra_json", "algebra_pt"]))
def test_algebra_files_mutated(fuzz_stats, seeds, tmp_path, data, which):
    suffix = {"algebra_npz": ".npz", "algebra_json": ".json", "algebra_pt": ".pt"}[which]
    path = tmp_path / f"{which}{suffix}"  # a distinct stem: no sibling .json from another case
    path.write_bytes(data.draw(mutated(seeds[which])))
    out = attempt(fuzz_stats, lambda: load_algebra(path), path)
    if not isinstance(out, InputError):
        assert out.generators.ndim == 3 and np.isfinite(out.generators).all()


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)


@fuzz_settings(120)
@given(
    field=st.sampled_from(
        [
            "generators",
            "mask",
            "dataset",
            "feature_names",
            "n_dim",
            "n_channels",
            "coefficients",
            "config",
            "metrics",
            "liegan_version",
        ]
    ),
    value=st.one_of(JSON_VALUES, st.lists(st.lists(st.lists(st.floats(), max_size=3), max_size=3), max_size=2)),
)
def test_algebra_json_field_values(fuzz_stats, seeds, tmp_path, field, value):
    meta = json.loads(seeds["algebra_json"])
    meta[field] = value
    path = tmp_path / "a.json"
    path.write_text(json.dumps(meta))
    out = attempt(fuzz_stats, lambda: load_algebra(path), path)
    if not isinstance(out, InputError):
        assert out.generators.dtype == np.float64 and np.isfinite(out.generators).all()
        assert out.mask.shape == out.generators.shape


@fuzz_settings(40)
@given(
    gen=st.sampled_from(["f64", "bf16", "c64", "bool", "i8", "str", "list", "none", "ragged"]),
    mask=st.sampled_from(["none", "ok", "str", "wrong_shape", "c64"]),
    meta=st.sampled_from([{}, {"feature_names": 3}, {"n_dim": "x"}, {"dataset": ["a"]}, None]),
)
def test_algebra_pt_contents(fuzz_stats, tmp_path, gen, mask, meta):
    G = torch.zeros(1, 3, 3, dtype=torch.float64)
    gens = {
        "f64": G,
        "bf16": G.bfloat16(),
        "c64": G.to(torch.complex64),
        "bool": G.bool(),
        "i8": G.long(),
        "str": "generators",
        "list": G.tolist(),
        "none": None,
        "ragged": [[[1.0, 2.0], [3.0]]],
    }
    masks = {"ok": torch.ones(1, 3, 3), "str": "mask", "wrong_shape": torch.ones(2), "c64": G.cfloat()}
    obj = {"generators": gens[gen], "metadata": meta}
    if mask != "none":
        obj["mask"] = masks[mask]
    path = tmp_path / "a.pt"
    torch.save(obj, path)
    out = attempt(fuzz_stats, lambda: load_algebra(path), path)
    if not isinstance(out, InputError):
        assert gen in ("f64", "bf16", "i8", "list") and mask in ("none", "ok") and meta is not None


# ======================================================================== truncation at every length class

TRUNCATED = {
    "hnn4": ("h.pkl", _twobody),
    "npz": ("d.npz", _custom),
    "npz_compressed": ("c.npz", _custom),
    "h5": ("d.h5", _custom),
    "algebra_npz": ("a.npz", load_algebra),
    "algebra_json": ("a.json", load_algebra),
    "algebra_pt": ("a.pt", load_algebra),
}


@pytest.mark.parametrize("which", sorted(TRUNCATED) + ["topquark"])
def test_every_truncation_class_is_refused(fuzz_stats, seeds, tmp_path, which):
    data = seeds[which]
    if which == "topquark":
        (tmp_path / "topquark").mkdir()
        path, load = tmp_path / "topquark" / "train.h5", (lambda p: _topquark(tmp_path))
    else:
        name, load = TRUNCATED[which]
        path = tmp_path / name
    for cut in truncations(data):
        path.write_bytes(data[:cut])
        out = attempt(fuzz_stats, lambda: load(path), path, limit_s=5.0)
        assert isinstance(out, InputError), f"{which} cut at {cut} of {len(data)} bytes was accepted"


# ================================================================== regressions for the loader fixes


def _npz_member(path: Path, name: str, payload: bytes, method: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", method) as z:
        z.writestr(name, payload)
    return path


@pytest.mark.parametrize("load, key", [(_custom, "x"), (load_algebra, "generators")])
def test_npz_huge_declared_shape_refused_before_allocating(tmp_path, load, key):
    path = _npz_member(tmp_path / "big.npz", f"{key}.npy", npy_with_header("<f8", (10**12,)))
    with pytest.raises(InputError, match=r"big\.npz: array .* declares shape \(1000000000000,\).*cap"):
        load(path)
    short = _npz_member(tmp_path / "short.npz", f"{key}.npy", npy_with_header("<f8", (10**6,), bytes(64)))
    with pytest.raises(InputError, match=r"short\.npz: not a readable \.npz file: .* holds 64 bytes"):
        load(short)


def test_algebra_npz_damage_is_input_error(tmp_path, seeds):
    bare = tmp_path / "bare.npz"  # a bare .npy under an .npz name: numpy.load would return an array
    bare.write_bytes(npy_with_header("<f8", (1, 2, 2), bytes(32)))
    with pytest.raises(InputError, match=r"bare\.npz: not a readable \.npz"):
        load_algebra(bare)
    good = seeds["algebra_npz"]
    for name, edit, match in [
        ("method", lambda b, i, c: (b.__setitem__(i + 8, 99), b.__setitem__(c + 10, 99)), "compression method"),
        (
            "encrypted",
            lambda b, i, c: (b.__setitem__(i + 6, b[i + 6] | 1), b.__setitem__(c + 8, b[c + 8] | 1)),
            "encrypted",
        ),
    ]:
        data = bytearray(good)
        edit(data, data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02"))
        path = tmp_path / f"{name}.npz"
        path.write_bytes(bytes(data))
        with pytest.raises(InputError, match=match):
            load_algebra(path)
    buf = io.BytesIO()
    np.savez_compressed(buf, generators=np.random.default_rng(0).normal(size=(2, 40, 40)))
    data = bytearray(buf.getvalue())
    data[200:210] = bytes(10)  # inside the deflate stream
    (tmp_path / "z.npz").write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"z\.npz: not a readable \.npz"):
        load_algebra(tmp_path / "z.npz")


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("generators", [[[1.0, 2.0], [3.0]]], "rectangular"),
        ("mask", "zz", "'mask' must be a numeric array"),
        ("mask", [1, 2, 3], "'mask' has shape"),
        ("feature_names", 5, "'feature_names' must be a list"),
        ("feature_names", [1, 2, 3], "feature_names must be strings"),
        ("coefficients", [], "'coefficients' must be a dict"),
    ],
)
def test_algebra_json_bad_fields(seeds, tmp_path, field, value, match):
    meta = json.loads(seeds["algebra_json"])
    meta[field] = value
    path = tmp_path / "a.json"
    path.write_text(json.dumps(meta))
    with pytest.raises(InputError, match=match):
        load_algebra(path)


def test_algebra_json_deep_nesting(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(InputError, match="nested too deeply"):
        load_algebra(path)


def test_algebra_pt_bfloat16_loads_and_string_mask_refused(tmp_path):
    G = torch.tensor(algebras.so(3))
    torch.save({"generators": G.bfloat16(), "metadata": {}}, tmp_path / "b.pt")
    alg = load_algebra(tmp_path / "b.pt")
    np.testing.assert_allclose(alg.generators, algebras.so(3), atol=1e-2)
    torch.save({"generators": G, "mask": "abc", "metadata": {}}, tmp_path / "m.pt")
    with pytest.raises(InputError, match=r"m\.pt: 'mask' must be a numeric array"):
        load_algebra(tmp_path / "m.pt")


def test_h5_links_external_storage_and_huge_shapes_refused(tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.create_dataset("x", data=np.ones((4, 3)))
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(12.0).tobytes())
    cases = {
        "extlink": (lambda f: f.__setitem__("x", h5py.ExternalLink(str(other), "/x")), "ExternalLink"),
        "softlink": (
            lambda f: (f.create_dataset("real", data=np.ones((4, 3))), f.__setitem__("x", h5py.SoftLink("/real"))),
            "SoftLink",
        ),
        "external": (
            lambda f: f.create_dataset("x", shape=(4, 3), dtype="f8", external=[(str(secret), 0, 96)]),
            "other files",
        ),
        "huge": (lambda f: f.create_dataset("x", shape=(10**12, 3), dtype="f8", chunks=(64, 3)), "cap"),
        "null": (lambda f: f.create_dataset("x", shape=None, dtype="f8"), "null"),
    }
    for name, (make, match) in cases.items():
        path = tmp_path / f"{name}.h5"
        with h5py.File(path, "w") as f:
            make(f)
        with pytest.raises(InputError, match=match):
            _custom(path)
    # control: the same data stored inside the file loads
    with h5py.File(tmp_path / "plain.h5", "w") as f:
        f.create_dataset("x", data=np.arange(12.0).reshape(4, 3))
    np.testing.assert_array_equal(_custom(tmp_path / "plain.h5").x[:, 0].numpy(), np.arange(12.0).reshape(4, 3))


def test_array_cap_from_environment(tmp_path, monkeypatch):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((100, 4)))
    assert _custom(path).x.shape == (100, 1, 4)
    monkeypatch.setenv("LIEGAN_MAX_ARRAY_BYTES", "1000")
    with pytest.raises(InputError, match="more than the cap of 1000 bytes"):
        _custom(path)
    monkeypatch.setenv("LIEGAN_MAX_ARRAY_BYTES", "lots")
    with pytest.raises(InputError, match="LIEGAN_MAX_ARRAY_BYTES"):
        _custom(path)


class _Reduce:
    def __init__(self, *args):
        self.args = args

    def __reduce__(self):
        return self.args


def test_pickle_cap_counts_all_arrays_together():
    """numpy's _reconstruct allocates the shape it is given, with no data in the file: many such arrays,
    each under the cap, may not add up to more than it."""
    multiarray = np.ndarray.__reduce__(np.zeros(1))[0]
    arrays = [_Reduce(multiarray, (np.ndarray, (1000,), b"b")) for _ in range(5)]  # 1000 bytes each
    data = pickle.dumps(arrays, protocol=2)
    assert len(data) < 1000
    assert len(restricted_loads(data, "ok.pkl", True, max_bytes=5000)) == 5
    with pytest.raises(InputError, match=r"many\.pkl: .*arrays declared so far take 4000 bytes"):
        restricted_loads(data, "many.pkl", True, max_bytes=3000)


# ==================================================== huge declared shapes, default caps, limited memory

HUGE_WORKER = r"""
import json, os, pickle, resource, sys, zipfile
from pathlib import Path
import h5py, numpy as np
from liegan.algebra import load_algebra
from liegan.config import DataConfig
from liegan.datasets import load_dataset
from liegan.io import InputError
from liegan.safe_pickle import restricted_loads

d = Path(sys.argv[1])
def npy(descr, shape):
    h = "{'descr': %r, 'fortran_order': False, 'shape': %r, }" % (descr, shape)
    h += " " * (63 - (len(h) + 10) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h.encode() + bytes(64)
def member(name, key, descr, shape):
    with zipfile.ZipFile(d / name, "w") as z:
        z.writestr(key + ".npy", npy(descr, shape))
    return d / name
MULTI = np.ndarray.__reduce__(np.zeros(1))[0]
class R:
    def __init__(self, *a): self.a = a
    def __reduce__(self): return self.a
def huge_pickle(kind):
    if kind == "reconstruct":
        obj = R(MULTI, (np.ndarray, (10**12,), b"b"))
    elif kind == "build":
        obj = R(MULTI, (np.ndarray, (0,), b"b"), (1, (10**6, 10**6), np.dtype("f8"), False, b""))
    else:
        obj = R(MULTI, (np.ndarray, (2 * 10**8,), b"b"))  # 200 MB each, under the cap one by one
        obj = [obj] * 1 + [R(MULTI, (np.ndarray, (2 * 10**8 + i,), b"b")) for i in range(40)]
    return pickle.dumps({"coords": obj}, protocol=2)
with h5py.File(d / "chunked.h5", "w") as f:
    f.create_dataset("x", shape=(10**12, 8), dtype="f8", chunks=(128, 8))
with h5py.File(d / "wide.h5", "w") as f:
    f.create_dataset("x", shape=(3, 2**40), dtype="f4", chunks=(1, 1024))
def custom(p):
    return load_dataset(DataConfig(dataset="custom", data_file=str(p)))
cases = {
    "npz custom 1e12": lambda: custom(member("a.npz", "x", "<f8", (10**12,))),
    "npz custom 2^62 u1": lambda: custom(member("b.npz", "x", "|u1", (2**31, 2**31))),
    "npz algebra 1e12": lambda: load_algebra(member("c.npz", "generators", "<f8", (10**4, 10**4, 10**4))),
    "h5 custom chunked 1e12": lambda: custom(d / "chunked.h5"),
    "h5 custom wide": lambda: custom(d / "wide.h5"),
}
for kind in ("reconstruct", "build", "many"):
    (d / f"{kind}.pkl").write_bytes(huge_pickle(kind))
    cases[f"pickle {kind}"] = lambda k=kind: restricted_loads((d / f"{k}.pkl").read_bytes(), f"{k}.pkl", True)
    cases[f"hnn {kind}"] = lambda k=kind: load_dataset(DataConfig(dataset="twobody", data_file=str(d / f"{k}.pkl")))
vm = int([l.split()[1] for l in open("/proc/self/status") if l.startswith("VmSize")][0]) * 1024
limit = vm + 1024**3  # what the imports use, plus 1 GiB
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
print(json.dumps({"baseline_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}), flush=True)
for name, fn in cases.items():
    try:
        fn()
        out = "accepted"
    except InputError as e:
        out = "InputError: " + str(e)
    except BaseException as e:
        out = f"{type(e).__name__}: {e}"
    print(json.dumps({"case": name, "outcome": out}), flush=True)
print(json.dumps({"maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def test_huge_declared_shapes_refused_under_memory_limit(fuzz_stats, tmp_path):
    """Default caps, in a subprocess whose address space is limited to its imports plus 1 GiB: every
    huge declaration is refused with InputError before any allocation (a MemoryError would show here), and
    resident memory stays within 1 GiB of the process's own baseline after its imports."""
    proc = subprocess.run(
        [sys.executable, "-c", HUGE_WORKER, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("LIEGAN_MAX")},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    outcomes = {r["case"]: r["outcome"] for r in lines if "case" in r}
    assert len(outcomes) == 11, proc.stdout
    fuzz_stats["cases"] += len(outcomes)
    fuzz_stats["refused"] += sum(o.startswith("InputError") for o in outcomes.values())
    bad = {k: v for k, v in outcomes.items() if not v.startswith("InputError")}
    assert not bad, bad
    # resident memory grew by under 1 GiB over what the imports alone use (that baseline depends on the torch
    # build: a CUDA build's imports are larger than a CPU build's)
    baseline = next(r["baseline_maxrss_kb"] for r in lines if "baseline_maxrss_kb" in r)
    assert lines[-1]["maxrss_kb"] - baseline < 1024**2, (baseline, lines[-1])
