"""The security audit log: one row per key change, sign-in, logout and authentication failure."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from hokusai.log import request_id_var
from hokusai.server.db.models import AuditEvent, utcnow


def record_event(
    session: Session,
    event: str,
    *,
    principal_id: str | None = None,
    key_id: str | None = None,
    wallet_address: str | None = None,
    reason: str | None = None,
    client_ip: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an audit row to ``session`` (the caller commits it with the change it describes)."""
    session.add(
        AuditEvent(
            at=utcnow(),
            event=event,
            principal_id=principal_id,
            key_id=key_id,
            wallet_address=wallet_address,
            reason=reason,
            client_ip=client_ip,
            request_id=request_id_var.get(),
            details=details,
        )
    )
