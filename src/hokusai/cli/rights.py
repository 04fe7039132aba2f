"""``hokusai me export``, ``hokusai withdraw`` and ``hokusai data retention``: a contributor's rights over
their data on a Hokusai server (docs/data-rights.md)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from hokusai.cli._client import (
    Credential,
    JsonOption,
    KeystoreOption,
    UrlOption,
    WalletOption,
    console,
    make_client,
)
from hokusai.cli.output import emit

me = typer.Typer(help="What the server holds about you.", no_args_is_help=True)


@me.command("export")
def export(
    output: Annotated[Path, typer.Option("-o", "--output", help="The zip archive to write.")],
    wallet: WalletOption = False,
    keystore: KeystoreOption = None,
    url: UrlOption = None,
) -> None:
    """Download everything the server holds about you as one zip archive."""
    with Credential(url, keystore, wallet).client() as client:
        written = client.export(output)
    console.print(f"wrote {written} ({written.stat().st_size} bytes)")


def withdraw(
    contribution: Annotated[str, typer.Argument(help="The contribution id.")],
    wallet: WalletOption = False,
    keystore: KeystoreOption = None,
    url: UrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Withdraw your contribution: every copy of its raw data is deleted (hashes and attestations stay)."""
    with Credential(url, keystore, wallet).client() as client:
        answer = client.contributions.withdraw(contribution)
    emit(answer, as_json, _withdrawn)


def _withdrawn(data: Mapping[str, Any]) -> None:
    console.print(f"withdrawn: {data['contribution']['id']} (raw data deleted)")
    for version in data["model_versions"]:
        console.print(f"trained on it (accepted, stays): {version}")
    for reason in data["kept"]["reasons"]:
        console.print(f"kept: {reason}")


def retention(
    dry_run: Annotated[bool, typer.Option(help="List what is due; delete nothing.")] = False,
    url: UrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """(Admins) delete raw contributions past retention now, or list them with --dry-run."""
    with make_client(url) as client:
        swept = client.contributions.retention(dry_run=dry_run)
    if as_json:
        emit(swept, True)
        return
    verb = "would delete" if dry_run else "deleted"
    for item in swept.items:
        console.print(
            f"{verb}: {item.contribution_id} ({item.model}, {item.data_hash[:12]}…, due {item.due_at})"
        )
    console.print(f"{len(swept.items)} contribution(s)")
