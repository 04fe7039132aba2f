"""Datasets: data files checked by the data tooling, then kept by content in the pipeline-data store.

A file that fails validation is never stored. The same bytes are stored once (content-addressed key,
unique in the table), whoever uploads them and however often.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hokusai.errors import HokusaiError, InvalidData, NotFound
from hokusai.server.db.models import Dataset, utcnow
from hokusai.server.uploads import upload_suffix
from hokusai.storage import BlobStore

MAX_FINDINGS = 20


@dataclass(frozen=True)
class Ingested:
    """A stored dataset, whether this upload created it, and the validation summary."""

    dataset: Dataset
    created: bool
    validation: dict[str, Any]


def validation_summary(report: Any) -> dict[str, Any]:
    """What a response shows of a ``ValidationReport``: verdict, counts and the first findings."""
    data = report.to_dict()
    findings = data.get("findings", [])
    return {
        "valid": report.valid,
        "findings": findings[:MAX_FINDINGS],
        "findings_total": len(findings),
        "allow_pii": data.get("allow_pii", False),
    }


def check_file(path: Path, name: str, *, label: str | None = None, reference: Any = None) -> Any:
    """Validate one data file (format, optional schema match, PII, quality); ``InvalidData`` if it fails."""
    from hokusai.data import check_compatible, detect_format, validate

    try:
        detect_format(path)  # a file that is not data (or whose content betrays its extension): 400
        if reference is not None:
            check_compatible(path, reference)
        report = validate([path], label=label)
    except HokusaiError as exc:  # name the upload, not the server's temporary file
        exc.message = exc.message.replace(str(path), name)
        raise
    if not report.valid:
        summary = validation_summary(report)
        raise InvalidData(
            f"{name} failed validation ({summary['findings_total']} finding(s)); nothing was stored",
            code="validation_failed",
            details=summary,
        )
    return report


def ingest(
    session: Session,
    store: BlobStore,
    path: Path,
    *,
    name: str,
    principal_id: str,
    label: str | None = None,
    reference: Any = None,
) -> Ingested:
    """Validate ``path`` (an upload named ``name``), store it by content and record it (idempotent)."""
    report = check_file(path, name, label=label, reference=reference)
    result = report.files[0]
    stored = store.put_file(path, upload_suffix(name))
    existing = session.scalar(select(Dataset).where(Dataset.storage_key == stored.key))
    summary = validation_summary(report)
    if existing is not None:
        return Ingested(existing, False, summary)
    manifest = {**result.data_manifest, "source_path": name}
    dataset = Dataset(
        id=uuid.uuid4().hex,
        sha256=stored.sha256,
        storage_key=stored.key,
        size_bytes=stored.size,
        format=result.profile.format.name,
        row_count=result.profile.rows,
        columns=list(result.profile.columns),
        manifest=manifest,
        created_by=principal_id,
        created_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(dataset)
    except IntegrityError:  # the same bytes arrived concurrently
        return Ingested(
            session.scalars(select(Dataset).where(Dataset.storage_key == stored.key)).one(), False, summary
        )
    return Ingested(dataset, True, summary)


def get_dataset(session: Session, dataset_id: str) -> Dataset:
    """The dataset ``dataset_id``; 404 otherwise."""
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFound(f"no dataset {dataset_id!r}", code="dataset_not_found")
    return dataset


def dataset_view(dataset: Dataset) -> dict[str, Any]:
    """The JSON a client sees of a dataset."""
    return {
        "id": dataset.id,
        "sha256": dataset.sha256,
        "size_bytes": dataset.size_bytes,
        "format": dataset.format,
        "row_count": dataset.row_count,
        "columns": dataset.columns,
        "manifest": dataset.manifest,
        "created_at": dataset.created_at.isoformat(),
    }
