"""`liegan runs`: run folders read back as finished, interrupted, running or failed, with their verdicts."""

import json
import os
import time

import numpy as np
import pytest

from liegan import Algebra, InputError
from liegan.config import to_toml
from liegan.trainers.runs import describe_run, format_runs, list_runs


def make_run(root, name, dataset="twobody", planned=5, done=None, verdict=None, age_s=0.0, checkpoint=False):
    run = root / name
    run.mkdir(parents=True)
    (run / "config.toml").write_text(to_toml({"data": {"dataset": dataset}, "train": {"epochs": planned}}))
    if checkpoint:
        (run / "checkpoints").mkdir()
        (run / "checkpoints" / "last.pt").write_bytes(b"x")
    if done is not None:
        Algebra(np.eye(2)[None], dataset=dataset, metrics={"epochs": done, "similarity_to_truth": 0.9991}).save(run)
        if verdict is not None:
            meta = json.loads((run / "algebra.json").read_text())
            (run / "algebra.json").write_text(json.dumps(meta | {"verdict": verdict}))
    old = time.time() - age_s
    for p in [run, *run.rglob("*")]:
        os.utime(p, (old, old))
    return run


def test_states_and_verdicts(tmp_path):
    make_run(
        tmp_path,
        "a-finished",
        planned=5,
        done=5,
        age_s=400,
        verdict={
            "summary": "so(2) found: similarity 0.999 (chance 0.02). Channels: ...",
            "lines": ["so(2) found: similarity 0.999 (chance 0.02).", "Channels: ..."],
            "converged": True,
        },
    )
    make_run(tmp_path, "b-interrupted", planned=5, done=2, age_s=300)
    make_run(tmp_path, "c-failed", dataset="topquark", age_s=3600, checkpoint=True)
    make_run(tmp_path, "d-running", age_s=10)
    make_run(tmp_path, "e-unconverged", done=5, age_s=5, verdict={"summary": "no symmetry found", "converged": False})
    (tmp_path / "not-a-run").mkdir()
    runs = list_runs(tmp_path)
    assert [r.path.name for r in runs] == ["c-failed", "a-finished", "b-interrupted", "d-running", "e-unconverged"]
    by = {r.path.name: r for r in runs}
    assert by["a-finished"].state == "finished" and by["a-finished"].epochs == "5/5"
    assert by["a-finished"].verdict == "converged: so(2) found: similarity 0.999 (chance 0.02)."
    assert by["b-interrupted"].state == "interrupted" and by["b-interrupted"].epochs == "2/5"
    # no verdict stored (older runs): the similarity, said to be only that
    assert "no verdict stored; similarity to the known symmetry 0.999" in by["b-interrupted"].verdict
    assert by["c-failed"].state == "failed" and by["c-failed"].dataset == "topquark"
    assert "--resume" in by["c-failed"].verdict
    assert by["d-running"].state == "running"
    assert by["e-unconverged"].verdict == "NOT converged: no symmetry found"
    table = format_runs(runs).splitlines()
    assert table[0].split()[:6] == ["RUN", "DATASET", "STARTED", "STATE", "EPOCHS", "VERDICT"]
    assert len(table) == 6 and "finished" in table[2]


def test_one_run_folder_damaged_files_and_missing_logdir(tmp_path):
    run = make_run(tmp_path, "r", done=5)
    assert [r.path for r in list_runs(run)] == [run]  # LOGDIR may be a run folder itself
    (run / "algebra.json").write_text("{broken")
    info = describe_run(run)
    assert info.state == "damaged" and "algebra.json is not readable" in info.verdict
    with pytest.raises(InputError, match="no such folder"):
        list_runs(tmp_path / "nope")
    assert format_runs([]) == "no runs"
