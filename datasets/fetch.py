"""Download files of a Zenodo record with resume, md5 verification and atomic rename (urllib only).

``fetch_record_files`` asks the records API (``<api>/records/<id>``) for each file's URL and ``md5:``
checksum, downloads into ``<name>.part`` (resuming with an HTTP Range request when a partial file is there),
checks the md5 and renames the file into place in one step.  A small sidecar ``<name>.md5`` records the
verified checksum with the file's size and modification time; when it matches, the file counts as verified
and the network is not contacted at all.

The API base is ``https://zenodo.org/api``, overridable with the ``api`` argument or ``$LIEGAN_ZENODO_API``
(the tests point it at a local server).
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from liegan.io import InputError, write_text_atomic

ZENODO_API = "https://zenodo.org/api"
TIMEOUT_S = 60
BLOCK = 1 << 20


def api_base(api: str | None = None) -> str:
    return (api or os.environ.get("LIEGAN_ZENODO_API") or ZENODO_API).rstrip("/")


@dataclass
class RemoteFile:
    name: str
    url: str
    md5: str
    size: int | None


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".md5")


def is_verified(path: Path) -> bool:
    """True when ``path`` exists and its sidecar records a verified md5 for exactly this size and mtime."""
    side = _sidecar(path)
    if not path.is_file() or not side.is_file():
        return False
    try:
        rec = json.loads(side.read_text())
        st = path.stat()
        same = rec.get("size") == st.st_size and rec.get("mtime_ns") == st.st_mtime_ns
        return same and bool(rec.get("md5"))
    except (OSError, ValueError, AttributeError):
        return False


def _write_sidecar(path: Path, md5: str) -> None:
    st = path.stat()
    record = {"md5": md5, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    write_text_atomic(_sidecar(path), json.dumps(record))


def md5_of(path: Path, start: hashlib._Hash | None = None) -> str:
    h = start or hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(BLOCK):
            h.update(chunk)
    return h.hexdigest()


def _open(url: str, headers: dict | None = None):
    req = urllib.request.Request(url, headers={"User-Agent": "liegan", **(headers or {})})
    return urllib.request.urlopen(req, timeout=TIMEOUT_S)


MAX_RECORD_BYTES = 16 << 20  # a record's JSON is a few kB; anything this large is not one


def record_files(record: int | str, api: str | None = None) -> dict[str, RemoteFile]:
    """{file name: RemoteFile} from the records API (handles the legacy and the current JSON layouts).

    The server's JSON is untrusted: anything but the documented layout (an object whose ``files`` is a list
    or an ``entries`` mapping of objects with a string name, an http(s) link, an ``md5:`` hex checksum and a
    non-negative integer size) is an InputError naming the URL, before anything is written."""
    url = f"{api_base(api)}/records/{record}"
    try:
        with _open(url, {"Accept": "application/json"}) as r:
            body = r.read(MAX_RECORD_BYTES + 1)
        if len(body) > MAX_RECORD_BYTES:
            raise ValueError(f"the response exceeds {MAX_RECORD_BYTES >> 20} MiB")
        meta = json.loads(body.decode("utf-8"))
    except (urllib.error.URLError, OSError, ValueError, RecursionError) as e:
        raise InputError(f"{url}: cannot read the record's file list ({e})") from None
    if not isinstance(meta, dict):
        raise InputError(f"{url}: the record is a JSON {type(meta).__name__}, not an object")
    files = meta.get("files", [])
    if isinstance(files, dict):  # InvenioRDM: {"entries": {name: {...}}} or a list under "entries"
        files = files.get("entries", files)
        files = list(files.values()) if isinstance(files, dict) else files
    if not isinstance(files, list):
        raise InputError(f"{url}: 'files' is a JSON {type(files).__name__}, not a list of files")
    out = {}
    for f in files:
        remote = _remote_file(f, url)
        if remote is not None:
            out[remote.name] = remote
    if not out:
        raise InputError(f"{url}: the record lists no files with an md5 checksum")
    return out


def _remote_file(f, url: str) -> RemoteFile | None:
    """One entry of a record's file list, checked; None for an entry without an md5 (not ours to verify)."""
    if not isinstance(f, dict):
        raise InputError(f"{url}: a 'files' entry is a JSON {type(f).__name__}, not an object")
    name = f.get("key") or f.get("filename")
    links = f.get("links") or {}
    if not isinstance(links, dict):
        raise InputError(f"{url}: the 'links' of file {name!r} are not an object")
    link = links.get("content") or links.get("self") or links.get("download")
    checksum = f.get("checksum", "")
    if not isinstance(checksum, str) or not checksum.startswith("md5:"):
        return None
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        raise InputError(f"{url}: a file's name {name!r} is not a plain file name")
    if not isinstance(link, str) or not link.startswith(("http://", "https://")):
        raise InputError(f"{url}: file {name!r} has no http(s) download link (got {link!r})")
    md5 = checksum[4:].lower()
    if not md5 or any(ch not in "0123456789abcdef" for ch in md5):
        raise InputError(f"{url}: file {name!r} has a malformed checksum {checksum!r}")
    size = f.get("size", f.get("filesize"))
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        raise InputError(f"{url}: file {name!r} has size {size!r}, not a non-negative integer")
    return RemoteFile(name=name, url=link, md5=md5, size=size)


def download(remote: RemoteFile, dest: Path, progress: bool = True) -> Path:
    """Download ``remote`` to ``dest`` (resuming ``dest.part``), verify the md5, rename into place.

    A checksum mismatch removes the partial file and raises InputError; nothing is left at ``dest``.
    """
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    if remote.size is not None and have > remote.size:
        part.unlink()
        have = 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        resp = _open(remote.url, headers)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # the partial file is already complete (or longer than the file)
            resp = None
        else:
            raise InputError(f"{remote.url}: download failed (HTTP {e.code} {e.reason})") from None
    except (urllib.error.URLError, OSError) as e:
        raise InputError(f"{remote.url}: download failed ({e})") from None
    h = hashlib.md5()
    if resp is not None:
        with resp:
            resumed = have > 0 and resp.status == 206
            if resumed:
                md5_of(part, h)  # hash what is already there, then continue
            else:
                have = 0  # the server ignored the Range request: start over
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)  # only now: a refused request creates nothing
            except OSError as e:
                raise InputError(f"{dest.parent}: cannot create the data folder ({e.strerror or e})") from None
            total = resp.length + have if resp.length is not None else remote.size
            bar = None
            if progress:
                from tqdm import tqdm

                bar = tqdm(total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024, desc=dest.name)
            try:
                with open(part, "ab" if resumed else "wb") as f:
                    while chunk := resp.read(BLOCK):
                        f.write(chunk)
                        h.update(chunk)
                        if bar is not None:
                            bar.update(len(chunk))
            except (urllib.error.URLError, OSError) as e:
                raise InputError(
                    f"{remote.url}: download interrupted after {part.stat().st_size} bytes "
                    f"({e}); run the command again to resume"
                ) from None
            finally:
                if bar is not None:
                    bar.close()
    else:
        md5_of(part, h)
    got = h.hexdigest()
    if got != remote.md5:
        part.unlink(missing_ok=True)
        raise InputError(
            f"{dest}: md5 {got} does not match the record's {remote.md5}; the download was "
            "corrupted and has been removed: run the command again"
        )
    os.replace(part, dest)
    _write_sidecar(dest, got)
    return dest


def check_folder(folder: str | os.PathLike, what: str | None = None) -> Path:
    """``folder`` if it is a directory, or can be created as one (its nearest existing ancestor is a
    writable directory); InputError naming it (as ``what``, e.g. an option) otherwise.  Creates nothing."""
    folder = Path(folder)
    name = what or str(folder)
    probe = folder
    while not probe.exists() and not probe.is_symlink() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        kind = "a broken link" if probe.is_symlink() and not probe.exists() else "not a directory"
        raise InputError(f"{name}: {probe} is {kind}, so {folder} cannot be a data folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(f"{name}: {probe} is not writable")
    return folder


def fetch_record_files(
    record: int | str,
    names: list[str],
    dest_dir: str | os.PathLike,
    api: str | None = None,
    progress: bool = True,
    force: bool = False,
) -> list[Path]:
    """Make sure ``dest_dir/<name>`` is present and verified for each name; returns the paths.

    Verified files (sidecar matches) are skipped without any network access.  A file that is present but
    unverified is checked against the record's md5; a mismatch is an error unless ``force`` (re-download).
    """
    dest_dir = check_folder(dest_dir)
    paths = [dest_dir / n for n in names]
    todo = [p for p in paths if force or not is_verified(p)]
    if not todo:
        return paths
    remote = record_files(record, api)
    for p in todo:
        if p.name not in remote:
            raise InputError(f"record {record} has no file {p.name!r} (files: {sorted(remote)})")
        r = remote[p.name]
        if p.exists() and not force:
            got = md5_of(p)
            if got == r.md5:
                _write_sidecar(p, got)
                continue
            raise InputError(
                f"{p}: exists but its md5 {got} differs from the record's {r.md5}; delete it or "
                "pass --force to download it again"
            )
        download(r, p, progress=progress)
    return paths
