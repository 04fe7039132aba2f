"""``/api/v1/auth``: EIP-4361 nonces, logout (burns the sign-in, or every sign-in and its keys), and
wallet role grants (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from hokusai.errors import Forbidden
from hokusai.schemas import ADDRESS_PATTERN, Grant, GrantableRole, GrantCreate, GrantList, Logout, Nonce
from hokusai.server.body_schema import CHECKSUM, semantic_rules
from hokusai.server.deps import Caller, Checked, ClientRateLimit, SessionDep, StateDep
from hokusai.server.services.audit import record_event
from hokusai.server.services.keys import revoke_session_keys
from hokusai.server.services.nonces import burn_nonce, burn_wallet_nonces, issue_nonce
from hokusai.server.services.principals import grant_role, list_grants, revoke_role
from hokusai.wallet import checksum_address

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.get(
    "/nonce", response_model=Nonce, dependencies=[Checked, ClientRateLimit], summary="A sign-in nonce"
)
def nonce(session: SessionDep, state: StateDep) -> Nonce:
    """A fresh random nonce, stored; unused ones expire after 10 minutes. Rate-limited per client IP."""
    row = issue_nonce(session)
    session.commit()
    settings = state.settings
    return Nonce(
        nonce=row.nonce, expires_at=row.expires_at, domain=str(settings.public_domain),
        uri=settings.public_origin, chain_ids=sorted(settings.chain_id_set),
    )  # fmt: skip


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, summary="End the wallet sign-in")
def logout(principal: Caller, session: SessionDep, body: Logout | None = None) -> None:
    """The signed message of this request (its nonce) never authenticates again; with ``{"all": true}``
    neither does any other sign-in of this wallet, nor any API key minted under one."""
    if principal.nonce is None or principal.wallet_address is None:
        raise Forbidden(
            "logout ends a wallet sign-in; revoke an API key instead", code="not_a_wallet_session"
        )
    burn_nonce(session, principal.nonce)
    if body is not None and body.all:
        burn_wallet_nonces(session, principal.wallet_address)
        revoke_session_keys(session, principal.id)
    record_event(
        session, "wallet_logged_out", principal_id=principal.id, wallet_address=principal.wallet_address,
        details={"all": bool(body and body.all)},
    )  # fmt: skip
    session.commit()  # the cached verdicts of the burned nonces and revoked keys end with it


@router.get("/grants", response_model=GrantList, summary="Wallet role grants (admin)")
def grants(_admin: Caller, session: SessionDep) -> GrantList:
    return GrantList(grants=[Grant.model_validate(g, from_attributes=True) for g in list_grants(session)])


@router.post(
    "/grants",
    status_code=status.HTTP_201_CREATED,
    response_model=Grant,
    summary="Grant a wallet a role",
    openapi_extra=semantic_rules(CHECKSUM),
)
def add_grant(body: GrantCreate, admin: Caller, session: SessionDep) -> Grant:
    """The wallet gets ``role`` (``owner`` or ``admin``) on its next request (within
    HOKUSAI_AUTH_CACHE_SECONDS for a live sign-in)."""
    grant = grant_role(session, body.address, body.role, granted_by=admin.id)
    session.commit()
    return Grant.model_validate(grant, from_attributes=True)


@router.delete(
    "/grants/{address}/{role}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a grant",
    openapi_extra=semantic_rules(CHECKSUM),
)
def remove_grant(
    address: Annotated[str, Path(pattern=ADDRESS_PATTERN)],
    role: GrantableRole,
    admin: Caller,
    session: SessionDep,
) -> None:
    revoke_role(session, checksum_address(address), role, revoked_by=admin.id)
    session.commit()
