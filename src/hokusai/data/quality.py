"""Quality thresholds (with their defaults) and the quality verdicts drawn from a file's profile.

A ratio above its maximum (or a class share below its minimum) is an error finding and makes the
data invalid; duplicates under the maximum are reported as warnings. Defaults are documented in
``docs/data.md``; a schema file's ``quality:`` section and ``--threshold NAME=VALUE`` override them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hokusai.data.profile import EXAMPLE_ROWS, Profile
from hokusai.data.report import FindingSink, Severity
from hokusai.errors import InvalidInput


class QualityThresholds(BaseModel):
    """Limits that decide when a quality finding makes the data invalid."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_missing_ratio: float = Field(0.5, ge=0, le=1, description="Most nulls a column may have (share).")
    max_duplicate_ratio: float = Field(
        0.1, ge=0, le=1, description="Most exact duplicate rows within a file (share of its rows)."
    )
    max_base_duplicate_ratio: float = Field(
        0.1, ge=0, le=1, description="Most rows that already occur in the --against dataset (share)."
    )
    min_class_ratio: float = Field(
        0.01, ge=0, le=0.5, description="Least share of the rarest label class (classification labels)."
    )
    max_label_classes: int = Field(
        50, ge=2, description="A label with more distinct values is treated as continuous (no balance check)."
    )
    fail_on_constant_columns: bool = Field(False, description="Whether a constant column is an error.")

    def with_overrides(self, overrides: Mapping[str, object]) -> QualityThresholds:
        """A copy with some thresholds replaced; a bad name or value is one ``InvalidInput`` line."""
        try:
            return QualityThresholds.model_validate({**self.model_dump(), **overrides})
        except ValidationError as exc:
            error = exc.errors()[0]
            name = ".".join(str(part) for part in error["loc"]) or "threshold"
            known = ", ".join(QualityThresholds.model_fields)
            raise InvalidInput(f"threshold {name}: {error['msg']} (thresholds: {known})") from None


def parse_overrides(items: Iterable[str]) -> dict[str, str]:
    """``["max_missing_ratio=0.2", ...]`` → ``{"max_missing_ratio": "0.2"}``."""
    parsed: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"--threshold {item!r}: expected NAME=VALUE, e.g. max_missing_ratio=0.2")
        parsed[name.strip()] = value.strip()
    return parsed


class LabelCounter:
    """Class counts of the label column, up to ``limit`` distinct values (then: continuous)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.counts: Counter[object] = Counter()
        self.continuous = False
        self.nulls = 0
        self.null_rows: list[int] = []

    def add(self, column: pa.Array, offset: int) -> None:
        if column.null_count:
            self.nulls += column.null_count
            if len(self.null_rows) < EXAMPLE_ROWS:
                found = np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))
                self.null_rows.extend(
                    int(i) + offset + 1 for i in found[: EXAMPLE_ROWS - len(self.null_rows)]
                )
        if self.continuous:
            return
        for entry in pc.value_counts(column.drop_null()).to_pylist():
            self.counts[entry["values"]] += entry["counts"]
        if len(self.counts) > self.limit:
            self.continuous = True


def judge(
    profile: Profile,
    sink: FindingSink,
    thresholds: QualityThresholds,
    *,
    label: str | None,
    labels: LabelCounter | None,
    duplicates: tuple[int, list[int]] | None,
    base_duplicates: tuple[int, list[int]] | None,
) -> None:
    """Turn the profile and the counters of one file into quality findings."""
    file, rows = str(profile.path), profile.rows
    if rows == 0:
        sink.add(file, None, "rows.none", 0, [], "error", "the file has a header but no data rows")
        return
    for name in profile.columns:
        nulls = profile.null_counts[name]
        if nulls and nulls / rows > thresholds.max_missing_ratio:
            sink.add(
                file,
                name,
                "quality.missing",
                nulls,
                profile.null_rows.get(name, []),
                "error",
                f"{nulls / rows:.1%} of values are missing (max {thresholds.max_missing_ratio:.0%})",
            )
        if name != label and rows > 1 and profile.unique_counts[name] <= 1:
            severity: Severity = "error" if thresholds.fail_on_constant_columns else "warning"
            sink.add(file, name, "quality.constant", rows, [], severity, "the column holds a single value")
    for rule, found, limit, what in (
        ("quality.duplicates", duplicates, thresholds.max_duplicate_ratio, "duplicate an earlier row"),
        (
            "quality.base_duplicates",
            base_duplicates,
            thresholds.max_base_duplicate_ratio,
            "occur in the base data",
        ),
    ):
        if found is None or not found[0]:
            continue
        count, examples = found
        level: Severity = "error" if count / rows > limit else "warning"
        sink.add(
            file,
            None,
            rule,
            count,
            examples,
            level,
            f"{count / rows:.1%} of rows {what} (max {limit:.0%})",
        )
    if label is not None and labels is not None:
        _judge_label(file, label, labels, sink, thresholds)


def _judge_label(
    file: str, label: str, labels: LabelCounter, sink: FindingSink, thresholds: QualityThresholds
) -> None:
    if labels.nulls:
        sink.add(
            file, label, "label.missing", labels.nulls, labels.null_rows, "error", "rows without a label"
        )
    classes = len(labels.counts)
    if classes == 1:
        sink.add(
            file,
            label,
            "label.one_class",
            sum(labels.counts.values()),
            [],
            "error",
            "the label column has only one class; a model cannot learn from it",
        )
        return
    if labels.continuous or classes == 0:
        return
    total = sum(labels.counts.values())
    rarest = min(labels.counts.values())
    if rarest / total < thresholds.min_class_ratio:
        sink.add(
            file,
            label,
            "label.imbalance",
            rarest,
            [],
            "error",
            f"the rarest class holds {rarest / total:.2%} of rows (min {thresholds.min_class_ratio:.0%})",
        )
