"""``GET /api/v1/me/export``: everything the platform holds about the caller, as one zip archive, streamed.

What a principal gets (``index.json`` lists it, with what was left out and why):

* ``principal.json`` (who it is: id, kind, name, wallet, roles) and ``keys.json`` (its API keys' metadata;
  never a key or its hash);
* a wallet: every contribution credited to it: ``contributions/<id>/contribution.json`` (the contribution
  as the API shows it: hash, manifest, validation, where its raw data is and what stayed after deletion,
  plus ``CONTRIBUTION_EXTRAS``) and ``contributions/<id>/<file name>`` (its raw bytes, while stored);
* a user (an API-key principal): the datasets it uploaded (``datasets/<id>/dataset.json`` and the file)
  and the models it owns (``models/<name>.json``); contributions are credited to wallets, not to keys;
* ``runs/<id>/run.json`` for every run that evaluated its contributions, that it submitted or (a user)
  that evaluated its models, with ``attestation.json`` and ``report.json`` when the run has them;
* ``payouts.json``: per run and contribution of the wallet, the weight it earned (basis points) and whether
  the run was accepted (only accepted runs pay), with the attestation's id and hash-tree root;
* ``audit.jsonl``: the audit rows about it (its own actions, its wallet, its objects), newest first.

Bounded: the raw files together carry at most ``HOKUSAI_OWNER_STORAGE_MAX_BYTES`` (what one principal may
keep stored; files beyond are listed in the index as left out), audit rows at most ``MAX_AUDIT_ROWS``. The
zip is written as it is sent (zip64, data descriptors): memory stays at one chunk whatever the size.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hokusai.server.db.models import (
    ApiKey,
    Attestation,
    AuditEvent,
    Contribution,
    Dataset,
    Model,
    Run,
    RunContribution,
)
from hokusai.server.db.models import Principal as PrincipalRow
from hokusai.server.principal import Principal
from hokusai.server.services.datasets import dataset_view
from hokusai.server.services.models import model_view
from hokusai.server.services.rights import Copies, contribution_view
from hokusai.server.services.runs import ACCEPTED, run_view

MAX_AUDIT_ROWS = 100_000
AUDIT_PAGE = 1000
CHUNK = 1 << 20
# Columns of a contribution that other features add and the export carries as they are (one name each):
# the signed ContributionTerms ({typed_data, signature, hash}) the wallet offered its data under.
CONTRIBUTION_EXTRAS: tuple[str, ...] = ("terms",)


@dataclass
class Plan:
    """What one archive holds: JSON documents by name, raw files (name, storage key, size), audit filter."""

    documents: dict[str, Any] = field(default_factory=dict)
    files: list[tuple[str, str, int]] = field(default_factory=list)
    left_out: list[dict[str, Any]] = field(default_factory=list)
    audit_filter: Any = None


def _json(value: Any) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True, default=str).encode()


def _line(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, default=str).encode() + b"\n"


def _file_name(dataset: Dataset) -> str:
    """The uploaded file's name, as its manifest recorded it (no folders), else its key's last part."""
    name = str((dataset.manifest or {}).get("source_path") or dataset.storage_key).replace("\\", "/")
    return name.rsplit("/", 1)[-1] or dataset.storage_key.rsplit("/", 1)[-1]


def plan_export(session: Session, copies: Copies, principal: Principal) -> Plan:
    """Collect what the archive of ``principal`` holds (read only)."""
    plan = Plan()
    row = session.get(PrincipalRow, principal.id)
    plan.documents["principal.json"] = {
        "id": principal.id, "kind": row.kind if row else principal.method, "name": principal.name,
        "wallet_address": principal.wallet_address, "role": principal.role,
        "roles": row.roles.split() if row else sorted(principal.scopes),
        "created_at": row.created_at if row else None,
    }  # fmt: skip
    keys = session.scalars(
        select(ApiKey).where(ApiKey.principal_id == principal.id).order_by(ApiKey.created_at)
    )
    plan.documents["keys.json"] = [
        {"id": k.id, "name": k.name, "scopes": k.scopes.split(), "created_at": k.created_at,
         "expires_at": k.expires_at, "revoked_at": k.revoked_at}
        for k in keys
    ]  # fmt: skip
    budget = copies.settings.owner_storage_max_bytes
    resources: list[str] = []
    run_ids: set[str] = set()
    wallet = principal.wallet_address
    contributions = (
        list(
            session.scalars(
                select(Contribution)
                .where(Contribution.contributor_address == wallet)
                .order_by(Contribution.created_at)
            )
        )
        if wallet
        else []
    )
    dataset_ids_of_contributions = {c.dataset_id for c in contributions}
    for contribution in contributions:
        model = session.get(Model, contribution.model_id)
        dataset = session.get(Dataset, contribution.dataset_id)
        assert model is not None and dataset is not None
        record = contribution_view(session, contribution, model, copies.settings).model_dump(mode="json")
        record.update({name: getattr(contribution, name) for name in CONTRIBUTION_EXTRAS})
        folder = f"contributions/{contribution.id}"
        plan.documents[f"{folder}/contribution.json"] = record
        budget = _add_file(
            plan, f"{folder}/{_file_name(dataset)}", dataset, contribution.data_deleted_at, budget
        )
        resources.append(f"contribution:{contribution.id}")
        run_ids.update(
            session.scalars(
                select(RunContribution.run_id).where(RunContribution.contribution_id == contribution.id)
            )
        )
    if principal.method != "wallet" or not wallet:
        for dataset in session.scalars(
            select(Dataset).where(Dataset.created_by == principal.id).order_by(Dataset.created_at)
        ):
            if dataset.id in dataset_ids_of_contributions:
                continue
            folder = f"datasets/{dataset.id}"
            plan.documents[f"{folder}/dataset.json"] = dataset_view(dataset).model_dump(mode="json")
            budget = _add_file(plan, f"{folder}/{_file_name(dataset)}", dataset, None, budget)
            resources.append(f"dataset:{dataset.id}")
        for model in session.scalars(
            select(Model).where(Model.owner_id == principal.id).order_by(Model.name)
        ):
            plan.documents[f"models/{model.name}.json"] = model_view(session, model).model_dump(mode="json")
            resources.append(f"model:{model.name}")
            run_ids.update(session.scalars(select(Run.id).where(Run.model_id == model.id)))
    run_ids.update(session.scalars(select(Run.id).where(Run.submitted_by == principal.id)))
    payouts = []
    for run in session.scalars(select(Run).where(Run.id.in_(sorted(run_ids))).order_by(Run.created_at)):
        folder = f"runs/{run.id}"
        plan.documents[f"{folder}/run.json"] = run_view(session, run).model_dump(mode="json")
        attestation = session.get(Attestation, run.attestation_id) if run.attestation_id else None
        if attestation is not None:
            plan.documents[f"{folder}/attestation.json"] = attestation.document
            plan.documents[f"{folder}/report.json"] = attestation.report
        resources.append(f"run:{run.id}")
        for link in session.scalars(select(RunContribution).where(RunContribution.run_id == run.id)):
            if link.contribution_id in {c.id for c in contributions}:
                payouts.append({
                    "run_id": run.id, "contribution_id": link.contribution_id, "weight_bps": link.weight_bps,
                    "accepted": run.outcome == ACCEPTED, "attestation_id": run.attestation_id,
                    "hash_tree_root": attestation.hash_tree_root if attestation else None,
                })  # fmt: skip
    plan.documents["payouts.json"] = payouts
    about = [AuditEvent.principal_id == principal.id]
    if wallet:
        about.append(AuditEvent.wallet_address == wallet)
    if resources:
        about.append(AuditEvent.resource.in_(resources))
    plan.audit_filter = or_(*about)
    return plan


def _add_file(plan: Plan, name: str, dataset: Dataset, deleted_at: Any, budget: int) -> int:
    """Put a raw file in the archive if it is stored and fits the budget; say why not otherwise."""
    if deleted_at is not None:
        plan.left_out.append({"file": name, "sha256": dataset.sha256, "why": "its raw data was deleted"})
        return budget
    if dataset.size_bytes > budget:
        why = "past the archive's limit (HOKUSAI_OWNER_STORAGE_MAX_BYTES)"
        plan.left_out.append({"file": name, "sha256": dataset.sha256, "why": why})
        return budget
    plan.files.append((name, dataset.storage_key, dataset.size_bytes))
    return budget - dataset.size_bytes


class _Sink(io.RawIOBase):
    """Where the zip writer puts its bytes: taken out chunk by chunk as they are sent (not seekable)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._buffer += data
        return len(data)

    def take(self) -> bytes:
        out = bytes(self._buffer)
        self._buffer.clear()
        return out


def stream_archive(sessions: Any, copies: Copies, plan: Plan) -> Iterator[bytes]:
    """The zip of ``plan``, in chunks: JSON documents, audit rows (read page by page), then the raw files."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        files = [name for name, _, _ in plan.files]
        index = {
            "documents": [*sorted(plan.documents), "audit.jsonl"],
            "files": files,
            "left_out": plan.left_out,
        }
        archive.writestr("index.json", _json(index))
        for name, value in plan.documents.items():
            archive.writestr(name, _json(value))
            yield sink.take()
        with sessions() as session, archive.open("audit.jsonl", "w", force_zip64=True) as entry:
            query = (
                select(AuditEvent)
                .where(plan.audit_filter)
                .order_by(AuditEvent.id.desc())
                .limit(MAX_AUDIT_ROWS)
            )
            for row in session.scalars(query.execution_options(yield_per=AUDIT_PAGE)):
                entry.write(_line({
                    "at": row.at, "event": row.event, "principal_id": row.principal_id, "key_id": row.key_id,
                    "wallet_address": row.wallet_address, "reason": row.reason, "resource": row.resource,
                    "client_ip": row.client_ip, "request_id": row.request_id, "details": row.details,
                }))  # fmt: skip
                yield sink.take()
        for name, key, _size in plan.files:
            with (
                closing(copies.store.open(key)) as source,
                archive.open(name, "w", force_zip64=True) as entry,
            ):
                while chunk := source.read(CHUNK):
                    entry.write(chunk)
                    yield sink.take()
    yield sink.take()
