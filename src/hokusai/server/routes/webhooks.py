"""``/api/v1/webhooks``: register a webhook (its signing secret is in this one response), list, delete, and
read a webhook's delivery log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from hokusai.server.deps import Caller, SessionDep, StateDep
from hokusai.server.services.webhooks import (
    EVENT_TYPES,
    create_webhook,
    delete_webhook,
    list_deliveries,
    list_webhooks,
    webhook_view,
)

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


class WebhookCreate(BaseModel):
    """Where to send events: a public http(s) URL, one of your models (or all of them), the event types."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2000, description="http:// or https:// URL of the receiver")
    model: str | None = Field(None, min_length=1, max_length=128, description="One of your models (else all)")
    events: list[str] = Field(
        default_factory=lambda: list(EVENT_TYPES), min_length=1, max_length=10,
        description=f"Event types: {', '.join(EVENT_TYPES)}",
    )  # fmt: skip


@router.post("", status_code=201, summary="Register a webhook (the signing secret is shown this once)")
def create(body: WebhookCreate, principal: Caller, session: SessionDep, state: StateDep) -> JSONResponse:
    """201 with the webhook and its ``secret`` (only its encryption is stored). The URL must resolve to a
    public address (400 ``webhook_url_refused`` says why not)."""
    assert state.webhooks is not None
    row, secret = create_webhook(
        session, principal, state.settings, state.webhooks.cipher,
        url=body.url, model_name=body.model, events=body.events,
    )  # fmt: skip
    session.commit()
    view = {**webhook_view(session, row), "secret": secret}
    return JSONResponse(view, status_code=201, headers={"Location": f"/api/v1/webhooks/{row.id}"})


@router.get("", summary="Your webhooks (admins: all)")
def index(principal: Caller, session: SessionDep) -> dict[str, Any]:
    return {"webhooks": [webhook_view(session, row) for row in list_webhooks(session, principal)]}


@router.delete("/{webhook_id}", summary="Delete a webhook (its pending deliveries fail; its log stays)")
def delete(webhook_id: str, principal: Caller, session: SessionDep) -> dict[str, Any]:
    row = delete_webhook(session, principal, webhook_id)
    session.commit()
    return webhook_view(session, row)


@router.get("/{webhook_id}/deliveries", summary="A webhook's deliveries and every attempt's outcome")
def deliveries(webhook_id: str, principal: Caller, session: SessionDep) -> dict[str, Any]:
    """Newest first: state (``pending``, ``delivered``, ``failed``), attempts, next attempt, last status and
    error, and ``log``: ``{at, status, error, duration_ms}`` per attempt."""
    return {"deliveries": list_deliveries(session, principal, webhook_id)}
