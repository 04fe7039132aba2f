"""Shared bits of the benchmark scripts: import path to the test launchers, medians, a results table."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the benchmarks start real parts with the test suite's launchers

console = Console()


def median(values: list[float]) -> float:
    return statistics.median(values)


def print_ratio(title: str, rows: list[tuple[str, list[float], str]], ratio: float, goal: str) -> None:
    """A table of the measured series and their medians, then the ratio line a note can quote."""
    table = Table(title=title)
    table.add_column("measurement")
    table.add_column("runs")
    table.add_column("median", justify="right")
    for name, values, unit in rows:
        table.add_row(name, ", ".join(f"{v:.3g}" for v in values), f"{median(values):.3g} {unit}")
    console.print(table)
    console.print(f"[bold]ratio = {ratio:.3f}[/]  (goal {goal})")
