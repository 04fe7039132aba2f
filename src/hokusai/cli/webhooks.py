"""``hokusai webhooks``: register, list and delete a server's webhooks, and read their delivery logs."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from hokusai.cli._client import JsonOption, UrlOption, console, emit, make_client

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
    console.print("the signing secret is shown only this once: store it with your receiver")
    emit(hook, as_json)


@app.command("list")
def index(server: UrlOption = None, as_json: JsonOption = False) -> None:
    """Your webhooks."""
    with make_client(server) as client:
        hooks = client.webhooks.list()
    if as_json:
        emit([h.model_dump() for h in hooks], True)
        return
    table = Table("id", "url", "model", "events")
    for hook in hooks:
        table.add_row(hook.id, hook.url, hook.model or "(all)", ", ".join(hook.events))
    console.print(table)


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
        emit(found, True)
        return
    table = Table("delivery", "run", "state", "attempts", "last status", "last error")
    for d in found:
        table.add_row(d["id"], d["run_id"] or "", d["state"], str(d["attempts"]),
                      str(d["last_status"] or ""), d["last_error"] or "")  # fmt: skip
    console.print(table)
