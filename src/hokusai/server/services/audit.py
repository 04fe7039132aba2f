"""The audit log: one row per state change (models, datasets, contributions, runs, keys, grants, MLflow
writes through the proxy), sign-in, logout and authentication failure: who, what, on which resource."""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from hokusai.log import request_id_var
from hokusai.server.db.models import AuditEvent, utcnow

log = logging.getLogger("hokusai.audit")


def record_event(
    session: Session,
    event: str,
    *,
    principal_id: str | None = None,
    key_id: str | None = None,
    wallet_address: str | None = None,
    reason: str | None = None,
    resource: str | None = None,
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
            resource=resource,
            client_ip=client_ip,
            request_id=request_id_var.get(),
            details=details,
        )
    )


class AuditBuffer:
    """Audit rows collected on a hot path (MLflow writes through the proxy) and written in batches, so a
    logged metric does not wait for a database commit; ``flush`` runs every second and at shutdown."""

    def __init__(self, sessions: sessionmaker[Session], max_pending: int = 10_000) -> None:
        self.sessions = sessions
        self.max_pending = max_pending
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def add(self, event: str, **fields: Any) -> None:
        """Queue one row (``record_event``'s keyword arguments); the request id is taken now."""
        with self._lock:
            if len(self._pending) < self.max_pending:
                self._pending.append(
                    {"event": event, "at": utcnow(), "request_id": request_id_var.get(), **fields}
                )

    def flush(self) -> int:
        """Write what is queued in one transaction; returns how many rows were written."""
        with self._lock:
            batch, self._pending = self._pending, []
        if not batch:
            return 0
        try:
            with self.sessions() as session:
                session.add_all(AuditEvent(**row) for row in batch)
                session.commit()
        except Exception:  # keep them for the next flush rather than lose them
            log.exception("could not write %d audit rows; retrying at the next flush", len(batch))
            with self._lock:
                self._pending = batch + self._pending
            return 0
        return len(batch)
