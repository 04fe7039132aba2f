"""P2: ``data_hash`` throughput on a 1 GiB file divided by ``sha256sum``'s on the same file (goal >= 0.9).

Both read the file from the page cache (a warm-up pass first) and the runs are interleaved; the
medians of 3 runs each give the ratio. The file is generated under /tmp and deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from _common import console, median, print_ratio

from hokusai.data import data_hash

BLOCK = 1 << 20


def make_file(path: Path, size: int) -> None:
    block = os.urandom(BLOCK)
    with open(path, "wb") as handle:
        for index in range(size // BLOCK):
            handle.write(block[index % 251 :] + block[: index % 251])  # no two blocks alike


def timed_sha256sum(path: Path) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(["sha256sum", str(path)], capture_output=True, text=True, check=True)
    return time.perf_counter() - start, done.stdout.split()[0]


def timed_data_hash(path: Path) -> tuple[float, str]:
    start = time.perf_counter()
    digest = data_hash(path)
    return time.perf_counter() - start, digest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hokusai-bench-", dir="/tmp") as folder:
        path = Path(folder) / "data.bin"
        make_file(path, args.size_mib * BLOCK)
        size_mb = path.stat().st_size / 1e6
        timed_sha256sum(path)  # warm the page cache
        ours, theirs = [], []
        for _ in range(args.runs):
            t_ours, h_ours = timed_data_hash(path)
            t_theirs, h_theirs = timed_sha256sum(path)
            assert h_ours == h_theirs, "data_hash differs from sha256sum"
            ours.append(size_mb / t_ours)
            theirs.append(size_mb / t_theirs)
    console.print(f"file: {size_mb:,.0f} MB (deleted)")
    print_ratio(
        "P2 data_hash vs sha256sum (throughput)",
        [("data_hash (hashlib)", ours, "MB/s"), ("sha256sum", theirs, "MB/s")],
        median(ours) / median(theirs),
        ">= 0.9",
    )


if __name__ == "__main__":
    main()
