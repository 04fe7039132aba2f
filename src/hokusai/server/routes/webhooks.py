"""``/api/v1/webhooks``: register a webhook (its signing secret is in this one response), list, delete, and
read a webhook's delivery log."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from hokusai import schemas
from hokusai.server.deps import Caller, SessionDep, StateDep
from hokusai.server.services.webhooks import (
    create_webhook,
    delete_webhook,
    list_deliveries,
    list_webhooks,
    webhook_view,
)

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


@router.post(
    "",
    status_code=201,
    response_model=schemas.Webhook,
    summary="Register a webhook (the signing secret is shown this once)",
)
def create(
    body: schemas.WebhookCreate, principal: Caller, session: SessionDep, state: StateDep
) -> JSONResponse:
    """201 with the webhook and its ``secret`` (only its encryption is stored). The URL must resolve to a
    public address (400 ``webhook_url_refused`` says why not)."""
    assert state.webhooks is not None
    row, secret = create_webhook(
        session, principal, state.settings, state.webhooks.cipher,
        url=body.url, model_name=body.model, events=body.events,
    )  # fmt: skip
    session.commit()
    view = webhook_view(session, row, secret=secret)
    return JSONResponse(
        view.model_dump(mode="json"), status_code=201, headers={"Location": f"/api/v1/webhooks/{row.id}"}
    )


@router.get("", response_model=schemas.WebhookList, summary="Your webhooks (admins: all)")
def index(principal: Caller, session: SessionDep) -> schemas.WebhookList:
    return schemas.WebhookList(
        webhooks=[webhook_view(session, row) for row in list_webhooks(session, principal)]
    )


@router.delete(
    "/{webhook_id}",
    response_model=schemas.Webhook,
    summary="Delete a webhook (its pending deliveries fail; its log stays)",
)
def delete(webhook_id: str, principal: Caller, session: SessionDep) -> schemas.Webhook:
    row = delete_webhook(session, principal, webhook_id)
    session.commit()
    return webhook_view(session, row)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=schemas.DeliveryList,
    summary="A webhook's deliveries and every attempt's outcome",
)
def deliveries(webhook_id: str, principal: Caller, session: SessionDep) -> schemas.DeliveryList:
    """Newest first: state (``pending``, ``delivered``, ``failed``), attempts, next attempt, last status and
    error, and ``log``: ``{at, status, error, duration_ms}`` per attempt."""
    return schemas.DeliveryList(deliveries=list_deliveries(session, principal, webhook_id))
