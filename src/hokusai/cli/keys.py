"""``hokusai keys``: API keys in the local platform database, for operators (no API call needed).

``create`` / ``rotate`` print the new key once; only its SHA-256 is stored. ``generate`` touches no
database: it prints a fresh key and the ``HOKUSAI_BOOTSTRAP_ADMIN_KEY_HASH`` line for a deployment.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from hokusai.errors import InvalidInput

if TYPE_CHECKING:  # the ORM and the settings load only when a keys command runs: other commands start fast
    from sqlalchemy.orm import Session

    from hokusai.config import Settings

app = typer.Typer(help="Manage API keys in the local platform database.", no_args_is_help=True)
SHOWN_ONCE = "store it now: it is shown only this once (only its SHA-256 is kept)"


def load_settings() -> Settings:
    """The platform settings (imported here, not at start-up: pydantic-settings is slow to import)."""
    from hokusai.config import load_settings as load

    return load()


@contextmanager
def _session(settings: Settings) -> Iterator[Session]:
    from hokusai.server.db import create_db_engine, session_factory, upgrade_database

    upgrade_database(str(settings.database_url))
    engine = create_db_engine(str(settings.database_url))
    try:
        with session_factory(engine)() as session:
            yield session
            session.commit()  # the command is the unit of work: all of it, or nothing if it raised
    finally:
        engine.dispose()


def _scopes(value: str) -> frozenset[str]:
    from hokusai.server.principal import parse_scopes

    try:
        return parse_scopes(value)
    except ValueError as exc:
        raise InvalidInput(f"--scopes: {exc}") from None


def _when(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"--expires-at {value!r} is not an ISO 8601 time like 2030-01-31T00:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        raise InvalidInput(f"--expires-at {value!r} needs a time zone (e.g. a trailing Z for UTC)")
    return parsed


@app.command()
def create(
    name: Annotated[str, typer.Option(help="What the key is for (e.g. 'ci').")],
    principal: Annotated[
        str | None, typer.Option(help="User principal the key belongs to, created if new. Default: NAME.")
    ] = None,
    scopes: Annotated[str, typer.Option(help="Comma list of read, write, admin.")] = "read,write",
    expires_at: Annotated[str | None, typer.Option(help="ISO 8601 expiry time with zone.")] = None,
    rate_limit: Annotated[int | None, typer.Option(min=1, help="Requests per minute for this key.")] = None,
) -> None:
    """Create a key and print it once."""
    from hokusai.server.services.keys import create_key

    settings = load_settings()
    with _session(settings) as session:
        created = create_key(
            session, actor=None, name=name, scopes=_scopes(scopes), live=settings.live_keys,
            principal_name=principal or name, expires_at=_when(expires_at), rate_limit_per_minute=rate_limit,
        )  # fmt: skip
        typer.echo(
            f"created key {created.row.id} for principal {principal or name} (scopes: {created.row.scopes})"
        )
        typer.echo(created.key)
        typer.echo(SHOWN_ONCE, err=True)


@app.command("list")
def list_(
    principal_id: Annotated[str | None, typer.Option(help="Only this principal's keys.")] = None,
) -> None:
    """List keys (metadata only: the secret is never stored)."""
    from sqlalchemy import select

    from hokusai.server.db.models import Principal
    from hokusai.server.services.keys import key_status, list_keys

    with _session(load_settings()) as session:
        rows = list_keys(session, actor=None, principal_id=principal_id)
        names = {p.id: p.name or p.wallet_address for p in session.scalars(select(Principal))}
        table = Table("id", "principal", "name", "scopes", "status", "created", "expires")
        for row in rows:
            expires = f"{row.expires_at:%Y-%m-%d %H:%M}" if row.expires_at else "-"
            owner = str(names.get(row.principal_id))
            created = f"{row.created_at:%Y-%m-%d %H:%M}"
            table.add_row(row.id, owner, row.name, row.scopes, key_status(row), created, expires)
        Console(width=160).print(table)


@app.command()
def revoke(key_id: Annotated[str, typer.Argument(help="The key's id (the part after hk_live_).")]) -> None:
    """Revoke a key now (API processes stop accepting it within HOKUSAI_AUTH_CACHE_SECONDS)."""
    from hokusai.server.services.keys import revoke_key

    with _session(load_settings()) as session:
        row = revoke_key(session, key_id, actor=None)
        typer.echo(f"revoked key {row.id} at {row.revoked_at:%Y-%m-%dT%H:%M:%SZ}")


@app.command()
def rotate(key_id: Annotated[str, typer.Argument(help="The key to replace.")]) -> None:
    """Issue a replacement key; the old one works for HOKUSAI_KEY_ROTATION_GRACE_SECONDS more."""
    from hokusai.server.services.keys import rotate_key

    settings = load_settings()
    with _session(settings) as session:
        created, old = rotate_key(session, key_id, actor=None, live=settings.live_keys,
                                  grace_seconds=settings.key_rotation_grace_seconds)  # fmt: skip
        assert old.expires_at is not None
        typer.echo(f"rotated key {old.id} -> {created.row.id}; the old key works until "
                   f"{old.expires_at:%Y-%m-%dT%H:%M:%SZ}")  # fmt: skip
        typer.echo(created.key)
        typer.echo(SHOWN_ONCE, err=True)


@app.command()
def generate(
    live: Annotated[
        bool | None,
        typer.Option("--live/--test", help="hk_live_ or hk_test_ (default: by HOKUSAI_ENVIRONMENT)."),
    ] = None,
) -> None:
    """Print a new key and its HOKUSAI_BOOTSTRAP_ADMIN_KEY_HASH line; no database is touched."""
    from hokusai.api_keys import generate_key

    new = generate_key(live=load_settings().live_keys if live is None else live)
    typer.echo(new.key)
    typer.echo(f"HOKUSAI_BOOTSTRAP_ADMIN_KEY_HASH={new.bootstrap_line}")
