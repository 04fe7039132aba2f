"""Principals (users and wallets) and the roles a wallet holds."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hokusai.config import Settings
from hokusai.errors import InvalidInput, NotFound, found
from hokusai.server.db.models import Principal, WalletGrant, utcnow
from hokusai.server.policy import ADMIN_ROLE, CONTRIBUTOR, GRANTABLE_ROLES, OWNER
from hokusai.server.principal import ADMIN, WALLET_SCOPES, format_scopes, parse_scopes
from hokusai.server.services.audit import record_event

USER, WALLET = "user", "wallet"


def _insert(session: Session, **fields: object) -> Principal | None:
    """A new principal, or None when a concurrent request created the same name/address first."""
    principal = Principal(id=uuid.uuid4().hex, created_at=utcnow(), **fields)
    try:
        with session.begin_nested():
            session.add(principal)
    except IntegrityError:
        return None
    return principal


def user_principal(session: Session, name: str, roles: frozenset[str]) -> Principal:
    """The user principal called ``name``, created with ``roles`` if new, else given ``roles`` too."""
    principal = session.scalar(select(Principal).where(Principal.name == name))
    if principal is None:
        principal = _insert(session, kind=USER, name=name, roles=format_scopes(roles))
        if principal is None:
            return user_principal(session, name, roles)
        record_event(session, "principal_created", principal_id=principal.id, details={"name": name})
        return principal
    if principal.kind != USER:
        raise InvalidInput(f"principal {name!r} is not a user principal", code="principal_kind")
    merged = parse_scopes(principal.roles) | roles
    principal.roles = format_scopes(merged)
    return principal


def wallet_principal(session: Session, address: str) -> Principal:
    """The principal of wallet ``address`` (EIP-55), created on its first sign-in."""
    principal = session.scalar(select(Principal).where(Principal.wallet_address == address))
    if principal is not None:
        return principal
    principal = _insert(session, kind=WALLET, wallet_address=address, roles=format_scopes(WALLET_SCOPES))
    if principal is None:
        return wallet_principal(session, address)
    record_event(session, "principal_created", principal_id=principal.id, wallet_address=address)
    return principal


def get_principal(session: Session, principal_id: str) -> Principal:
    return found(
        session.get(Principal, principal_id),
        NotFound(f"no principal with id {principal_id!r}", code="principal_not_found"),
    )


def _wallet_grants(session: Session, address: str, settings: Settings) -> set[str]:
    granted = set(session.scalars(select(WalletGrant.role).where(WalletGrant.address == address)))
    if address in settings.admin_address_set:
        granted.add(ADMIN_ROLE)
    return granted


def wallet_roles(session: Session, address: str, settings: Settings) -> frozenset[str]:
    """The scopes a wallet may hold: read + write, plus admin when it is an admin (settings or grant)."""
    return WALLET_SCOPES | ({ADMIN} if ADMIN_ROLE in _wallet_grants(session, address, settings) else set())


def principal_roles(session: Session, principal: Principal, settings: Settings) -> frozenset[str]:
    """The scopes ``principal`` may hold right now: a user's stored roles, a wallet's current roles."""
    if principal.kind == WALLET and principal.wallet_address:
        return wallet_roles(session, principal.wallet_address, settings)
    return parse_scopes(principal.roles)


def role_of(session: Session, principal: Principal, settings: Settings) -> str:
    """The principal's role: a user is an owner (admin with the admin scope); a wallet a contributor
    unless granted ``owner`` or ``admin``."""
    if principal.kind == WALLET and principal.wallet_address:
        granted = _wallet_grants(session, principal.wallet_address, settings)
        return ADMIN_ROLE if ADMIN_ROLE in granted else OWNER if OWNER in granted else CONTRIBUTOR
    return ADMIN_ROLE if ADMIN in parse_scopes(principal.roles) else OWNER


def grant_role(session: Session, address: str, role: str, *, granted_by: str | None) -> WalletGrant:
    """Grant ``role`` (``owner`` or ``admin``) to wallet ``address`` (idempotent)."""
    if role not in GRANTABLE_ROLES:
        raise InvalidInput(
            f"unknown role {role!r}; a wallet can be granted {' or '.join(GRANTABLE_ROLES)}",
            code="unknown_role",
        )
    grant = session.get(WalletGrant, (address, role))
    if grant is None:
        grant = WalletGrant(address=address, role=role, granted_at=utcnow(), granted_by=granted_by)
        session.add(grant)
        record_event(session, "role_granted", principal_id=granted_by, wallet_address=address,
                     resource=f"wallet:{address}", details={"role": role})  # fmt: skip
    return grant


def revoke_role(session: Session, address: str, role: str, *, revoked_by: str | None) -> None:
    """Remove a granted role; ``NotFound`` when there is none."""
    grant = session.get(WalletGrant, (address, role))
    if grant is None:
        raise NotFound(f"wallet {address} has no granted role {role!r}", code="grant_not_found")
    session.delete(grant)
    record_event(session, "role_revoked", principal_id=revoked_by, wallet_address=address,
                 resource=f"wallet:{address}", details={"role": role})  # fmt: skip


def list_grants(session: Session) -> list[WalletGrant]:
    return list(session.scalars(select(WalletGrant).order_by(WalletGrant.address, WalletGrant.role)))
