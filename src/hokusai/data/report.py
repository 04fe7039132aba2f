"""Validation results: findings (column, rule, count, up to 5 example rows) and per-file stats.

Row numbers are 1-based data rows (the CSV header is not a row). Findings never carry matched text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from hokusai.data.profile import EXAMPLE_ROWS, Profile

Severity = Literal["error", "warning"]


@dataclass
class Finding:
    """One rule broken in one column (or the whole file) of one file."""

    file: str
    column: str | None
    rule: str
    count: int
    rows: list[int]
    severity: Severity
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "column": self.column,
            "rule": self.rule,
            "count": self.count,
            "rows": list(self.rows),
            "severity": self.severity,
            "message": self.message,
        }


class FindingSink:
    """Collects findings; hits of the same (file, column, rule) add up, keeping the first 5 rows."""

    def __init__(self) -> None:
        self._findings: dict[tuple[str, str | None, str], Finding] = {}

    def add(
        self,
        file: str,
        column: str | None,
        rule: str,
        count: int,
        rows: list[int],
        severity: Severity,
        message: str,
    ) -> None:
        key = (file, column, rule)
        finding = self._findings.get(key)
        if finding is None:
            self._findings[key] = Finding(
                file, column, rule, count, list(rows[:EXAMPLE_ROWS]), severity, message
            )
            return
        finding.count += count
        finding.rows.extend(rows[: EXAMPLE_ROWS - len(finding.rows)])

    def findings(self) -> list[Finding]:
        return list(self._findings.values())


@dataclass
class FileResult:
    """Stats of one validated file; ``data_manifest`` is the attestation schema's object."""

    profile: Profile
    data_hash: str

    @property
    def data_manifest(self) -> dict[str, Any]:
        return self.profile.data_manifest(self.data_hash)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.profile.path),
            **self.profile.format.to_dict(),
            "size_bytes": self.profile.size_bytes,
            "data_manifest": self.data_manifest,
            "unique_counts_exact": dict(self.profile.unique_exact),
        }


@dataclass
class ValidationReport:
    """The verdict over one or more files: valid when no finding is an error."""

    files: list[FileResult]
    findings: list[Finding]
    thresholds: dict[str, Any]
    allow_pii: bool
    label: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def summary(self) -> dict[str, Any]:
        """The verdict without the per-file stats (what a manifest embeds)."""
        return {
            "valid": self.valid,
            "allow_pii": self.allow_pii,
            "label": self.label,
            "thresholds": dict(self.thresholds),
            "findings": [f.to_dict() for f in self.findings],
            **self.extra,
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.summary(), "files": [f.to_dict() for f in self.files]}
