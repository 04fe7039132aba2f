"""``/api/v1/keys``: create (the plaintext is in this one response), list, revoke, rotate API keys."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import AwareDatetime, BaseModel, Field, field_validator

from hokusai.server.db.models import ApiKey
from hokusai.server.deps import Caller, SessionDep, StateDep
from hokusai.server.principal import SCOPES, parse_scopes
from hokusai.server.services.keys import create_key, key_status, list_keys, revoke_key, rotate_key

router = APIRouter(prefix="/api/v1/keys", tags=["keys"])


class KeyCreate(BaseModel):
    """What a new key is for; the caller's own principal unless an admin names another."""

    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(min_length=1, description=f"Any of {', '.join(SCOPES)}.")
    expires_at: AwareDatetime | None = None
    rate_limit_per_minute: int | None = Field(None, ge=1, le=1_000_000)
    principal_id: str | None = Field(None, description="Admin only: an existing principal.")
    principal_name: str | None = Field(
        None, min_length=1, max_length=100, description="Admin only: a user principal, created if new."
    )

    @field_validator("scopes")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        parse_scopes(value)
        return value


class KeyInfo(BaseModel):
    """A key's metadata (never its secret or hash)."""

    id: str
    name: str
    principal_id: str
    scopes: list[str]
    status: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    replaced_by: str | None
    rate_limit_per_minute: int | None

    @classmethod
    def of(cls, row: ApiKey) -> KeyInfo:
        return cls(
            id=row.id, name=row.name, principal_id=row.principal_id, scopes=row.scopes.split(),
            status=key_status(row), created_at=row.created_at, expires_at=row.expires_at,
            revoked_at=row.revoked_at, replaced_by=row.replaced_by,
            rate_limit_per_minute=row.rate_limit_per_minute,
        )  # fmt: skip


class NewKey(KeyInfo):
    """A key just made: ``key`` is its plaintext, shown this once."""

    key: str
    replaces: str | None = None


class KeyList(BaseModel):
    keys: list[KeyInfo]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=NewKey, summary="Create an API key")
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
    return NewKey(**KeyInfo.of(created.row).model_dump(), key=created.key)


@router.get("", response_model=KeyList, summary="List API keys (metadata only)")
def list_(principal: Caller, session: SessionDep, principal_id: str | None = None) -> KeyList:
    """Your keys; an admin sees every key, or one principal's with ``?principal_id=``."""
    return KeyList(keys=[KeyInfo.of(row) for row in list_keys(session, actor=principal,
                                                                principal_id=principal_id)])  # fmt: skip


@router.delete("/{key_id}", response_model=KeyInfo, summary="Revoke an API key")
def revoke(key_id: str, principal: Caller, session: SessionDep) -> KeyInfo:
    """The key stops working at once (idempotent)."""
    row = revoke_key(session, key_id, actor=principal)
    session.commit()
    return KeyInfo.of(row)


@router.post(
    "/{key_id}/rotate",
    status_code=status.HTTP_201_CREATED,
    response_model=NewKey,
    summary="Rotate an API key",
)
def rotate(key_id: str, principal: Caller, session: SessionDep, state: StateDep) -> NewKey:
    """201 with the new ``key``; the old one works for HOKUSAI_KEY_ROTATION_GRACE_SECONDS more."""
    created, old = rotate_key(session, key_id, actor=principal, live=state.settings.live_keys,
                              grace_seconds=state.settings.key_rotation_grace_seconds)  # fmt: skip
    session.commit()
    return NewKey(**KeyInfo.of(created.row).model_dump(), key=created.key, replaces=old.id)
