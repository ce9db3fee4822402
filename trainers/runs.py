"""`liegan runs [LOGDIR]`: the run folders under LOGDIR, each with its dataset, start, state and verdict.

Read from the files a run leaves (no torch, no TensorBoard): config.toml (written when the run starts),
algebra.json (written when it ends, also after Ctrl-C) and the checkpoint.  The state:
  finished     algebra.json with every configured epoch done
  interrupted  algebra.json with fewer epochs (Ctrl-C or a signal; ``liegan train --resume`` continues)
  running      no algebra.json yet and the folder written to in the last few minutes
  failed       no algebra.json and nothing written for longer: a training error, or a killed process
  damaged      an algebra.json that does not parse
"""

from __future__ import annotations

import json
import time
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from liegan.algebra import JSON_NAME
from liegan.io import InputError

CONFIG_NAME = "config.toml"
RUNNING_WITHIN_S = 300  # a run logs and checkpoints more often than this


@dataclass
class RunInfo:
    path: Path
    dataset: str
    started: datetime
    state: str  # finished, interrupted, running, failed, damaged
    epochs: str  # "done/configured"
    verdict: str


def _read(path: Path, parse) -> dict | None:
    """The object in ``path``; None when it is missing or damaged."""
    try:
        out = parse(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    return out if isinstance(out, dict) else None


def verdict_line(meta: dict) -> str:
    """The verdict stored in algebra.json in one line (converged or not, then its first line: what was found
    against chance); for runs written before verdicts were stored, the similarity to the known symmetry,
    said to be only that."""
    v = meta.get("verdict")
    if isinstance(v, dict) and isinstance(v.get("summary"), str):
        lines = v.get("lines")
        first = lines[0] if isinstance(lines, list) and lines and isinstance(lines[0], str) else v["summary"]
        converged = v.get("converged")
        return (f"{'converged' if converged else 'NOT converged'}: " if isinstance(converged, bool) else "") + first
    metrics = meta.get("metrics") if isinstance(meta.get("metrics"), dict) else {}
    sim = metrics.get("similarity_to_truth")
    if isinstance(sim, (int, float)):
        return f"no verdict stored; similarity to the known symmetry {sim:.3f} (`liegan analyze` for a verdict)"
    return "no verdict stored (`liegan analyze` for one)"


def describe_run(run: Path, now: float | None = None) -> RunInfo:
    """What :func:`list_runs` says about one run folder (one holding config.toml)."""
    cfg = _read(run / CONFIG_NAME, tomllib.loads) or {}
    meta = _read(run / JSON_NAME, json.loads)
    planned = cfg.get("train", {}).get("epochs")
    dataset = cfg.get("data", {}).get("dataset") or (meta or {}).get("dataset") or "?"
    started = datetime.fromtimestamp((run / CONFIG_NAME).stat().st_mtime)
    if meta is not None:
        done = (meta.get("metrics") or {}).get("epochs")
        finished = isinstance(done, int) and isinstance(planned, int) and done >= planned
        state, verdict = ("finished" if finished else "interrupted"), verdict_line(meta)
    elif (run / JSON_NAME).exists():
        done, state, verdict = None, "damaged", f"{JSON_NAME} is not readable JSON"
    else:
        done = None
        newest = max(p.stat().st_mtime for p in run.rglob("*") if p.is_file())
        recent = (now if now is not None else time.time()) - newest < RUNNING_WITHIN_S
        state = "running" if recent else "failed"
        verdict = (
            "-"
            if recent
            else "no algebra written"
            + ("; a checkpoint is there: `liegan train --resume` continues" if (run / "checkpoints").is_dir() else "")
        )
    epochs = f"{done if done is not None else '?'}/{planned if planned is not None else '?'}"
    return RunInfo(run, str(dataset), started, state, epochs, verdict)


def list_runs(logdir: str | Path) -> list[RunInfo]:
    """Every run folder directly under ``logdir`` (or ``logdir`` itself when it is one), oldest first."""
    logdir = Path(logdir)
    if not logdir.is_dir():
        raise InputError(f"{logdir}: no such folder (runs are written under --logdir, default runs)")
    found = (
        [logdir]
        if (logdir / CONFIG_NAME).exists()
        else sorted(p for p in logdir.iterdir() if (p / CONFIG_NAME).is_file())
    )
    return sorted((describe_run(p) for p in found), key=lambda r: r.started)


def format_runs(runs: list[RunInfo]) -> str:
    if not runs:
        return "no runs"
    rows = [("RUN", "DATASET", "STARTED", "STATE", "EPOCHS", "VERDICT")]
    rows += [(r.path.name, r.dataset, f"{r.started:%Y-%m-%d %H:%M}", r.state, r.epochs, r.verdict) for r in runs]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row[:5], widths, strict=True)) + "  " + row[5] for row in rows
    )
