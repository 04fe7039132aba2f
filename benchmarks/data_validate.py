"""P3: ``hokusai data validate`` on a generated 10-million-row CSV (about 1 GB): peak RSS and rows/s.

Goal: peak RSS <= 1 GB. The named baseline for speed is pyarrow's bare streaming CSV read of the same
file (parse only, nothing checked) in its own process; the ratio is our rows/s over its rows/s. Peak
RSS of each child comes from ``getrusage(RUSAGE_CHILDREN)`` in a one-child wrapper process. The file
is generated under /tmp and deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from _common import console, median, print_ratio

CHUNK = 1_000_000
COUNTRIES = np.array(["US", "DE", "FR", "JP", "BR", "IN", "GB", "CA"])
PLANS = np.array(["free", "pro", "team"])
WRAPPER = (
    "import resource, subprocess, sys, time\n"
    "start = time.perf_counter()\n"
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
    "elapsed = time.perf_counter() - start\n"
    "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024\n"
    "print(code, elapsed, rss)\n"
)
BARE_READ = (
    "import sys, pyarrow.csv as c\n"
    "r = c.open_csv(sys.argv[1], read_options=c.ReadOptions(block_size=4 << 20))\n"
    "print(sum(b.num_rows for b in r))\n"
)


def make_csv(path: Path, rows: int, seed: int = 7) -> None:
    """A clean, valid dataset: unique ids, no PII, balanced binary label."""
    rng = np.random.default_rng(seed)
    writer = None
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        ids = np.arange(start, start + n)
        note_numbers = pa.array(ids % 50_000).cast(pa.string())
        seconds = pa.array(1_600_000_000 + rng.integers(0, 100_000_000, n), pa.int64())
        note = pc.binary_join_element_wise(
            "customer note ", note_numbers, " about the order and delivery", ""
        )
        table = pa.table({
            "id": ids,
            "age": rng.integers(18, 90, n),
            "income": np.round(rng.normal(52_000, 15_000, n), 2),
            "country": COUNTRIES[rng.integers(0, len(COUNTRIES), n)],
            "signup": seconds.cast(pa.timestamp("s")),
            "plan": PLANS[rng.integers(0, len(PLANS), n)],
            "note": note,
            "label": rng.integers(0, 2, n),
        })  # fmt: skip
        if writer is None:
            writer = pa_csv.CSVWriter(
                str(path), table.schema, write_options=pa_csv.WriteOptions(quoting_style="none")
            )
        writer.write_table(table)
    assert writer is not None
    writer.close()


def measure(command: list[str]) -> tuple[int, float, int]:
    """(exit code, wall seconds, peak RSS bytes) of ``command`` run as the only child of a wrapper."""
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, *command], capture_output=True, text=True, check=True
    )
    code, elapsed, rss = done.stdout.split()
    return int(code), float(elapsed), int(rss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    hokusai = str(Path(sys.executable).with_name("hokusai"))
    with tempfile.TemporaryDirectory(prefix="hokusai-bench-", dir="/tmp") as folder:
        path = Path(folder) / "contribution.csv"
        console.print(f"generating {args.rows:,} rows …")
        make_csv(path, args.rows)
        size = path.stat().st_size
        console.print(f"file: {size / 1e9:.2f} GB, {size / args.rows:.0f} bytes/row")
        ours_rate, ours_rss, bare_rate, bare_rss = [], [], [], []
        for _ in range(args.runs):
            code, elapsed, rss = measure([sys.executable, "-c", BARE_READ, str(path)])
            bare_rate.append(args.rows / elapsed)
            bare_rss.append(rss / 1e6)
            code, elapsed, rss = measure(
                [hokusai, "data", "validate", str(path), "--label", "label", "--json"]
            )
            assert code == 0, f"hokusai data validate exited {code}"
            ours_rate.append(args.rows / elapsed)
            ours_rss.append(rss / 1e6)
    print_ratio(
        "P3 hokusai data validate vs bare pyarrow CSV read (rows/s)",
        [
            ("validate rows/s", ours_rate, "rows/s"),
            ("bare read rows/s", bare_rate, "rows/s"),
            ("validate peak RSS", ours_rss, "MB"),
            ("bare read peak RSS", bare_rss, "MB"),
        ],
        median(ours_rate) / median(bare_rate),
        "peak RSS <= 1000 MB",
    )
    peak = max(ours_rss)
    verdict = "[green]met[/]" if peak <= 1000 else "[red]missed[/]"
    console.print(json.dumps({"rows": args.rows, "bytes": size, "peak_rss_mb": round(peak)}))
    console.print(f"peak RSS {peak:.0f} MB: goal {verdict}")


if __name__ == "__main__":
    main()
