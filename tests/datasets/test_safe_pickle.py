"""The restricted unpickler: numpy pickles of every protocol load; nothing else can run or be built."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from liegan.io import InputError
from liegan.safe_pickle import restricted_load_file, restricted_loads

MULTIARRAY = np.ndarray.__reduce__(np.zeros(1))[0]  # numpy's own _reconstruct, whatever numpy's version


def _numpy_objects() -> dict:
    return {
        "c": np.arange(24.0).reshape(2, 3, 4),
        "f32": np.asfortranarray(np.ones((2, 3), np.float32)),
        "i": np.arange(5, dtype=np.int64),
        "u8": np.arange(3, dtype=np.uint8),
        "b": np.array([True, False]),
        "strided": np.arange(10.0)[::2],
        "transposed": np.arange(24.0).reshape(2, 3, 4).transpose(2, 0, 1),
        "fancy": np.arange(24.0).reshape(2, 3, 4)[:, :, [0, 2, 1, 3]],
        "empty": np.empty((0, 8)),
        "structured": np.zeros(3, dtype=[("a", "f8"), ("b", "i4")]),
        "scalar": np.float64(2.5),
        "iscalar": np.int64(-3),
        "bytes": b"\x00\xffabc",
        "nobytes": b"",
        "plain": [1, 2.5, "s", (None, True), {"k": "v"}],
    }


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_numpy_round_trip_every_protocol(protocol):
    obj = _numpy_objects()
    back = restricted_loads(pickle.dumps(obj, protocol=protocol), "f.pkl", allow_numpy=True)
    assert back.keys() == obj.keys()
    for k, v in obj.items():
        assert type(back[k]) is type(v), k
        if isinstance(v, np.ndarray):
            assert back[k].dtype == v.dtype and back[k].shape == v.shape, k
            np.testing.assert_array_equal(back[k], v)
        else:
            assert back[k] == v, k


def test_numpy1_module_names_accepted():
    """Files written under numpy 1.x name numpy.core.multiarray; they must keep loading under numpy 2."""
    a = np.arange(6.0).reshape(2, 3)
    data = pickle.dumps(a, protocol=2)
    old = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"numpy.core.multiarray" in old or b"numpy._core" not in data
    np.testing.assert_array_equal(restricted_loads(old, "old.pkl", allow_numpy=True), a)


def test_no_globals_mode_reads_plain_data_only():
    names = ["E_0", "PX_0", "truthE", "is_signal_new"]
    assert restricted_loads(pickle.dumps(names, protocol=0), "attr", allow_numpy=False) == names
    refused = r"attr: refusing to load global 'numpy\._core\.multiarray\._reconstruct'"
    with pytest.raises(InputError, match=refused):
        restricted_loads(pickle.dumps(np.zeros(2)), "attr", allow_numpy=False)


class _System:
    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


class _Eval:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


@pytest.mark.parametrize("allow_numpy", [True, False])
def test_hostile_pickles_refused_without_running_code(tmp_path, allow_numpy):
    marker = tmp_path / "pwned"
    raw = b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."  # hand-written protocol 0
    with pytest.raises(InputError, match=r"evil\.pkl: refusing to load global 'os\.system'"):
        restricted_loads(raw, "evil.pkl", allow_numpy)
    with pytest.raises(InputError, match=r"refusing to load global '(posix|os|nt)\.system'"):
        restricted_loads(pickle.dumps({"coords": _System(f"touch {marker}")}), "evil.pkl", allow_numpy)
    with pytest.raises(InputError, match=r"refusing to load global 'builtins\.eval'"):
        restricted_loads(pickle.dumps([1.0, _Eval()]), "evil.pkl", allow_numpy)
    assert not marker.exists()
    # the negative control: plain pickle.loads on the same bytes does run the command
    pickle.loads(raw)
    assert marker.exists()


class _Reduce:
    def __init__(self, fn, args, state=None):
        self.fn, self.args, self.state = fn, args, state

    def __reduce__(self):
        return (self.fn, self.args) if self.state is None else (self.fn, self.args, self.state)


def test_object_arrays_refused():
    with pytest.raises(InputError, match="object arrays"):
        restricted_loads(pickle.dumps(np.array([1, "a"], dtype=object)), "o.pkl", True)
    with pytest.raises(InputError, match="object arrays"):
        restricted_loads(pickle.dumps(np.zeros(2, dtype=[("a", "f8"), ("o", "O")])), "o.pkl", True)


def test_forged_dtype_flags_refused():
    """dtype.__setstate__ can mark a void dtype as holding objects; raw bytes would then be read as object
    pointers.  The BUILD guard must catch it before any array uses the dtype."""
    forged = _Reduce(np.dtype, ("V8", False, True), (3, "|", None, None, None, 8, 1, 63))
    array = _Reduce(MULTIARRAY, (np.ndarray, (0,), b"b"), (1, (1,), forged, False, b"\x00" * 8))
    with pytest.raises(InputError, match="object arrays"):
        restricted_loads(pickle.dumps(array, protocol=2), "forged.pkl", True)


def test_memory_guards():
    huge = _Reduce(MULTIARRAY, (np.ndarray, (10**12,), b"b"))
    with pytest.raises(InputError, match="exceeds the cap"):
        restricted_loads(pickle.dumps(huge, protocol=2), "big.pkl", True)
    direct = _Reduce(np.ndarray, ((10**12,),))  # numpy.ndarray(shape) would allocate; it is never callable
    with pytest.raises(InputError, match="big.pkl"):
        restricted_loads(pickle.dumps(direct, protocol=2), "big.pkl", True)
    data = pickle.dumps(np.zeros(100))
    with pytest.raises(InputError, match="larger than the cap of 100 bytes"):
        restricted_loads(data, "cap.pkl", True, max_bytes=100)
    small = restricted_loads(data, "cap.pkl", True, max_bytes=len(data))
    np.testing.assert_array_equal(small, np.zeros(100))


def test_size_cap_from_environment_and_file(tmp_path, monkeypatch):
    path = tmp_path / "a.pkl"
    path.write_bytes(pickle.dumps(np.zeros(100)))
    np.testing.assert_array_equal(restricted_load_file(path, True), np.zeros(100))
    monkeypatch.setenv("LIEGAN_MAX_PICKLE_BYTES", "64")
    with pytest.raises(InputError, match=r"a\.pkl: file of \d+ bytes is larger than the cap of 64 bytes"):
        restricted_load_file(path, True)
    monkeypatch.setenv("LIEGAN_MAX_PICKLE_BYTES", "lots")
    with pytest.raises(InputError, match="LIEGAN_MAX_PICKLE_BYTES"):
        restricted_load_file(path, True)


def test_codecs_encode_only_latin1():
    import _codecs

    bad = _Reduce(_codecs.encode, ("abc", "rot13"))
    with pytest.raises(InputError, match="latin-1"):
        restricted_loads(pickle.dumps(bad, protocol=2), "c.pkl", True)


@pytest.mark.parametrize("data", [b"", b"\x80", b"garbage, not a pickle", b"\x80\x04\x95\xff\xff\xff\xff"])
def test_garbage_is_input_error(data):
    with pytest.raises(InputError, match="g.pkl: not a readable pickle"):
        restricted_loads(data, "g.pkl", True)


def test_truncated_numpy_pickle(tmp_path):
    data = pickle.dumps({"coords": np.arange(1000.0)}, protocol=2)
    for cut in (1, len(data) // 3, len(data) - 1):
        with pytest.raises(InputError, match="t.pkl"):
            restricted_loads(data[:cut], "t.pkl", True)


def test_persistent_ids_refused():
    import io

    class P(pickle.Pickler):
        def persistent_id(self, obj):
            return "x" if obj == "secret" else None

    buf = io.BytesIO()
    P(buf, protocol=2).dump(["secret"])
    with pytest.raises(InputError, match="persistent"):
        restricted_loads(buf.getvalue(), "p.pkl", False)


def test_file_errors(tmp_path):
    with pytest.raises(InputError, match=r"missing\.pkl: file not found"):
        restricted_load_file(tmp_path / "missing.pkl", True)
    with pytest.raises(InputError, match="not a regular file"):
        restricted_load_file(tmp_path, True)
