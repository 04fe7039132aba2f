"""API key lifecycle: create, list, revoke, rotate, and the first admin key (bootstrap).

``actor`` is the authenticated caller, or None for an operator at the local database (the CLI, start-up).
Rules (the policy table's ``key.*`` rows): a key needs ``write`` to manage keys; only ``admin`` touches
other principals' keys (others get 404 for them, so key ids cannot be probed). A child key never exceeds
its parent: not more scopes, not a higher rate limit, not a later expiry, and a rotating parent mints
nothing (admin keys, which provision other principals' keys, are bound by the last rule only). A key
manages (revokes, rotates) only itself and the keys below it in its lineage, never one above it, and a
rotation mints under the same limits as a new child (``_managed_key``, ``_child_limits``). A key
minted under a wallet sign-in lives at most ``HOKUSAI_WALLET_KEY_MAX_SECONDS`` and is
revoked by ``logout {"all": true}``; so are the keys it minted in turn.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hokusai.api_keys import generate_key, parse_bootstrap_line
from hokusai.config import Settings
from hokusai.errors import Conflict, Forbidden, InvalidInput, NotFound
from hokusai.server import policy
from hokusai.server.db.engine import forget_on_commit
from hokusai.server.db.models import ApiKey, utcnow
from hokusai.server.db.models import Principal as PrincipalRow
from hokusai.server.principal import SCOPES, WRITE, Principal, covers, format_scopes, parse_scopes
from hokusai.server.services.access import key_subject
from hokusai.server.services.audit import record_event
from hokusai.server.services.principals import get_principal, user_principal

log = logging.getLogger("hokusai.auth")
BOOTSTRAP_PRINCIPAL = "admin"


@dataclass(frozen=True)
class CreatedKey:
    """A stored key and its plaintext, which exists only here, to be shown once."""

    row: ApiKey
    key: str


def key_status(row: ApiKey, now: datetime | None = None) -> str:
    """``active``, ``rotating`` (replaced, in its grace period), ``expired`` or ``revoked``."""
    now = now or utcnow()
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "rotating" if row.replaced_by else "active"


def _require_write(actor: Principal | None) -> None:
    if actor is not None and not actor.has_scope(WRITE):
        raise Forbidden(
            "managing API keys needs the 'write' scope",
            code="insufficient_scope",
            details={"required": WRITE, "granted": sorted(actor.scopes)},
        )


def _require_covered(actor: Principal | None, scopes: frozenset[str]) -> None:
    if actor is not None and not covers(actor.scopes, scopes):
        raise Forbidden(
            f"a key with scopes {format_scopes(actor.scopes)!r} cannot mint {format_scopes(scopes)!r}",
            code="scope_escalation",
            details={"granted": sorted(actor.scopes), "requested": sorted(scopes)},
        )


def _visible_key(session: Session, key_id: str, actor: Principal | None) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"no API key with id {key_id!r}", code="key_not_found")
    if actor is not None:
        policy.require(actor, "key.write", key_subject(row))
    _require_write(actor)
    return row


LINEAGE_MAX_DEPTH = 1000  # a chain longer than this is a corrupt table, not a lineage


def _ancestors(session: Session, row: ApiKey) -> list[str]:
    """The ids of the keys above ``row`` (its parent first, the root last)."""
    found: list[str] = []
    parent_id = row.parent_key_id
    while parent_id is not None and parent_id not in found and len(found) < LINEAGE_MAX_DEPTH:
        found.append(parent_id)
        parent = session.get(ApiKey, parent_id)
        parent_id = parent.parent_key_id if parent is not None else None
    return found


def _managed_key(session: Session, key_id: str, actor: Principal | None) -> ApiKey:
    """The key ``actor`` may revoke or rotate, or a 403 ``key_not_in_lineage``: the one lineage rule.

    A key manages itself and the keys below it (minted by it, or by those); an admin key also manages any
    key that is not above it (it provisions other principals' keys). A wallet sign-in is the root of its
    principal's keys, and an operator at the database (``actor`` None) is above every key.
    """
    row = _visible_key(session, key_id, actor)
    if actor is None or actor.key_id is None or row.id == actor.key_id:
        return row
    if actor.key_id in _ancestors(session, row):
        return row
    own = session.get(ApiKey, actor.key_id)
    if actor.is_admin and own is not None and row.id not in _ancestors(session, own):
        return row
    raise Forbidden(
        f"key {row.id} is not below the calling key {actor.key_id} in its lineage: a key manages only "
        "itself and the keys it minted (ask an admin, or use the key above)",
        code="key_not_in_lineage",
        details={"key_id": row.id, "caller_key_id": actor.key_id},
    )


@dataclass(frozen=True)
class KeyLimits:
    """What a new key may be at most, given who mints it."""

    expires_at: datetime | None
    rate_limit_per_minute: int | None
    parent_key_id: str | None
    session_nonce: str | None


def _child_limits(
    session: Session,
    actor: Principal | None,
    *,
    expires_at: datetime | None,
    rate_limit_per_minute: int | None,
    default_rate_limit: int,
    wallet_key_seconds: int,
) -> KeyLimits:
    """The new key's expiry, rate limit and lineage, or a 403 when it would exceed its parent."""
    if actor is None:  # an operator at the database
        return KeyLimits(expires_at, rate_limit_per_minute, None, None)
    if actor.key_status != "active":
        raise Forbidden(
            "a key that is being rotated cannot mint keys; use its replacement", code="parent_rotating"
        )
    if (
        actor.is_admin and actor.method == "api_key"
    ):  # an admin provisions keys; it could grant itself anything
        return KeyLimits(expires_at, rate_limit_per_minute, actor.key_id, None)
    ceiling = actor.expires_at
    nonce = actor.nonce
    parent_limit = actor.rate_limit_per_minute or default_rate_limit
    if actor.method == "wallet":
        session_end = utcnow() + timedelta(seconds=wallet_key_seconds)
        ceiling = session_end
    elif actor.key_id is not None:
        parent = session.get(ApiKey, actor.key_id)
        nonce = parent.session_nonce if parent is not None else None
    if expires_at is None:
        expires_at = ceiling
    elif ceiling is not None and expires_at > ceiling:
        raise Forbidden(
            f"the new key would outlive its parent (expires {ceiling.isoformat()}); "
            "choose an earlier expires_at",
            code="expiry_escalation",
            details={"max_expires_at": ceiling.isoformat()},
        )
    if rate_limit_per_minute is None:
        rate_limit_per_minute = actor.rate_limit_per_minute
    elif rate_limit_per_minute > parent_limit:
        raise Forbidden(
            f"the new key's rate limit {rate_limit_per_minute}/min exceeds its parent's {parent_limit}/min",
            code="limit_escalation",
            details={"max_rate_limit_per_minute": parent_limit},
        )
    return KeyLimits(expires_at, rate_limit_per_minute, actor.key_id, nonce)


def _store(
    session: Session,
    *,
    owner: PrincipalRow,
    name: str,
    scopes: frozenset[str],
    live: bool,
    actor: Principal | None,
    limits: KeyLimits,
) -> CreatedKey:
    new = generate_key(live=live)
    row = ApiKey(
        id=new.key_id,
        principal_id=owner.id,
        name=name,
        key_hash=new.key_hash,
        scopes=format_scopes(scopes),
        rate_limit_per_minute=limits.rate_limit_per_minute,
        created_at=utcnow(),
        created_by=actor.id if actor else None,
        expires_at=limits.expires_at,
        parent_key_id=limits.parent_key_id,
        session_nonce=limits.session_nonce,
    )
    session.add(row)
    return CreatedKey(row, new.key)


def create_key(
    session: Session,
    *,
    actor: Principal | None,
    name: str,
    scopes: frozenset[str],
    live: bool,
    principal_id: str | None = None,
    principal_name: str | None = None,
    expires_at: datetime | None = None,
    rate_limit_per_minute: int | None = None,
    default_rate_limit: int = 100,
    wallet_key_seconds: int = 30 * 86400,
) -> CreatedKey:
    """Create a key (the caller commits). Default owner: the actor (an operator must name a principal)."""
    if not scopes:
        raise InvalidInput("a key needs at least one scope", code="invalid_scopes")
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidInput("expires_at must be in the future", code="expires_in_past")
    if principal_id and principal_name:
        raise InvalidInput("give principal_id or principal_name, not both", code="invalid_principal")
    if actor is not None:
        _require_write(actor)
        _require_covered(actor, scopes)
        if not actor.is_admin and (principal_name or principal_id not in (None, actor.id)):
            raise Forbidden("only an admin creates keys for other principals", code="insufficient_scope")
    if principal_name:
        owner = user_principal(session, principal_name, scopes)
    else:
        target = principal_id or (actor.id if actor else None)
        if target is None:
            raise InvalidInput("name the principal the key is for", code="invalid_principal")
        owner = get_principal(session, target)
    limits = _child_limits(
        session,
        actor,
        expires_at=expires_at,
        rate_limit_per_minute=rate_limit_per_minute,
        default_rate_limit=default_rate_limit,
        wallet_key_seconds=wallet_key_seconds,
    )
    created = _store(session, owner=owner, name=name, scopes=scopes, live=live, actor=actor, limits=limits)
    record_event(
        session,
        "key_created",
        principal_id=owner.id,
        key_id=created.row.id,
        resource=f"key:{created.row.id}",
        details={"by": actor.id if actor else "operator", "scopes": created.row.scopes},
    )
    log.info("api key created", extra={"key_id": created.row.id, "principal_id": owner.id})
    return created


def list_keys(session: Session, *, actor: Principal | None, principal_id: str | None = None) -> list[ApiKey]:
    """Metadata of keys: an admin (or operator) sees all (or one principal's), others their own."""
    query = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    if actor is not None and not actor.is_admin:
        query = query.where(ApiKey.principal_id == actor.id)
    elif principal_id:
        query = query.where(ApiKey.principal_id == principal_id)
    return list(session.scalars(query))


def revoke_key(session: Session, key_id: str, *, actor: Principal | None) -> ApiKey:
    """Revoke a key at once (idempotent: revoking a revoked key changes nothing)."""
    row = _managed_key(session, key_id, actor)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        record_event(
            session,
            "key_revoked",
            principal_id=row.principal_id,
            key_id=row.id,
            details={"by": actor.id if actor else "operator"},
        )
        forget_on_commit(session, "credential", row.id)
        log.info("api key revoked", extra={"key_id": row.id, "principal_id": row.principal_id})
    return row


def rotate_key(
    session: Session,
    key_id: str,
    *,
    actor: Principal | None,
    grace_seconds: int,
    live: bool,
    default_rate_limit: int = 100,
    wallet_key_seconds: int = 30 * 86400,
) -> tuple[CreatedKey, ApiKey]:
    """A new key with the same name, owner, scopes, limits and place in the lineage; the old one expires
    after the grace period. Only a key at or above ``key_id`` rotates it, and the new key is bound by the
    caller's own limits, as a child it minted would be (no later expiry, no higher rate limit)."""
    old = _managed_key(session, key_id, actor)
    status = key_status(old)
    if status != "active":
        raise Conflict(f"key {key_id} is {status}; only an active key can be rotated", code=f"key_{status}")
    _require_covered(actor, parse_scopes(old.scopes))
    bound = _child_limits(
        session,
        actor,
        expires_at=old.expires_at,
        rate_limit_per_minute=old.rate_limit_per_minute,
        default_rate_limit=default_rate_limit,
        wallet_key_seconds=wallet_key_seconds,
    )
    owner = get_principal(session, old.principal_id)
    limits = KeyLimits(bound.expires_at, bound.rate_limit_per_minute, old.parent_key_id, old.session_nonce)
    created = _store(
        session,
        owner=owner,
        name=old.name,
        scopes=parse_scopes(old.scopes),
        live=live,
        actor=actor,
        limits=limits,
    )
    grace_end = utcnow() + timedelta(seconds=grace_seconds)
    old.expires_at = grace_end if old.expires_at is None else min(old.expires_at, grace_end)
    old.replaced_by = created.row.id
    record_event(
        session,
        "key_rotated",
        principal_id=owner.id,
        key_id=old.id,
        details={
            "new_key_id": created.row.id,
            "old_key_expires_at": old.expires_at.isoformat(),
            "by": actor.id if actor else "operator",
        },
    )
    forget_on_commit(session, "credential", old.id)
    log.info("api key rotated", extra={"key_id": old.id, "new_key_id": created.row.id})
    return created, old


def revoke_session_keys(session: Session, principal_id: str) -> list[str]:
    """Revoke every live key of ``principal_id`` minted under a wallet sign-in (and their children)."""
    now = utcnow()
    rows = session.scalars(
        select(ApiKey).where(
            ApiKey.principal_id == principal_id,
            ApiKey.session_nonce.is_not(None),
            ApiKey.revoked_at.is_(None),
        )
    ).all()
    for row in rows:
        row.revoked_at = now
        record_event(
            session,
            "key_revoked",
            principal_id=principal_id,
            key_id=row.id,
            resource=f"key:{row.id}",
            reason="logout_all",
        )
    forget_on_commit(session, "credential", *(row.id for row in rows))
    return [row.id for row in rows]


def ensure_bootstrap_admin(session: Session, settings: Settings) -> str | None:
    """Make sure an admin can get in; returns a plaintext key only when one was generated now.

    With ``HOKUSAI_BOOTSTRAP_ADMIN_KEY_HASH`` set: store that key (id + hash) for an admin principal if its
    id is unknown. Otherwise, on an empty database (no key at all): generate an admin key, store its hash
    and return it, to be printed once.
    """
    all_scopes = frozenset(SCOPES)
    if settings.bootstrap_admin_key_hash:
        key_id, key_hash = parse_bootstrap_line(settings.bootstrap_admin_key_hash)
        if session.get(ApiKey, key_id) is not None:
            return None
        owner = user_principal(session, BOOTSTRAP_PRINCIPAL, all_scopes)
        session.add(
            ApiKey(
                id=key_id,
                principal_id=owner.id,
                name="bootstrap",
                key_hash=key_hash,
                scopes=format_scopes(all_scopes),
                created_at=utcnow(),
            )
        )
        record_event(session, "key_created", principal_id=owner.id, key_id=key_id, reason="bootstrap_hash")
        return None
    if session.scalar(select(func.count()).select_from(ApiKey)):
        return None
    owner = user_principal(session, BOOTSTRAP_PRINCIPAL, all_scopes)
    created = _store(
        session,
        owner=owner,
        name="bootstrap",
        scopes=all_scopes,
        live=settings.environment == "production",
        actor=None,
        limits=KeyLimits(None, None, None, None),
    )
    record_event(session, "key_created", principal_id=owner.id, key_id=created.row.id, reason="bootstrap")
    return created.key
