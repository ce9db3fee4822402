"""The run folder's life: made only once a run can start, locked while a process trains in it, and never
left as a dead end.

* A new run's folder is ``<logdir>/<name>``; the name is one folder inside the logdir (the config checks
  it).  An existing folder is reused only when it is empty, or when a run died there before its first
  checkpoint (nothing in it but what the trainer writes first); anything else asks for ``--resume`` or
  another ``--name``.
* The process that trains holds ``.lock`` (an flock, released when the process ends however it ends), so a
  second ``--resume`` of a run still training is refused instead of writing the same files.
* A resume first clears the temporary files a killed process left behind (it holds the lock, so they
  belong to no live writer).
* A run that fails before its first checkpoint removes what it wrote: a rerun can start afresh.
"""

from __future__ import annotations

import shutil
import sys
from datetime import datetime
from pathlib import Path

from liegan.config import TrainCommandConfig, to_toml
from liegan.io import LOCK_NAME, InputError, lock_folder, remove_stale_temps, write_text_atomic
from liegan.trainers.checkpoint import CHECKPOINT_DIR, LAST, PREV

CONFIG = "config.toml"


class RunFolder:
    """A run folder this process trains in, with its lock held until :meth:`release`."""

    def __init__(self, path: Path, lock, made: bool):
        self.path, self._lock, self.made = path, lock, made

    @classmethod
    def create(cls, cfg: TrainCommandConfig) -> RunFolder:
        """<logdir>/<name> for a new run (default name <dataset>-<yyyymmdd-hhmmss>, suffixed if taken), with
        the resolved config written into it."""
        base = cfg.run.name or f"{cfg.data.dataset}-{datetime.now():%Y%m%d-%H%M%S}"
        logdir = Path(cfg.run.logdir)
        path, i = logdir / base, 1
        while (state := _state(path)) == "used":
            if cfg.run.name:
                raise InputError(f"{path}: run folder exists and is not empty (use --resume {path} or another --name)")
            path, i = logdir / f"{base}-{i}", i + 1
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(f"{path}: cannot create the run folder ({e.strerror or e})") from None
        folder = cls(path, lock_folder(path), made=state == "missing")
        if state == "unstarted":
            print(f"liegan train: reusing {path}: a run there stopped before its first checkpoint", file=sys.stderr)
            folder.clear()
        folder.write_config(cfg)
        return folder

    @classmethod
    def resume(cls, path: Path, cfg: TrainCommandConfig, saved: dict) -> RunFolder:
        """An existing run folder, locked, cleared of stale temporary files, its config.toml brought up to
        date with what the resume changed from the checkpoint's config ``saved`` (each change said)."""
        folder = cls(path, lock_folder(path), made=False)
        for where in (path, path / CHECKPOINT_DIR):
            remove_stale_temps(where)
        now = cfg.to_dict()
        changes = [
            f"{s}.{k} {v!r} -> {now[s][k]!r}" for s, body in saved.items() for k, v in body.items() if now[s][k] != v
        ]
        if changes:
            print(f"liegan train: resuming {path} with {', '.join(changes)}", file=sys.stderr)
        folder.write_config(cfg)
        return folder

    def write_config(self, cfg: TrainCommandConfig) -> None:
        text = to_toml(cfg.to_dict(), header="liegan train: resolved configuration")
        write_text_atomic(self.path / CONFIG, text, within=self.path)

    def has_checkpoint(self) -> bool:
        return any((self.path / CHECKPOINT_DIR / name).exists() for name in (LAST, PREV))

    def clear(self) -> None:
        """Remove everything in the folder but the lock."""
        for p in self.path.iterdir():
            if p.name == LOCK_NAME:
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()

    def discard(self) -> None:
        """After a failure before the first checkpoint: nothing of the run is kept (a folder this process
        made goes; a folder it reused is emptied), so the same command can be run again."""
        self.clear()
        self.release()
        (self.path / LOCK_NAME).unlink(missing_ok=True)
        if self.made:
            self.path.rmdir()

    def release(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def _state(path: Path) -> str:
    """'missing', 'empty', 'unstarted' (what a run writes before its first checkpoint, and nothing else)
    or 'used'."""
    if not path.exists() and not path.is_symlink():
        return "missing"
    if path.is_symlink() or not path.is_dir():
        raise InputError(f"{path}: exists and is not a folder (choose another --name or --logdir)")
    entries = list(path.iterdir())
    if not entries:
        return "empty"
    first = {CONFIG, LOCK_NAME, CHECKPOINT_DIR.name}
    ours = all(p.name in first or p.name.startswith("events.out.tfevents.") for p in entries)
    ckpts = path / CHECKPOINT_DIR
    if ours and (not ckpts.is_dir() or all(p.name.endswith(".tmp") for p in ckpts.iterdir())):
        return "unstarted"
    return "used"
