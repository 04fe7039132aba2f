"""Contributions: a wallet's dataset offered to a model, checked against the model's data schema."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hokusai.errors import Conflict, Forbidden, NotFound
from hokusai.server.auth.principal import Principal
from hokusai.server.db.models import Contribution, Dataset, Model, utcnow
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
) -> tuple[Contribution, Ingested]:
    """Validate and store ``path`` for ``model``; the same bytes again return the same contribution."""
    from hokusai.data import Schema

    contributor = contributor_for(principal, requested_contributor)
    reference = Schema.model_validate(model.data_schema)
    ingested = ingest(
        session,
        store,
        path,
        name=name,
        principal_id=principal.id,
        label=model.target_column,
        reference=reference,
    )
    existing = _find(session, model.id, ingested.dataset.id)
    if existing is None:
        contribution = Contribution(
            id=uuid.uuid4().hex,
            model_id=model.id,
            dataset_id=ingested.dataset.id,
            contributor_address=contributor,
            submitted_by=principal.id,
            validation=ingested.validation,
            created_at=utcnow(),
        )
        try:
            with session.begin_nested():
                session.add(contribution)
            return contribution, ingested
        except IntegrityError:  # the same bytes arrived concurrently
            existing = _find(session, model.id, ingested.dataset.id)
            assert existing is not None
    if existing.contributor_address != contributor:
        raise Conflict(
            f"these exact bytes were already contributed to {model.name!r} by another wallet",
            code="already_contributed",
        )
    return existing, Ingested(ingested.dataset, False, ingested.validation)


def _find(session: Session, model_id: str, dataset_id: str) -> Contribution | None:
    return session.scalar(
        select(Contribution).where(Contribution.model_id == model_id, Contribution.dataset_id == dataset_id)
    )


def get_contribution(session: Session, contribution_id: str) -> Contribution:
    """The contribution ``contribution_id``; 404 otherwise."""
    contribution = session.get(Contribution, contribution_id)
    if contribution is None:
        raise NotFound(f"no contribution {contribution_id!r}", code="contribution_not_found")
    return contribution


def list_contributions(session: Session, model: Model) -> list[Contribution]:
    """A model's contributions, oldest first."""
    query = select(Contribution).where(Contribution.model_id == model.id).order_by(Contribution.created_at)
    return list(session.scalars(query))


def contribution_view(session: Session, contribution: Contribution, model_name: str) -> dict[str, Any]:
    """The JSON a client sees of a contribution (with its dataset's hash and manifest)."""
    dataset = session.get(Dataset, contribution.dataset_id)
    assert dataset is not None
    return {
        "id": contribution.id,
        "model": model_name,
        "contributor_address": contribution.contributor_address,
        "data_hash": dataset.sha256,
        "dataset": dataset_view(dataset),
        "validation": contribution.validation,
        "created_at": contribution.created_at.isoformat(),
    }
