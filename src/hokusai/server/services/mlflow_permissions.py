"""MLflow permissions per experiment and registered model (MLflow's READ / EDIT / MANAGE levels).

The creator of a resource (through the proxy, or the platform on an owner's behalf) holds MANAGE on it;
others hold nothing unless someone with MANAGE (or an admin) grants them a level. What the levels allow
is ``policy.mlflow_allows``; this module stores and reads them.

Grants live and die with their object: :func:`grant_creator` gives a new object's creator MANAGE and
drops every grant left on the same id (a name deleted and made again starts clean), and
:func:`forget_resource` drops them all when the object is deleted. Platform models' MLflow names are the
platform's alone (:func:`check_mlflow_name`).
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hokusai.errors import Forbidden, InvalidInput
from hokusai.server.db.engine import changed_rows, forget_on_commit
from hokusai.server.db.models import MlflowPermission, Model, utcnow
from hokusai.server.policy import ADMIN_ROLE, MLFLOW_RESOURCE_TYPES, MlflowLevel
from hokusai.server.principal import Principal
from hokusai.server.services.audit import record_event
from hokusai.tracking.registry import PLATFORM_EXPERIMENT_PREFIX


def parse_level(value: str) -> MlflowLevel:
    """``READ``/``EDIT``/``MANAGE``/``NO_PERMISSIONS`` (any case) or a clear 400."""
    try:
        return MlflowLevel[value.upper()]
    except KeyError:
        raise InvalidInput(
            f"unknown permission {value!r}; use one of {', '.join(level.name for level in MlflowLevel)}",
            code="unknown_permission",
        ) from None


def check_resource_type(resource_type: str) -> str:
    """``experiment`` or ``registered_model``, or a clear 400."""
    if resource_type not in MLFLOW_RESOURCE_TYPES:
        raise InvalidInput(
            f"unknown MLflow resource type {resource_type!r}; use {' or '.join(MLFLOW_RESOURCE_TYPES)}",
            code="unknown_resource_type",
        )
    return resource_type


def level_of(session: Session, principal_id: str, resource_type: str, resource_id: str) -> MlflowLevel:
    """What ``principal_id`` holds on the resource (NO_PERMISSIONS when nothing was granted)."""
    stored = session.scalar(
        select(MlflowPermission.permission).where(
            MlflowPermission.resource_type == resource_type,
            MlflowPermission.resource_id == resource_id,
            MlflowPermission.principal_id == principal_id,
        )
    )
    return MlflowLevel[stored] if stored else MlflowLevel.NO_PERMISSIONS


def levels_of(session: Session, principal_id: str, resource_type: str) -> dict[str, MlflowLevel]:
    """Every resource of one type ``principal_id`` holds a level on (for filtering search results)."""
    rows = session.execute(
        select(MlflowPermission.resource_id, MlflowPermission.permission).where(
            MlflowPermission.principal_id == principal_id, MlflowPermission.resource_type == resource_type
        )
    )
    return {resource_id: MlflowLevel[permission] for resource_id, permission in rows}


def managers(session: Session, resource_type: str, resource_id: str) -> frozenset[str]:
    """The principals holding MANAGE on the resource."""
    return frozenset(
        session.scalars(
            select(MlflowPermission.principal_id).where(
                MlflowPermission.resource_type == resource_type,
                MlflowPermission.resource_id == resource_id,
                MlflowPermission.permission == MlflowLevel.MANAGE.name,
            )
        )
    )


def permissions_on(session: Session, resource_type: str, resource_id: str) -> list[MlflowPermission]:
    """Every grant on the resource, by principal."""
    return list(
        session.scalars(
            select(MlflowPermission)
            .where(
                MlflowPermission.resource_type == resource_type, MlflowPermission.resource_id == resource_id
            )
            .order_by(MlflowPermission.principal_id)
        )
    )


def set_level(
    session: Session,
    resource_type: str,
    resource_id: str,
    principal_id: str,
    level: MlflowLevel,
    *,
    granted_by: str | None,
) -> MlflowPermission:
    """Give ``principal_id`` exactly ``level`` on the resource (idempotent; audited)."""
    row = session.scalar(
        select(MlflowPermission).where(
            MlflowPermission.resource_type == resource_type,
            MlflowPermission.resource_id == resource_id,
            MlflowPermission.principal_id == principal_id,
        )
    )
    if row is None:
        row = MlflowPermission(
            resource_type=resource_type,
            resource_id=resource_id,
            principal_id=principal_id,
            permission=level.name,
            granted_by=granted_by,
            created_at=utcnow(),
        )
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:  # granted concurrently: set the level on the row that won
            return set_level(session, resource_type, resource_id, principal_id, level, granted_by=granted_by)
    else:
        row.permission, row.granted_by = level.name, granted_by
    record_event(
        session,
        "permission_set",
        principal_id=granted_by,
        resource=f"{resource_type}:{resource_id}",
        details={"principal_id": principal_id, "permission": level.name},
    )
    forget_on_commit(session, "mlflow_levels", principal_id)
    return row


def remove(
    session: Session, resource_type: str, resource_id: str, principal_id: str, *, removed_by: str
) -> bool:
    """Take away whatever ``principal_id`` holds on the resource; False when it held nothing."""
    result = session.execute(
        delete(MlflowPermission).where(
            MlflowPermission.resource_type == resource_type,
            MlflowPermission.resource_id == resource_id,
            MlflowPermission.principal_id == principal_id,
        )
    )
    if changed_rows(result):
        record_event(
            session,
            "permission_removed",
            principal_id=removed_by,
            resource=f"{resource_type}:{resource_id}",
            details={"principal_id": principal_id},
        )
        forget_on_commit(session, "mlflow_levels", principal_id)
    return bool(changed_rows(result))


def forget_resource(session: Session, resource_type: str, resource_id: str, *, removed_by: str | None) -> int:
    """Drop every grant on the resource (it was deleted, or its id is being made afresh); how many."""
    holders = list(
        session.scalars(
            select(MlflowPermission.principal_id).where(
                MlflowPermission.resource_type == resource_type, MlflowPermission.resource_id == resource_id
            )
        )
    )
    if not holders:
        return 0
    session.execute(
        delete(MlflowPermission).where(
            MlflowPermission.resource_type == resource_type, MlflowPermission.resource_id == resource_id
        )
    )
    record_event(
        session,
        "permissions_forgotten",
        principal_id=removed_by,
        resource=f"{resource_type}:{resource_id}",
        details={"principal_ids": sorted(holders)},
    )
    forget_on_commit(session, "mlflow_levels", *holders)
    return len(holders)


def grant_creator(
    session: Session, resource_type: str, resource_id: str, principal_id: str, *, granted_by: str | None
) -> MlflowPermission:
    """A newly created resource: its creator holds MANAGE and nobody else holds anything (grants left on
    the same id by an object deleted before are dropped)."""
    forget_resource(session, resource_type, resource_id, removed_by=granted_by)
    level = MlflowLevel.MANAGE
    return set_level(session, resource_type, resource_id, principal_id, level, granted_by=granted_by)


def check_mlflow_name(session: Session, principal: Principal, resource_type: str, name: str) -> None:
    """403 ``mlflow_name_reserved`` unless ``principal`` may give an MLflow object this name (creating or
    renaming it): experiments under ``hokusai/`` and registered models named like a platform model are the
    platform's (it makes them when a model is registered); admins may use them."""
    if principal.role == ADMIN_ROLE:
        return
    reserved = (
        name.startswith(PLATFORM_EXPERIMENT_PREFIX)
        if resource_type == "experiment"
        else session.scalar(select(Model.id).where(Model.name == name)) is not None
    )
    if reserved:
        raise Forbidden(
            f"the MLflow {resource_type.replace('_', ' ')} name {name!r} is reserved for the platform's "
            f"models (experiments under {PLATFORM_EXPERIMENT_PREFIX!r}, registered models named like a "
            "registered model); choose another name",
            code="mlflow_name_reserved",
            details={"resource_type": resource_type, "name": name},
        )
