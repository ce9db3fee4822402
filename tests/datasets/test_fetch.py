"""The Zenodo downloader against a local HTTP server on 127.0.0.1: a good download, a resumed one, a corrupted
one (md5 mismatch leaves nothing behind), no network for verified files, and the `liegan data fetch` CLI."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from liegan.datasets import fetch
from liegan.io import InputError

RECORD = 2603256
PAYLOAD = {"train.h5": os.urandom(300_000), "val.h5": os.urandom(70_000), "test.h5": os.urandom(50_000)}


class FakeZenodo:
    """Serves /api/records/<id> (current Zenodo layout) and the files, with HTTP Range support.

    ``corrupt``: names whose bytes are altered in transit; ``log``: (path, Range header) per request.
    """

    def __init__(self):
        self.corrupt: set[str] = set()
        self.record_body: bytes | None = None  # served instead of the record's JSON when set
        self.log: list[tuple[str, str | None]] = []
        self.bytes_sent = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # keep pytest output clean
                pass

            def do_GET(self):
                outer.log.append((self.path, self.headers.get("Range")))
                base = f"http://127.0.0.1:{self.server.server_address[1]}"
                if self.path == f"/api/records/{RECORD}" and outer.record_body is not None:
                    return self._send(200, outer.record_body)
                if self.path == f"/api/records/{RECORD}":
                    files = [
                        {
                            "key": n,
                            "size": len(b),
                            "checksum": "md5:" + hashlib.md5(b).hexdigest(),
                            "links": {"self": f"{base}/api/records/{RECORD}/files/{n}/content"},
                        }
                        for n, b in PAYLOAD.items()
                    ]
                    return self._send(200, json.dumps({"id": RECORD, "files": files}).encode())
                name = self.path.split("/files/")[-1].removesuffix("/content")
                if name not in PAYLOAD:
                    return self._send(404, b"not found")
                data = PAYLOAD[name]
                if name in outer.corrupt:
                    data = data[:1000] + bytes([data[1000] ^ 0xFF]) + data[1001:]
                rng = self.headers.get("Range")
                if rng:
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    if start >= len(data):
                        return self._send(416, b"")
                    outer.bytes_sent += len(data) - start
                    span = {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"}
                    return self._send(206, data[start:], span)
                outer.bytes_sent += len(data)
                return self._send(200, data)

            def _send(self, code, body, headers=None):
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.api = f"http://127.0.0.1:{self.server.server_address[1]}/api"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self):
        if self.thread is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join()
            self.thread = None


@pytest.fixture
def zenodo():
    z = FakeZenodo()
    yield z
    z.stop()


def test_good_download(tmp_path, zenodo):
    [path] = fetch.fetch_record_files(RECORD, ["val.h5"], tmp_path, api=zenodo.api, progress=False)
    assert path == tmp_path / "val.h5" and path.read_bytes() == PAYLOAD["val.h5"]
    assert fetch.is_verified(path)
    assert not (tmp_path / "val.h5.part").exists()
    assert zenodo.bytes_sent == len(PAYLOAD["val.h5"])


def test_resumes_partial_download(tmp_path, zenodo):
    data = PAYLOAD["train.h5"]
    (tmp_path / "train.h5.part").write_bytes(data[:123_456])
    fetch.fetch_record_files(RECORD, ["train.h5"], tmp_path, api=zenodo.api, progress=False)
    assert (tmp_path / "train.h5").read_bytes() == data
    assert ("/api/records/2603256/files/train.h5/content", "bytes=123456-") in zenodo.log
    assert zenodo.bytes_sent == len(data) - 123_456  # only the missing tail travelled


def test_complete_part_file_is_finished_without_download(tmp_path, zenodo):
    (tmp_path / "test.h5.part").write_bytes(PAYLOAD["test.h5"])
    fetch.fetch_record_files(RECORD, ["test.h5"], tmp_path, api=zenodo.api, progress=False)
    assert (tmp_path / "test.h5").read_bytes() == PAYLOAD["test.h5"] and zenodo.bytes_sent == 0


@pytest.mark.parametrize("partial", [False, True], ids=["fresh", "resumed"])
def test_corrupted_download_fails_md5_and_leaves_nothing(tmp_path, zenodo, partial):
    zenodo.corrupt.add("val.h5")
    if partial:
        (tmp_path / "val.h5.part").write_bytes(PAYLOAD["val.h5"][:500])
    with pytest.raises(InputError, match=r"val\.h5: md5 .* does not match the record's"):
        fetch.fetch_record_files(RECORD, ["val.h5"], tmp_path, api=zenodo.api, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_verified_file_needs_no_network(tmp_path, zenodo):
    fetch.fetch_record_files(RECORD, ["test.h5"], tmp_path, api=zenodo.api, progress=False)
    zenodo.stop()
    n = len(zenodo.log)
    fetch.fetch_record_files(RECORD, ["test.h5"], tmp_path, api="http://127.0.0.1:9/api", progress=False)
    assert len(zenodo.log) == n


def test_unverified_local_file_is_checked_not_overwritten(tmp_path, zenodo):
    (tmp_path / "test.h5").write_bytes(PAYLOAD["test.h5"])  # user put the right file there by hand
    fetch.fetch_record_files(RECORD, ["test.h5"], tmp_path, api=zenodo.api, progress=False)
    assert fetch.is_verified(tmp_path / "test.h5") and zenodo.bytes_sent == 0
    (tmp_path / "val.h5").write_bytes(b"something else")
    with pytest.raises(InputError, match=r"val\.h5: exists but its md5 .* --force"):
        fetch.fetch_record_files(RECORD, ["val.h5"], tmp_path, api=zenodo.api, progress=False)
    assert (tmp_path / "val.h5").read_bytes() == b"something else"
    fetch.fetch_record_files(RECORD, ["val.h5"], tmp_path, api=zenodo.api, progress=False, force=True)
    assert (tmp_path / "val.h5").read_bytes() == PAYLOAD["val.h5"]


def test_a_modified_file_is_no_longer_verified(tmp_path, zenodo):
    [path] = fetch.fetch_record_files(RECORD, ["test.h5"], tmp_path, api=zenodo.api, progress=False)
    with open(path, "ab") as f:
        f.write(b"x")
    assert not fetch.is_verified(path)


def test_unknown_file_and_unreachable_api(tmp_path, zenodo):
    with pytest.raises(InputError, match=r"has no file 'nope\.h5'"):
        fetch.fetch_record_files(RECORD, ["nope.h5"], tmp_path, api=zenodo.api, progress=False)
    with pytest.raises(InputError, match=r"127\.0\.0\.1:9/api/records/2603256: cannot read"):
        fetch.fetch_record_files(RECORD, ["val.h5"], tmp_path, api="http://127.0.0.1:9/api", progress=False)


def test_legacy_record_layout(tmp_path, monkeypatch):
    """The older Zenodo API nests files under 'entries' with 'links': {'content': ...}."""
    meta = {
        "files": {
            "entries": {
                "val.h5": {
                    "key": "val.h5",
                    "checksum": "md5:abc",
                    "size": 3,
                    "links": {"content": "http://x/val.h5/content"},
                }
            }
        }
    }

    class R:
        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def read(self, size=-1):
            return json.dumps(meta).encode()

    monkeypatch.setattr(fetch, "_open", lambda url, headers=None: R())
    files = fetch.record_files(RECORD, api="http://x")
    assert files["val.h5"].url == "http://x/val.h5/content" and files["val.h5"].md5 == "abc"


@pytest.mark.slow
def test_cli_fetch_all_then_offline(tmp_path, zenodo, run_cli):
    env = {"LIEGAN_ZENODO_API": zenodo.api, "LIEGAN_DATA": str(tmp_path)}
    cmd = ["data", "fetch", "topquark", "--split", "all", "--quiet"]
    r = run_cli(*cmd, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    for name, data in PAYLOAD.items():
        assert (tmp_path / "topquark" / name).read_bytes() == data
    env["LIEGAN_ZENODO_API"] = "http://127.0.0.1:9/api"  # nothing listens there
    r = run_cli(*cmd, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("verified earlier") == 3
    zenodo.corrupt.add("train.h5")
    (tmp_path / "topquark" / "train.h5").unlink()
    env["LIEGAN_ZENODO_API"] = zenodo.api
    r = run_cli(*cmd[:-3], "--split", "train", "--quiet", env=env, timeout=120)
    assert r.returncode == 2 and "md5" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "topquark" / "train.h5").exists()


GOOD_ENTRY = {"key": "val.h5", "size": 3, "checksum": "md5:" + "0" * 32, "links": {"self": "http://127.0.0.1:9/x"}}
MALFORMED = {
    "list": (b"[1, 2, 3]", "JSON list, not an object"),
    "truncated": (b'{"files": [{"key": "val.h5", "size"', "cannot read the record's file list"),
    "not-utf8": (b'{"files": "\xff\xfe"}', "cannot read the record's file list"),
    "deeply-nested": (b"[" * 100_000 + b"]" * 100_000, "cannot read the record's file list"),
    "files-string": (json.dumps({"files": "val.h5"}).encode(), "'files' is a JSON str"),
    "entry-number": (json.dumps({"files": [7]}).encode(), "a 'files' entry is a JSON int"),
    "links-list": (json.dumps({"files": [{**GOOD_ENTRY, "links": ["x"]}]}).encode(), "'links' of file"),
    "size-string": (json.dumps({"files": [{**GOOD_ENTRY, "size": "3"}]}).encode(), "size '3', not a non-negative"),
    "size-negative": (json.dumps({"files": [{**GOOD_ENTRY, "size": -1}]}).encode(), "size -1"),
    "name-path": (json.dumps({"files": [{**GOOD_ENTRY, "key": "../val.h5"}]}).encode(), "not a plain file name"),
    "name-list": (json.dumps({"files": [{**GOOD_ENTRY, "key": ["val.h5"]}]}).encode(), "not a plain file name"),
    "link-file": (
        json.dumps({"files": [{**GOOD_ENTRY, "links": {"self": "file:///etc/passwd"}}]}).encode(),
        "no http\\(s\\) download link",
    ),
    "checksum-junk": (json.dumps({"files": [{**GOOD_ENTRY, "checksum": "md5:zz"}]}).encode(), "malformed checksum"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_record_json_is_one_error_naming_the_url(tmp_path, zenodo, case):
    """Whatever the server sends instead of a record: an InputError naming the URL, and nothing written
    (an existing partial download is left as it was)."""
    body, why = MALFORMED[case]
    zenodo.record_body = body
    (tmp_path / "val.h5.part").write_bytes(b"ab")
    with pytest.raises(InputError, match=rf"127\.0\.0\.1:\d+/api/records/{RECORD}: .*{why}"):
        fetch.fetch_record_files(RECORD, ["val.h5"], tmp_path, api=zenodo.api, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["val.h5.part"]
    assert (tmp_path / "val.h5.part").read_bytes() == b"ab"


def test_data_dir_under_a_regular_file_is_refused_before_the_network(tmp_path, zenodo):
    (tmp_path / "file").write_text("x")
    for bad in (tmp_path / "file", tmp_path / "file" / "sub"):
        with pytest.raises(InputError, match=r"file is not a directory"):
            fetch.fetch_record_files(RECORD, ["val.h5"], bad, api=zenodo.api, progress=False)
    assert zenodo.log == [] and (tmp_path / "file").read_text() == "x"


def test_cli_data_dir_under_a_file_and_malformed_json_are_one_line_exit_2(tmp_path, zenodo, run_cli):
    (tmp_path / "file").write_text("x")
    env = {**os.environ, "LIEGAN_ZENODO_API": zenodo.api}
    base = ["data", "fetch", "topquark", "--quiet"]
    r = run_cli(*base, "--data-dir", str(tmp_path / "file"), env=env)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--data-dir" in r.stderr, r.stderr
    zenodo.record_body = b'{"files": [{"key": "train.h5", "checksum": "md5:00", "size": "big"'
    r = run_cli(*base, "--data-dir", str(tmp_path / "d"), env=env)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "/api/records/" in r.stderr, r.stderr
    assert not (tmp_path / "d").exists() and (tmp_path / "file").read_text() == "x"
