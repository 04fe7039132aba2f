"""``/api/v1/keys``: create (the plaintext is in this one response), list, revoke, rotate API keys."""

from __future__ import annotations

from fastapi import APIRouter, status

from hokusai.schemas import KeyCreate, KeyInfo, KeyList, NewKey
from hokusai.server.body_schema import semantic_rules
from hokusai.server.db.models import ApiKey
from hokusai.server.deps import Caller, SessionDep, StateDep
from hokusai.server.principal import parse_scopes
from hokusai.server.services.keys import create_key, key_status, list_keys, revoke_key, rotate_key

router = APIRouter(prefix="/api/v1/keys", tags=["keys"])


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(
        id=row.id, name=row.name, principal_id=row.principal_id, scopes=row.scopes.split(),
        status=key_status(row), created_at=row.created_at, expires_at=row.expires_at,
        revoked_at=row.revoked_at, replaced_by=row.replaced_by,
        rate_limit_per_minute=row.rate_limit_per_minute,
    )  # fmt: skip


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=NewKey,
    summary="Create an API key",
    openapi_extra=semantic_rules(("expires_in_past", "expires_at is in the future")),
)
def create(body: KeyCreate, principal: Caller, session: SessionDep, state: StateDep) -> NewKey:
    """201 with ``id`` and the plaintext ``key`` (shown once; only its hash is stored). The key never exceeds
    the caller's: no more scopes, no higher rate limit, no later expiry (a wallet sign-in's keys live at most
    HOKUSAI_WALLET_KEY_MAX_SECONDS)."""
    created = create_key(
        session, actor=principal, name=body.name, scopes=parse_scopes(body.scopes),
        live=state.settings.live_keys, principal_id=body.principal_id, principal_name=body.principal_name,
        expires_at=body.expires_at, rate_limit_per_minute=body.rate_limit_per_minute,
        default_rate_limit=state.settings.rate_limit_per_minute,
        wallet_key_seconds=state.settings.wallet_key_max_seconds,
    )  # fmt: skip
    session.commit()
    return NewKey(**_info(created.row).model_dump(), key=created.key)


@router.get("", response_model=KeyList, summary="List API keys (metadata only)")
def list_(principal: Caller, session: SessionDep, principal_id: str | None = None) -> KeyList:
    """Your keys; an admin sees every key, or one principal's with ``?principal_id=``."""
    return KeyList(keys=[_info(row) for row in list_keys(session, actor=principal,
                                                                principal_id=principal_id)])  # fmt: skip


@router.delete("/{key_id}", response_model=KeyInfo, summary="Revoke an API key")
def revoke(key_id: str, principal: Caller, session: SessionDep) -> KeyInfo:
    """The key stops working at once (idempotent). A key revokes only itself and the keys below it in its
    lineage (403 ``key_not_in_lineage``); an admin any key not above its own."""
    row = revoke_key(session, key_id, actor=principal)
    session.commit()
    return _info(row)


@router.post(
    "/{key_id}/rotate",
    status_code=status.HTTP_201_CREATED,
    response_model=NewKey,
    summary="Rotate an API key",
)
def rotate(key_id: str, principal: Caller, session: SessionDep, state: StateDep) -> NewKey:
    """201 with the new ``key``; the old one works for HOKUSAI_KEY_ROTATION_GRACE_SECONDS more. A key rotates
    only itself and the keys below it (403 ``key_not_in_lineage``), and the new key stays within the
    caller's own expiry and rate limit."""
    created, old = rotate_key(session, key_id, actor=principal, live=state.settings.live_keys,
                              grace_seconds=state.settings.key_rotation_grace_seconds,
                              default_rate_limit=state.settings.rate_limit_per_minute,
                              wallet_key_seconds=state.settings.wallet_key_max_seconds)  # fmt: skip
    session.commit()
    return NewKey(**_info(created.row).model_dump(), key=created.key, replaces=old.id)
