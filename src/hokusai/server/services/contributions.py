"""Contributions: a wallet's dataset offered to a model under terms its wallet signed, checked against its
benchmark spec's contribution schema and terms requirement (the same spec the run is held to: one
contract). The terms are checked before a byte is stored: a refused offer leaves nothing behind."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hokusai import schemas
from hokusai.attestation.terms import check_offer
from hokusai.errors import Conflict, Forbidden, InvalidInput, NotFound, found
from hokusai.hashing import file_sha256
from hokusai.server.db.engine import changed_rows
from hokusai.server.db.models import Contribution, Dataset, Model, utcnow
from hokusai.server.principal import Principal
from hokusai.server.services import benchmarks
from hokusai.server.services.audit import record_event
from hokusai.server.services.datasets import Ingested, dataset_view, ingest
from hokusai.storage import BlobStore
from hokusai.wallet import checksum_address


def contributor_for(principal: Principal, requested: str | None) -> str:
    """Who is credited: the signed-in wallet, or the address an admin names."""
    if requested:
        if not principal.is_admin:
            raise Forbidden(
                "only an admin may submit a contribution for another wallet; sign in with that wallet",
                code="not_admin",
            )
        return checksum_address(requested)
    if principal.wallet_address:
        return principal.wallet_address
    raise Forbidden(
        "a contribution is credited to a wallet: sign in with your wallet (X-ETH-* headers), "
        "or use an admin key and give contributor_address",
        code="wallet_required",
    )


def submit(
    session: Session,
    store: BlobStore,
    model: Model,
    path: Path,
    *,
    name: str,
    principal: Principal,
    requested_contributor: str | None,
    quota_bytes: int,
    terms_domain: Mapping[str, Any],
    terms: str | None = None,
    terms_signature: str | None = None,
    sha256: str | None = None,
    verdicts: Path | None = None,
) -> tuple[Contribution, Ingested]:
    """Validate and store ``path`` for ``model`` under ``terms`` (the ContributionTerms typed-data JSON)
    signed by the credited wallet (``terms_signature``) for ``terms_domain``; the same bytes again return
    the same contribution (with the terms it was first given). The verdict is kept in ``verdicts`` (see
    ``hokusai.pipeline.inputs.remember_verdict``) when given."""
    contributor = contributor_for(principal, requested_contributor)
    if not model.accepts_contributions:
        raise Forbidden(
            f"model {model.name!r} does not accept contributions now", code="contributions_closed"
        )
    spec = benchmarks.load(benchmarks.current(session, model))
    offer, signed = check_offer(
        _json_field(terms),
        terms_signature,
        domain=terms_domain,
        contributor=contributor,
        dataset_hash=sha256 or file_sha256(path),
        model=model.name,
        required=spec.contribution_terms,
        now=time.time(),
    )
    schema = spec.contribution_schema
    ingested = ingest(
        session,
        store,
        path,
        name=name,
        principal_id=principal.id,
        quota_bytes=quota_bytes,
        sha256=sha256,
        label=model.target_column,
        schema=schema,
        verdicts=verdicts,
    )
    existing = _find(session, model.id, ingested.dataset.sha256)
    if existing is None:
        contribution = Contribution(
            id=uuid.uuid4().hex,
            model_id=model.id,
            dataset_id=ingested.dataset.id,
            contributor_address=contributor,
            submitted_by=principal.id,
            validation=ingested.validation,
            created_at=utcnow(),
            terms=signed,
            terms_hash=signed["hash"],
        )
        try:
            with session.begin_nested():
                session.add(contribution)
            if ingested.created and sole_holder(session, ingested.dataset):
                store.mark_for_retention(ingested.dataset.storage_key)  # S3's lifecycle rule deletes it too
            record_event(
                session,
                "contribution_submitted",
                principal_id=principal.id,
                wallet_address=contributor,
                resource=f"contribution:{contribution.id}",
                details={
                    "model": model.name,
                    "data_hash": ingested.dataset.sha256,
                    "terms_hash": signed["hash"],
                    "license": offer.license,
                },
            )
            return contribution, ingested
        except IntegrityError:  # the same bytes arrived concurrently
            existing = _find(session, model.id, ingested.dataset.sha256)
            assert existing is not None
    if existing.contributor_address != contributor:
        raise Conflict(
            f"these exact bytes were already contributed to {model.name!r} by another wallet",
            code="already_contributed",
        )
    ensure_usable(existing)  # withdrawn bytes are not taken back silently
    return existing, Ingested(ingested.dataset, False, ingested.validation)


def _json_field(value: str | None) -> Any:
    """A form field holding JSON (None when absent); not JSON is ``terms_invalid``."""
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        raise InvalidInput("the terms field is not JSON", code="terms_invalid") from None


def sole_holder(session: Session, dataset: Dataset) -> bool:
    """Whether no other record holds the same bytes (only then may S3's age rule delete them)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Dataset)
            .where(Dataset.storage_key == dataset.storage_key, Dataset.id != dataset.id)
        )
        == 0
    )


def ensure_usable(contribution: Contribution) -> None:
    """409 for a contribution whose raw data is gone (withdrawn, or past retention): no run can use it."""
    if contribution.withdrawn_at is not None or contribution.data_deleted_at is not None:
        why = "was withdrawn" if contribution.withdrawn_at is not None else "was deleted by retention"
        raise Conflict(
            f"contribution {contribution.id!r} {why}: its raw data is gone, so no run can use it",
            code="contribution_withdrawn" if contribution.withdrawn_at else "contribution_data_deleted",
        )


def hold_usable(session: Session, contributions: list[Contribution]) -> None:
    """Re-check, under a row lock held to the end of the transaction, that every contribution is still
    usable (409 as ``ensure_usable`` otherwise): a conditional no-op UPDATE of the rows that are neither
    withdrawn nor deleted. It waits for a withdrawal or retention deletion in flight (their row lock on
    PostgreSQL; SQLite's one writer) and then sees its outcome, and a withdrawal that starts later waits for
    this transaction and then finds what it queued: a run and a withdrawal never both commit unaware of
    each other."""
    ids = sorted(c.id for c in contributions)
    held = session.execute(
        update(Contribution)
        .where(
            Contribution.id.in_(ids),
            Contribution.withdrawn_at.is_(None),
            Contribution.data_deleted_at.is_(None),
        )
        .values(withdrawn_at=None)
        .execution_options(synchronize_session=False)
    )
    if changed_rows(held) == len(ids):
        return
    for contribution in contributions:
        session.refresh(contribution)
        ensure_usable(contribution)


def _find(session: Session, model_id: str, sha256: str) -> Contribution | None:
    """The contribution of these bytes (by hash) to the model, whoever uploaded them."""
    return session.scalar(
        select(Contribution)
        .join(Dataset, Dataset.id == Contribution.dataset_id)
        .where(Contribution.model_id == model_id, Dataset.sha256 == sha256)
    )


def get_contribution(session: Session, contribution_id: str) -> Contribution:
    """The contribution ``contribution_id``; 404 otherwise."""
    return found(
        session.get(Contribution, contribution_id),
        NotFound(f"no contribution {contribution_id!r}", code="contribution_not_found"),
    )


def list_contributions(session: Session, model: Model) -> list[Contribution]:
    """A model's contributions, oldest first."""
    query = select(Contribution).where(Contribution.model_id == model.id).order_by(Contribution.created_at)
    return list(session.scalars(query))


def contributions_of(session: Session, wallet: str) -> list[Contribution]:
    """A wallet's contributions to every model, oldest first."""
    query = (
        select(Contribution)
        .where(Contribution.contributor_address == wallet)
        .order_by(Contribution.created_at)
    )
    return list(session.scalars(query))


def contribution_view(session: Session, contribution: Contribution, model_name: str) -> schemas.Contribution:
    """A contribution as a client sees it (with its dataset's hash and manifest)."""
    dataset = session.get(Dataset, contribution.dataset_id)
    assert dataset is not None
    return schemas.Contribution(
        id=contribution.id,
        model=model_name,
        contributor_address=contribution.contributor_address,
        data_hash=dataset.sha256,
        dataset=dataset_view(dataset),
        validation=schemas.Validation(**contribution.validation),
        created_at=contribution.created_at,
        terms=terms_view(contribution.terms),
    )


def terms_view(signed: Mapping[str, Any] | None) -> schemas.ContributionTerms | None:
    """Stored signed terms as a client sees them (None for a contribution from before terms)."""
    if not signed:
        return None
    message = signed["typed_data"]["message"]
    return schemas.ContributionTerms(
        license=message["license"], commercial_use=message["commercialUse"],
        derivatives=message["derivatives"], attribution=message["attribution"],
        deadline=message["deadline"], hash=signed["hash"], signature=signed["signature"],
        typed_data=signed["typed_data"],
    )  # fmt: skip
