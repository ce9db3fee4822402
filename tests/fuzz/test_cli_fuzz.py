"""A property-based fuzzer of the command line: generated option values, config files and run-folder states.

The contract for every invocation: either a sane run (exit 0, the run folder or output complete), or one
line on stderr and exit status 2 (1 for a run that cannot go on) with nothing created, changed or removed;
and in no case is a path outside the ones given touched (links into an "outside" folder stay, and what they
point at is unchanged).  Most cases call ``liegan.cli.main(argv)`` in process; a few run the real command.
The cases are counted and the count printed at the end of the session (conftest.py), as for the loaders.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import stat
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liegan.cli import main

BASE = [
    "--dataset",
    "custom",
    "--data-file",
    "data.npz",
    "--epochs",
    "1",
    "--batch-size",
    "64",
    "--device",
    "cpu",
    "--quiet",
    "--logdir",
    "runs",
    "--set",
    "discriminator.hidden=[16]",  # a narrow discriminator: a sane run then costs a fraction of a second
]


def fuzz_settings(n: int) -> settings:
    return settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def tree(root: Path) -> dict[str, tuple]:
    """Every path under root (links not followed): kind and mode, and for files size and modification time
    (a folder's own time moves when an allowed file appears in it)."""
    out = {}
    for p in [root, *root.rglob("*")]:
        st_ = p.lstat()
        out[str(p.relative_to(root))] = (st_.st_mode,) + (() if p.is_dir() else (st_.st_size, st_.st_mtime_ns))
    return out


@pytest.fixture(scope="module", autouse=True)
def _no_images():
    """TensorBoard's generator figures take most of a one-step run (matplotlib, about a second here); they are
    not part of the command line's contract, so the fuzz skips drawing them (tests/trainers cover them)."""
    from liegan.trainers.writer import RunWriter

    mp = pytest.MonkeyPatch()
    mp.setattr(RunWriter, "images", lambda self, L, z, step: setattr(self, "imaged_at", step))
    yield
    mp.undo()


@pytest.fixture(scope="module")
def world(tmp_path_factory, _no_images):
    """A sandbox (cwd of every case) with a small data file and a finished run, and an outside folder that
    links from the sandbox point into.  Each case restores the sandbox from a pristine copy."""
    root = tmp_path_factory.mktemp("cli-fuzz")
    pristine, outside = root / "pristine", root / "outside"
    pristine.mkdir()
    outside.mkdir()
    (outside / "precious.txt").write_text("do not touch")
    np.savez(pristine / "data.npz", x=np.random.default_rng(0).normal(size=(64, 1, 3)).astype(np.float32))
    cwd = os.getcwd()
    os.chdir(pristine)
    try:
        rc, _, err = invoke(["train", *BASE, "--name", "done"])
    finally:
        os.chdir(cwd)
    assert rc == 0, err
    (pristine / "runs" / "done" / ".lock").unlink()
    return {"root": root, "pristine": pristine, "outside": outside}


def invoke(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as e:  # argparse's own errors (one line: the parser is liegan.cli.Parser)
            rc = e.code if isinstance(e.code, int) else 2
    return rc, out.getvalue(), err.getvalue()


@contextlib.contextmanager
def case(world):
    """A fresh copy of the sandbox as cwd; the outside folder checked unchanged afterwards."""
    box = world["root"] / "box"
    shutil.rmtree(box, ignore_errors=True)
    shutil.copytree(world["pristine"], box, symlinks=True)
    outside_before = tree(world["outside"])
    cwd = os.getcwd()
    os.chdir(box)
    try:
        yield box
    finally:
        os.chdir(cwd)
    assert tree(world["outside"]) == outside_before, "a path outside the ones given was touched"


def check_contract(stats: dict, box: Path, argv: list[str], produced: list[str]) -> int:
    """Run argv in ``box``; assert the contract; ``produced``: the paths a sane run may create or change."""
    before = tree(box)
    t0 = time.perf_counter()
    rc, out, err = invoke(argv)
    stats["cli_seconds"] += time.perf_counter() - t0
    stats["cli_cases"] += 1
    assert "Traceback" not in err, (argv, err)
    after = tree(box)
    if rc == 0:
        stats["cli_sane"] += 1
        changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
        stray = [k for k in changed if not any(k == p or k.startswith(p + "/") for p in produced)]
        assert not stray, (argv, stray)
        return rc
    lines = err.strip().splitlines()
    assert rc in (1, 2) and len(lines) == 1 and lines[0].startswith("liegan"), (argv, rc, err)
    assert after == before, (argv, "a refused command changed the sandbox", err)
    stats["cli_refused"] += 1
    return rc


# ------------------------------------------------------------------------------------------- strategies

JUNK = st.sampled_from(
    [
        "",
        "abc",
        "nan",
        "inf",
        "-inf",
        "1e400",
        "0x10",
        "2.5",
        "-0",
        " 3 ",
        "[1,2]",
        "none",
        "true",
        "1e12",
        "99999999999999999999",
        "-1",
        "0",
        "ü",
        "[",
        "1,,2",
    ]
)


def ints(valid: st.SearchStrategy, slow: tuple[int, int] | None = None) -> st.SearchStrategy:
    """``slow``: the accepted values that would make a sane run take minutes (epochs 807168 did); the wide
    draw skips them, the small valid ones cover the sane runs."""
    wide = st.integers(-(10**15), 10**15)
    if slow:
        wide = wide.filter(lambda v: not slow[0] <= v <= slow[1])
    return st.one_of(valid.map(str), wide.map(str), JUNK)


def floats(valid: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(valid.map(repr), st.floats(allow_nan=True, allow_infinity=True).map(repr), JUNK)


def choice(valid: list[str]) -> st.SearchStrategy:
    return st.one_of(st.sampled_from(valid), st.text(min_size=0, max_size=8), JUNK)


def lists(valid: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(
        st.lists(valid, max_size=3).map(lambda v: "[" + ", ".join(map(str, v)) + "]"),
        st.lists(st.integers(-(10**9), 10**9), max_size=20).map(lambda v: ",".join(map(str, v))),
        JUNK,
    )


# config key -> values: small valid ones (so a sane run stays quick) mixed with everything else
VALUES = {
    "train.epochs": ints(st.integers(1, 2), slow=(3, 10**6)),  # 10**6: the largest accepted
    "train.batch_size": ints(st.integers(16, 64)),
    "train.lr_g": floats(st.floats(0, 0.05)),
    "train.lr_d": floats(st.floats(0, 0.05)),
    "train.seed": ints(st.integers(0, 2**32 - 1)),
    "train.betas_g": lists(st.floats(0, 0.99).map(lambda v: round(v, 3))),
    "train.checkpoint_every": ints(st.integers(1, 3)),
    "train.log_every": ints(st.integers(0, 5)),
    "train.reg_p": floats(st.floats(1, 3)),
    "train.orth_form": choice(["frobenius", "killing"]),
    "train.lr_schedule": choice(["constant", "cosine"]),
    "train.device": choice(["cpu", "auto", "cuda:99", "mps", "meta", "xpu"]),
    "train.lambda_decay": lists(st.integers(0, 3)),
    "train.fault_retries": ints(st.integers(0, 2)),
    "generator.channels": ints(st.integers(1, 3)),
    "generator.coefficients": choice(["normal", "uniform", "integer"]),
    "generator.sigma": floats(st.floats(0.01, 2)),
    "generator.int_low": ints(st.integers(-3, 3)),
    "generator.mask": choice(["none", "blocks:1,2", "blocks:2,2", "blocks:a", "missing.npy", "data.npz"]),
    "generator.subgroup": choice(["true", "false"]),
    "generator.subgroup_from": choice(["missing.npz", "data.npz", "runs/done"]),
    "discriminator.hidden": lists(st.integers(1, 16)),
    "discriminator.negative_slope": floats(st.floats(0, 1)),
    "data.n_samples": ints(st.integers(1, 64)),
    "data.y_kind": choice(["none", "vector", "scalar", "class"]),
    "data.seed": ints(st.integers(0, 3)),
    "run.name": st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=120
    ),
    "run.preset": choice(["default", "paper"]),
    "train.bogus": JUNK,
    "nope.key": JUNK,
}
FLAGS = {
    "train.epochs": "--epochs",
    "train.batch_size": "--batch-size",
    "train.lr_g": "--lr-g",
    "train.lr_d": "--lr-d",
    "train.seed": "--seed",
    "train.checkpoint_every": "--checkpoint-every",
    "train.device": "--device",
    "generator.channels": "--channels",
    "generator.mask": "--mask",
    "generator.coefficients": "--coefficients",
    "generator.sigma": "--sigma",
    "generator.subgroup_from": "--subgroup-from",
    "data.n_samples": "--n-samples",
    "data.y_kind": "--y-kind",
    "run.name": "--name",
    "run.preset": "--preset",
    "data.seed": "--data-seed",
}


@st.composite
def train_options(draw) -> list[str]:
    argv = []
    for key in draw(st.lists(st.sampled_from(sorted(VALUES)), min_size=2, max_size=4, unique=True)):
        value = draw(VALUES[key])
        if key in FLAGS and draw(st.booleans()):
            argv.append(f"{FLAGS[key]}={value}")  # '=' keeps a value that starts with '-' a value
        else:
            argv += ["--set", f"{key}={value}"]
    return argv


# ---------------------------------------------------------------------------------------------- the fuzz


@fuzz_settings(600)
@given(options=train_options())
def test_train_options(world, fuzz_stats, options):
    with case(world) as box:
        check_contract(fuzz_stats, box, ["train", *BASE, "--name", "fz", *options], produced=["runs"])


@fuzz_settings(150)
@given(
    toml=st.one_of(
        st.text(max_size=200),
        st.dictionaries(
            st.sampled_from(["train", "generator", "data", "run", "bogus"]),
            st.dictionaries(
                st.sampled_from(["epochs", "lr_g", "channels", "hidden", "name", "x"]),
                st.one_of(
                    st.integers(-(10**20), 10**20),
                    st.floats(),
                    st.text(max_size=5),
                    st.booleans(),
                    st.lists(st.integers(-5, 70), max_size=3),
                ),
                max_size=3,
            ),
            max_size=3,
        ).map(
            lambda d: "\n".join(
                f"[{s}]\n" + "\n".join(f"{k} = {_toml(v)}" for k, v in body.items()) for s, body in d.items()
            )
        ),
    )
)
def test_config_files(world, fuzz_stats, toml):
    with case(world) as box:
        (box / "c.toml").write_text(toml)
        check_contract(fuzz_stats, box, ["train", *BASE, "--name", "fz", "--config", "c.toml"], produced=["runs"])


def _toml(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, float) and not np.isfinite(v):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}[repr(v)]
    return repr(v) if not isinstance(v, list) else "[" + ", ".join(map(str, v)) + "]"


STATES = ["missing", "empty", "file", "fifo", "link-out", "dead", "done", "done-truncated", "done-no-digest"]


def make_state(box: Path, outside: Path, name: str, state: str) -> None:
    path = box / "runs" / name
    if state == "empty":
        path.mkdir()
    elif state == "file":
        path.write_text("x")
    elif state == "fifo":
        os.mkfifo(path)
    elif state == "link-out":
        path.symlink_to(outside)
    elif state == "dead":
        path.mkdir()
        shutil.copy(box / "runs" / "done" / "config.toml", path / "config.toml")
    elif state.startswith("done") and name != "done":
        shutil.copytree(box / "runs" / "done", path)
    last = path / "checkpoints" / "last.pt"
    if state == "done-truncated":
        last.write_bytes(last.read_bytes()[:500])
    elif state == "done-no-digest":
        import torch

        s = torch.load(last, weights_only=True)
        s.pop("digest")
        torch.save(s, last)


@fuzz_settings(250)
@given(
    state=st.sampled_from(STATES),
    command=st.sampled_from(["new", "resume", "export"]),
    extra=st.one_of(
        st.just([]),
        st.sampled_from(
            [
                ["--epochs", "2"],
                ["--epochs", "0"],
                ["--channels", "2"],
                ["--device", "cpu"],
                ["--set", "train.lr_g=0.5"],
            ]
        ),
    ),
    out=st.sampled_from(["none", "fresh", "file", "dir", "fifo", "link-out", "under-file", "dangling"]),
)
def test_run_folder_states(world, fuzz_stats, state, command, extra, out):
    with case(world) as box:
        make_state(box, world["outside"], "r", state)
        if command == "new":
            argv, produced = ["train", *BASE, "--name", "r", *extra], ["runs"]
        elif command == "resume":
            argv, produced = ["train", "--resume", "runs/r", "--quiet", *extra], ["runs/r"]
        else:
            target = _out_path(box, world["outside"], out)
            argv = ["export", "runs/r", *(["--out", str(target)] if target else [])]
            produced = [str(target.relative_to(box)) if target else "runs/r/algebra-export.npz"]
        check_contract(fuzz_stats, box, argv, produced)


def _out_path(box: Path, outside: Path, kind: str) -> Path | None:
    p = box / "o.npz"
    if kind == "none":
        return None
    if kind == "file":
        p.write_text("old")
    elif kind == "dir":
        p.mkdir()
    elif kind == "fifo":
        os.mkfifo(p)
    elif kind == "link-out":
        p.symlink_to(outside / "precious.txt")
    elif kind == "under-file":
        (box / "f").write_text("a file")
        p = box / "f" / "o.npz"
    elif kind == "dangling":
        p.symlink_to(outside / "nothing-here")
    return p


@pytest.mark.parametrize(
    "argv, rc",
    [
        (["train", *BASE, "--name", "p", "--batch-size", "0"], 2),
        (["export", "runs/done", "--out", "/dev/null"], 2),
        (["train", *BASE, "--name", "p"], 0),
    ],
    ids=["refused-option", "device-out", "sane-run"],
)
def test_real_processes(world, fuzz_stats, argv, rc, run_cli):
    """The same contract through the real command: argument parsing, imports and exit status as a user has them."""
    with case(world) as box:
        before = tree(box)
        proc = run_cli(*argv, timeout=180)
        fuzz_stats["cli_cases"] += 1
        assert proc.returncode == rc, proc.stderr[-2000:]
        if rc == 2:
            assert len(proc.stderr.strip().splitlines()) == 1 and tree(box) == before, proc.stderr
            assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
            fuzz_stats["cli_refused"] += 1
        else:
            assert (box / "runs" / "p" / "algebra.npz").exists()
            fuzz_stats["cli_sane"] += 1


# ------------------------------------------------------------- bridge sizes, analyze inputs, fetch records

BRIDGE_VALUES = {
    "--max-samples": ints(st.sampled_from([4, 5, 20_000, 10**9])),
    "--fit-steps": ints(st.integers(1, 10**7)),
    "--ensemble-members": ints(st.integers(1, 10_000)),
    "--gd-steps": ints(st.integers(1, 10**7)),
    "--ensemble-sigma": floats(st.floats(0.01, 1e3)),
    "--gd-lr": floats(st.floats(1e-4, 10)),
    "--teleport-every": ints(st.integers(0, 100)),
    "--target": floats(st.floats(0.01, 0.99)),
    "predictor.hidden": lists(st.integers(1, 64)),
    "predictor.test_fraction": floats(st.floats(0.01, 0.99)),
    "invariance.n_random": ints(st.integers(1, 10_000)),
    "invariance.t": floats(st.floats(1e-3, 100)),
    "descent.batch_size": ints(st.integers(0, 2**24)),
    "descent.teleport_at": lists(st.integers(0, 100)),
    "descent.teleport_batches": ints(st.integers(1, 100)),
    "descent.teleport_batch_size": ints(st.integers(0, 2**24)),
    "descent.teleport_steps": ints(st.integers(0, 100)),
    "descent.loss_tol": floats(st.floats(0, 1)),
}


class Composed(BaseException):
    """Raised in place of the bridge pipeline: the options were accepted and composed into this config."""

    def __init__(self, cfg):
        self.cfg = cfg


@fuzz_settings(150)
@given(
    options=st.lists(st.sampled_from(sorted(BRIDGE_VALUES)), min_size=1, max_size=4, unique=True).flatmap(
        lambda keys: st.tuples(*[st.tuples(st.just(k), BRIDGE_VALUES[k]) for k in keys])
    )
)
def test_bridge_size_options(world, fuzz_stats, options, monkeypatch_module):
    """Every bridge option either refused with one line (exit 2, nothing created) or composed into a config
    whose every value lies within its stated limits; the pipeline itself (minutes) is replaced."""
    from liegan.config import check_fields

    argv = ["bridge", "runs/done", "--out", "bo", "--quiet"]
    for key, value in options:
        argv += [f"{key}={value}"] if key.startswith("--") else ["--set", f"{key}={value}"]
    with case(world) as box:
        try:
            rc = check_contract(fuzz_stats, box, argv, produced=[])
        except Composed as done:
            check_fields(done.cfg, "composed")  # raises InputError for a value outside its limits
            assert not (box / "bo").exists()
            fuzz_stats["cli_cases"] += 1
            fuzz_stats["cli_sane"] += 1
            return
        assert rc == 2, (argv, rc)


@pytest.fixture(scope="module")
def monkeypatch_module():
    import liegan.trainers.bridge as bridge

    mp = pytest.MonkeyPatch()
    mp.setattr(bridge, "run_bridge", lambda run, cfg, out=None, progress=True: (_ for _ in ()).throw(Composed(cfg)))
    yield mp
    mp.undo()


GENERATOR_VALUES = st.sampled_from([0.0, 1e-310, 1e-12, 1.0, -3.0, 1e150, 7.0, float("nan"), float("inf")])


@fuzz_settings(40)
@given(
    c=st.integers(1, 3),
    n=st.integers(1, 5),
    fill=st.one_of(GENERATOR_VALUES.map(lambda v: ("const", v)), st.integers(0, 2**31).map(lambda s: ("seed", s))),
    draws=st.one_of(st.none(), ints(st.integers(1, 50))),
)
def test_analyze_inputs(world, fuzz_stats, c, n, fill, draws):
    """An algebra file of any small shape and content (zero, subnormal, huge, integer, non-finite) and any
    --metric-draws: a report, or one line and exit 2 with nothing written."""
    kind, v = fill
    L = np.full((c, n, n), v) if kind == "const" else np.random.default_rng(v).integers(-3, 4, (c, n, n)) * 1.0
    with case(world) as box:
        (box / "a").mkdir()
        np.savez(box / "a" / "algebra.npz", generators=L, mask=np.ones_like(L))
        argv = ["analyze", "a/algebra.npz", "--no-figures", *([] if draws is None else [f"--metric-draws={draws}"])]
        if check_contract(fuzz_stats, box, argv, produced=["a"]) == 0:
            assert (box / "a" / "analysis.json").is_file() and (box / "a" / "report.md").is_file()


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=12,
)
ENTRY_KEYS = ["key", "filename", "size", "filesize", "checksum", "links"]


@st.composite
def records(draw) -> bytes:
    """A Zenodo record as a server might send it: valid, with fields of the wrong type, or not JSON at all."""
    entry = {"key": "train.h5", "size": 3, "checksum": "md5:" + "0" * 32, "links": {"self": "http://127.0.0.1:9/f"}}
    for k in draw(st.lists(st.sampled_from(ENTRY_KEYS), max_size=3, unique=True)):
        entry[k] = draw(JSONISH)
    meta = draw(st.one_of(st.just({"files": [entry]}), st.just({"files": {"entries": {"e": entry}}}), JSONISH))
    body = json.dumps(meta, allow_nan=True).encode()
    cut = draw(st.one_of(st.none(), st.integers(0, max(0, len(body) - 1))))
    return body if cut is None else body[:cut]


@fuzz_settings(100)
@given(body=records())
def test_fetch_records(world, fuzz_stats, body, monkeypatch_fetch):
    """`liegan data fetch` against whatever the records API returns (the downloads themselves fail: nothing
    listens there): one line naming the URL and exit 2, nothing created under --data-dir."""
    monkeypatch_fetch["body"] = body
    with case(world) as box:
        argv = ["data", "fetch", "topquark", "--data-dir", "d", "--api", "http://127.0.0.1:9/api", "--quiet"]
        assert check_contract(fuzz_stats, box, argv, produced=[]) == 2
        assert not (box / "d").exists()


@pytest.fixture(scope="module")
def monkeypatch_fetch():
    import urllib.error

    from liegan.datasets import fetch

    served: dict = {}

    class Response(io.BytesIO):
        status, length = 200, None

    def fake_open(url, headers=None):
        if url.endswith("/records/2603256"):
            return Response(served["body"])
        raise urllib.error.URLError("connection refused")

    mp = pytest.MonkeyPatch()
    mp.setattr(fetch, "_open", fake_open)
    yield served
    mp.undo()
