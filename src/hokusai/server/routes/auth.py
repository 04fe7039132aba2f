"""``/api/v1/auth``: EIP-4361 nonces, logout (burns the nonce), and wallet role grants (admin)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel, Field, field_validator

from hokusai.errors import InvalidInput
from hokusai.server.auth.principal import SCOPES
from hokusai.server.deps import AdminPrincipal, ClientRateLimit, CurrentPrincipal, SessionDep, StateDep
from hokusai.server.services.audit import record_event
from hokusai.server.services.nonces import burn_nonce, issue_nonce
from hokusai.server.services.principals import grant_role, list_grants, revoke_role
from hokusai.wallet import checksum_address

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class Nonce(BaseModel):
    """Put ``nonce`` in the EIP-4361 message; use it within 10 minutes. ``domain`` is what to sign for."""

    nonce: str
    expires_at: datetime
    domain: str


class Grant(BaseModel):
    address: str
    role: str = Field("admin", description=f"One of {', '.join(SCOPES)}.")
    granted_at: datetime | None = None
    granted_by: str | None = None

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        try:
            return checksum_address(value)
        except InvalidInput as exc:
            raise ValueError(exc.message) from None


class GrantList(BaseModel):
    grants: list[Grant]


@router.get("/nonce", response_model=Nonce, dependencies=[ClientRateLimit], summary="A sign-in nonce")
def nonce(session: SessionDep, state: StateDep) -> Nonce:
    """A fresh random nonce, stored; unused ones expire after 10 minutes. Rate-limited per client IP."""
    row = issue_nonce(session)
    return Nonce(nonce=row.nonce, expires_at=row.expires_at, domain=str(state.settings.public_domain))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, summary="Burn the wallet sign-in")
def logout(principal: CurrentPrincipal, session: SessionDep, state: StateDep) -> None:
    """The signed message of this request (its nonce) never authenticates again."""
    if principal.nonce is None:
        raise InvalidInput(
            "logout ends a wallet sign-in; revoke an API key instead", code="not_a_wallet_session"
        )
    burn_nonce(session, principal.nonce)
    record_event(
        session, "wallet_logged_out", principal_id=principal.id, wallet_address=principal.wallet_address
    )
    session.commit()
    state.auth.forget(principal.nonce)


@router.get("/grants", response_model=GrantList, summary="Wallet role grants (admin)")
def grants(_admin: AdminPrincipal, session: SessionDep) -> GrantList:
    return GrantList(grants=[Grant.model_validate(g, from_attributes=True) for g in list_grants(session)])


@router.post(
    "/grants", status_code=status.HTTP_201_CREATED, response_model=Grant, summary="Grant a wallet a role"
)
def add_grant(body: Grant, admin: AdminPrincipal, session: SessionDep) -> Grant:
    """The wallet gets ``role`` on its next sign-in (within HOKUSAI_AUTH_CACHE_SECONDS for a live one)."""
    grant = grant_role(session, body.address, body.role, granted_by=admin.id)
    session.commit()
    return Grant.model_validate(grant, from_attributes=True)


@router.delete("/grants/{address}/{role}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove a grant")
def remove_grant(address: str, role: str, admin: AdminPrincipal, session: SessionDep) -> None:
    revoke_role(session, checksum_address(address), role, revoked_by=admin.id)
    session.commit()
