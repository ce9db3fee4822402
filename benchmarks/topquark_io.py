"""Read speed and memory of the top-tagging reader on a file of the real size and width.

Writes (once, cached) a 1.2M-jet file with the real 806 columns through pandas + PyTables in the real
layout (float32 values_block_0 of width 804, int64 values_block_1: ttv, is_signal_new), then, in a fresh
subprocess so that peak RSS counts the read alone, reads the two leading constituents and the labels and
prints the wall time and the peak resident memory.  Targets: <= 15 s and <= 1.5 GB.

    python benchmarks/topquark_io.py [--jets 1200000] [--file /tmp/liegan-bench/topquark_io_1200000.h5]

The values are random (reading cost does not depend on them).  The file is several GB: right after it is
written it sits in the OS page cache; ``--cold`` evicts this one file from the cache first (Linux
posix_fadvise), which measures a read from disk.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from liegan.cli import Parser

CHUNK = 50_000


def make_file(path: Path, n: int) -> None:
    import numpy as np
    import pandas as pd

    from liegan.datasets.topquark_synth import column_names
    from liegan.io import atomic_path

    cols = column_names()
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    with atomic_path(path) as tmp:
        tmp.unlink()
        with pd.HDFStore(tmp, mode="w") as store:
            for start in range(0, n, CHUNK):
                m = min(CHUNK, n - start)
                values = rng.normal(0.0, 100.0, (m, 804)).astype(np.float32)
                df = pd.DataFrame(values, columns=cols[:804], index=pd.RangeIndex(start, start + m))
                df["ttv"] = np.zeros(m, np.int64)
                df["is_signal_new"] = rng.integers(0, 2, m)
                store.append("table", df, format="table", index=False, expectedrows=n)
                print(f"\rwriting {path}: {start + m}/{n} jets", end="", file=sys.stderr, flush=True)
    print(f"\nwrote {path} ({path.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - t0:.0f} s", file=sys.stderr)


def read_once(path: str, constituents: int) -> dict:
    import resource

    t0 = time.perf_counter()
    from liegan.datasets.topquark import read_jets

    t1 = time.perf_counter()
    jets = read_jets(path, constituents=constituents)
    t2 = time.perf_counter()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux
    # Linux carries the parent's peak into ru_maxrss across fork + exec; VmHWM is this program's own peak
    hwm = None
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) * 1024
    except OSError:
        pass
    return {
        "jets": len(jets.labels),
        "read_s": t2 - t1,
        "import_s": t1 - t0,
        "peak_rss_gb": rss / 1e9,
        "vmhwm_gb": None if hwm is None else hwm / 1e9,
        "shape": list(jets.momenta.shape),
    }


def main() -> int:
    ap = Parser(description=__doc__.splitlines()[0])
    ap.add_argument("--jets", type=int, default=1_200_000)
    ap.add_argument("--file", help="benchmark file (default /tmp/liegan-bench/topquark_io_<jets>.h5)")
    ap.add_argument("--constituents", type=int, default=2)
    ap.add_argument(
        "--cold",
        action="store_true",
        help="evict the file from the OS page cache first (posix_fadvise, this file only)",
    )
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--make", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    path = Path(args.file or f"/tmp/liegan-bench/topquark_io_{args.jets}.h5")
    if args.child:
        print(json.dumps(read_once(str(path), args.constituents)))
        return 0
    if args.make:
        make_file(path, args.jets)
        return 0
    if not path.exists():
        # in a separate process: the writer's memory must not count as the reader's peak (see read_once)
        subprocess.run([sys.executable, __file__, "--make", "--file", str(path), "--jets", str(args.jets)], check=True)
    if args.cold:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--child", "--file", str(path), "--constituents", str(args.constituents)],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    if out.returncode:
        print(out.stderr, file=sys.stderr)
        return out.returncode
    r = json.loads(out.stdout)
    cache = "evicted from the page cache before reading" if args.cold else "possibly in the page cache"
    print(f"file: {path} ({path.stat().st_size / 1e9:.2f} GB, {r['jets']} jets, 806 columns; {cache})")
    print(
        f"read {args.constituents} leading constituents + labels -> {tuple(r['shape'])}: "
        f"{r['read_s']:.2f} s (target <= 15 s); process wall incl. imports {wall:.2f} s"
    )
    hwm = f"{r['vmhwm_gb']:.3f} GB" if r["vmhwm_gb"] is not None else "n/a"
    print(f"peak RSS of the reading process: getrusage {r['peak_rss_gb']:.3f} GB, VmHWM {hwm} (target <= 1.5 GB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
