"""Datasets: data files checked by the data tooling, then kept by content in the pipeline-data store.

A file that fails validation is never stored. The same bytes are stored once (content-addressed key),
whoever uploads them and however often; each uploader gets a row of its own (it owns that row), and the
bytes a principal keeps stored are capped by ``HOKUSAI_OWNER_STORAGE_MAX_BYTES``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hokusai import schemas
from hokusai.errors import HokusaiError, InvalidData, NotFound, PayloadTooLarge, found
from hokusai.hashing import file_sha256
from hokusai.pipeline.inputs import remember_verdict
from hokusai.server.db.models import Dataset, utcnow
from hokusai.server.services.audit import record_event
from hokusai.server.uploads import upload_suffix
from hokusai.storage import BlobStore, content_key

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


def check_file(path: Path, name: str, *, label: str | None = None, schema: Any = None) -> Any:
    """Validate one data file (format, the model's contribution ``schema`` when given, PII, quality);
    ``InvalidData`` naming the first problem if it fails."""
    from hokusai.data import detect_format, validate

    try:
        detect_format(path)  # a file that is not data (or whose content betrays its extension): 400
        report = validate([path], schema=schema, label=label)
    except HokusaiError as exc:  # name the upload, not the server's temporary file
        exc.message = exc.message.replace(str(path), name)
        raise
    if not report.valid:
        summary = validation_summary(report)
        errors = [f for f in summary["findings"] if f.get("severity") == "error"] or summary["findings"]
        first = errors[0] if errors else {}
        where = f"column {first['column']!r}: " if first.get("column") else ""
        total = summary["findings_total"]
        listed = "all" if total <= MAX_FINDINGS else f"the first {MAX_FINDINGS}"
        shown = "" if total <= 1 else f"; 1 of {total} findings shown, {listed} in the error's details"
        raise InvalidData(
            f"{name} failed validation: {where}{first.get('message', 'see findings')} "
            f"({first.get('rule', 'validation')}{shown}); nothing was stored",
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
    quota_bytes: int,
    sha256: str | None = None,
    label: str | None = None,
    schema: Any = None,
    verdicts: Path | None = None,
) -> Ingested:
    """Validate ``path`` (an upload named ``name``, of SHA-256 ``sha256`` when known), store it by content
    and record it for ``principal_id`` (idempotent); 413 ``storage_quota_exceeded`` past ``quota_bytes``.
    With ``verdicts`` (and a schema and label), the verdict is kept where a run looks it up."""
    report = check_file(path, name, label=label, schema=schema)
    if verdicts is not None and schema is not None and label is not None:
        remember_verdict(verdicts, report, schema, label)
    result = report.files[0]
    summary = validation_summary(report)
    key = content_key(sha256 or file_sha256(path), upload_suffix(name))
    existing = _owned(session, key, principal_id)
    if existing is not None:
        return Ingested(existing, False, summary)
    used = (
        session.scalar(
            select(func.coalesce(func.sum(Dataset.size_bytes), 0)).where(Dataset.created_by == principal_id)
        )
        or 0
    )
    size = path.stat().st_size
    if used + size > quota_bytes:
        raise PayloadTooLarge(
            f"storing this file ({size} bytes) would exceed your storage quota of {quota_bytes} bytes "
            f"({used} used)",
            code="storage_quota_exceeded",
            details={"quota_bytes": quota_bytes, "used_bytes": int(used), "file_bytes": size},
        )
    stored = store.put_file(path, upload_suffix(name))
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
        record_event(
            session,
            "dataset_uploaded",
            principal_id=principal_id,
            resource=f"dataset:{dataset.id}",
            details={"sha256": dataset.sha256, "size_bytes": dataset.size_bytes},
        )
    except IntegrityError:  # the same bytes arrived concurrently from the same principal
        concurrent = _owned(session, stored.key, principal_id)
        assert concurrent is not None
        return Ingested(concurrent, False, summary)
    return Ingested(dataset, True, summary)


def _owned(session: Session, storage_key: str, principal_id: str) -> Dataset | None:
    return session.scalar(
        select(Dataset).where(Dataset.storage_key == storage_key, Dataset.created_by == principal_id)
    )


def get_dataset(session: Session, dataset_id: str) -> Dataset:
    """The dataset ``dataset_id``; 404 otherwise."""
    return found(
        session.get(Dataset, dataset_id), NotFound(f"no dataset {dataset_id!r}", code="dataset_not_found")
    )


def dataset_view(dataset: Dataset) -> schemas.Dataset:
    """A dataset as a client sees it."""
    return schemas.Dataset(
        id=dataset.id,
        sha256=dataset.sha256,
        size_bytes=dataset.size_bytes,
        format=dataset.format,
        row_count=dataset.row_count,
        columns=dataset.columns,
        manifest=dataset.manifest,
        created_at=dataset.created_at,
    )


def uploaded_view(ingested: Ingested) -> schemas.UploadedDataset:
    """A dataset as its upload answers it: with the validation summary."""
    return schemas.UploadedDataset(
        **dict(dataset_view(ingested.dataset)), validation=schemas.Validation(**ingested.validation)
    )
