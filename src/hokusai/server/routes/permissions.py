"""``/api/v1/permissions``: who may use an MLflow experiment or registered model (MLflow's levels).

Whoever holds MANAGE on the resource (its creator, a platform model's owner) and admins read and change
its grants; everyone else gets 404 for it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from hokusai.errors import NotFound
from hokusai.schemas import MlflowResourceType, Permission, PermissionGrant, PermissionList
from hokusai.server import policy
from hokusai.server.body_schema import CHECKSUM, semantic_rules
from hokusai.server.deps import Caller, SessionDep
from hokusai.server.services import mlflow_permissions
from hokusai.server.services.access import mlflow_subject
from hokusai.server.services.principals import get_principal, wallet_principal
from hokusai.wallet import checksum_address

router = APIRouter(prefix="/api/v1/permissions", tags=["permissions"])


ResourceType = Annotated[MlflowResourceType, Query()]
ResourceId = Annotated[str, Query(min_length=1, max_length=300)]


def _managed(
    session: SessionDep, principal: Caller, action: str, resource_type: str, resource_id: str
) -> None:
    mlflow_permissions.check_resource_type(resource_type)
    managers = mlflow_permissions.managers(session, resource_type, resource_id)
    policy.require(principal, action, mlflow_subject(resource_type, resource_id, managers))


@router.get("", response_model=PermissionList, summary="Grants on an MLflow resource you manage")
def list_permissions(
    principal: Caller, session: SessionDep, resource_type: ResourceType, resource_id: ResourceId
) -> PermissionList:
    _managed(session, principal, "permission.read", resource_type, resource_id)
    rows = mlflow_permissions.permissions_on(session, resource_type, resource_id)
    return PermissionList(permissions=[Permission.model_validate(r, from_attributes=True) for r in rows])


@router.put(
    "",
    response_model=Permission,
    summary="Set a principal's level on an MLflow resource you manage",
    openapi_extra=semantic_rules(CHECKSUM),
)
def set_permission(body: PermissionGrant, principal: Caller, session: SessionDep) -> Permission:
    _managed(session, principal, "permission.write", body.resource_type, body.resource_id)
    level = mlflow_permissions.parse_level(body.permission)
    grantee = (
        get_principal(session, body.principal_id)
        if body.principal_id
        else wallet_principal(session, checksum_address(str(body.address)))
    )
    row = mlflow_permissions.set_level(
        session, body.resource_type, body.resource_id, grantee.id, level, granted_by=principal.id
    )
    session.commit()
    return Permission.model_validate(row, from_attributes=True)


@router.delete("", status_code=status.HTTP_204_NO_CONTENT, summary="Take a principal's level away")
def remove_permission(
    principal: Caller,
    session: SessionDep,
    resource_type: ResourceType,
    resource_id: ResourceId,
    principal_id: Annotated[str, Query(max_length=32)],
) -> None:
    _managed(session, principal, "permission.write", resource_type, resource_id)
    if not mlflow_permissions.remove(
        session, resource_type, resource_id, principal_id, removed_by=principal.id
    ):
        raise NotFound(
            f"{principal_id} holds no permission on {resource_type} {resource_id}",
            code="permission_not_found",
        )
    session.commit()
