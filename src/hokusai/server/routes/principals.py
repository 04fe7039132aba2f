"""``/api/v1/principals`` and ``/api/v1/audit`` (admin): principals, roles, pickle trust; the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from hokusai.schemas import AuditEntry, AuditPage, PrincipalInfo, PrincipalList, PrincipalUpdate
from hokusai.server.db.models import AuditEvent
from hokusai.server.db.models import Principal as PrincipalRow
from hokusai.server.deps import Caller, SessionDep, StateDep
from hokusai.server.services.audit import record_event
from hokusai.server.services.principals import get_principal, role_of

router = APIRouter(prefix="/api/v1", tags=["admin"])


def _info(session: SessionDep, row: PrincipalRow, state: StateDep) -> PrincipalInfo:
    return PrincipalInfo(
        id=row.id,
        kind=row.kind,
        name=row.name,
        wallet_address=row.wallet_address,
        role=role_of(session, row, state.settings),
        trusted_pickle=row.trusted_pickle,
        created_at=row.created_at,
    )


@router.get("/principals", response_model=PrincipalList, summary="Principals and their roles (admin)")
def list_principals(_admin: Caller, session: SessionDep, state: StateDep) -> PrincipalList:
    rows = session.scalars(select(PrincipalRow).order_by(PrincipalRow.created_at, PrincipalRow.id))
    return PrincipalList(principals=[_info(session, row, state) for row in rows])


@router.patch(
    "/principals/{principal_id}", response_model=PrincipalInfo, summary="Trust a principal's pickles"
)
def update_principal(
    principal_id: str, body: PrincipalUpdate, admin: Caller, session: SessionDep, state: StateDep
) -> PrincipalInfo:
    row = get_principal(session, principal_id)
    row.trusted_pickle = body.trusted_pickle
    record_event(
        session,
        "principal_updated",
        principal_id=admin.id,
        resource=f"principal:{row.id}",
        details={"trusted_pickle": body.trusted_pickle},
    )
    session.commit()
    return _info(session, row, state)


@router.get("/audit", response_model=AuditPage, summary="The audit log, newest first (admin)")
def audit(
    _admin: Caller,
    session: SessionDep,
    event: Annotated[str | None, Query(max_length=40)] = None,
    principal_id: Annotated[str | None, Query(max_length=32)] = None,
    resource: Annotated[str | None, Query(max_length=300)] = None,
    before_id: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    """Filter by event, principal or resource; page with ``before_id`` (the last id you saw)."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    for column, value in (
        (AuditEvent.event, event),
        (AuditEvent.principal_id, principal_id),
        (AuditEvent.resource, resource),
    ):
        if value is not None:
            query = query.where(column == value)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    return AuditPage(
        events=[AuditEntry.model_validate(row, from_attributes=True) for row in session.scalars(query)]
    )
