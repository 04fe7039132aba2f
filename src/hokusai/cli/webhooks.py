"""``hokusai webhooks``: register, list and delete a server's webhooks, and read their delivery logs."""

from __future__ import annotations

from typing import Annotated

import typer

from hokusai.cli._client import JsonOption, UrlOption, make_client
from hokusai.cli.output import emit, next_step, table

app = typer.Typer(help="Webhooks: acceptance events sent to your receivers.", no_args_is_help=True)


@app.command("create")
def create(
    url: Annotated[str, typer.Argument(help="The receiver: a public http(s) URL.")],
    model: Annotated[str | None, typer.Option(help="Only this model's events (else all yours).")] = None,
    server: UrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a webhook; its signing secret is printed this once."""
    with make_client(server) as client:
        hook = client.webhooks.create(url, model=model)
    typer.echo("the signing secret is shown only this once: store it with your receiver", err=True)
    emit(hook, as_json)
    if not as_json:
        next_step(f"hokusai webhooks deliveries {hook.id}")


@app.command("list")
def index(server: UrlOption = None, as_json: JsonOption = False) -> None:
    """Your webhooks."""
    with make_client(server) as client:
        hooks = client.webhooks.list()
    if as_json:
        emit([h.model_dump(mode="json") for h in hooks], True)
        return
    rows = ((h.id, h.url, h.model or "(all)", ", ".join(h.events)) for h in hooks)
    table(["id", "url", "model", "events"], rows)


@app.command("delete")
def delete(webhook_id: str, server: UrlOption = None, as_json: JsonOption = False) -> None:
    """Delete a webhook (its delivery log stays readable)."""
    with make_client(server) as client:
        emit(client.webhooks.delete(webhook_id), as_json)


@app.command("deliveries")
def deliveries(webhook_id: str, server: UrlOption = None, as_json: JsonOption = False) -> None:
    """A webhook's deliveries, newest first, with their attempts."""
    with make_client(server) as client:
        found = client.webhooks.deliveries(webhook_id)
    if as_json:
        emit([d.model_dump(mode="json") for d in found], True)
        return
    table(
        ["delivery", "run", "state", "attempts", "last status", "last error"],
        ((d.id, d.run_id, d.state, d.attempts, d.last_status, d.last_error) for d in found),
    )
