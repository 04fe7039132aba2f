"""``hokusai contribute``, ``hokusai runs`` and ``hokusai contributions``: submit data and evaluations to a
server, follow them. Every command here takes ``--wallet``/``--keystore``: a contributor's whole journey."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from hokusai.cli._client import (
    Credential,
    JsonOption,
    KeystoreOption,
    UrlOption,
    WalletOption,
    console,
)
from hokusai.cli.output import contribution_summary, emit, negative, run_summary, table

app = typer.Typer(help="Evaluation runs on a Hokusai server.", no_args_is_help=True)
contributions_app = typer.Typer(help="Contributions on a Hokusai server.", no_args_is_help=True)


def contribute(
    file: Annotated[Path, typer.Argument(help="The data file to contribute.")],
    model: Annotated[str, typer.Option(help="The model to contribute to.")],
    license: Annotated[
        str | None,
        typer.Option(
            "--license", help="The data's licence: an SPDX id, or sha256:<hex> of a terms text [CC-BY-4.0]."
        ),
    ] = None,
    commercial_use: Annotated[
        bool | None, typer.Option("--commercial-use/--no-commercial-use", help="Allow commercial use [yes].")
    ] = None,
    derivatives: Annotated[
        bool | None,
        typer.Option(
            "--derivatives/--no-derivatives", help="Allow derived works, e.g. trained models [yes]."
        ),
    ] = None,
    attribution: Annotated[
        bool | None, typer.Option("--attribution/--no-attribution", help="Require attribution [yes].")
    ] = None,
    valid_for: Annotated[
        int | None, typer.Option("--valid-for", min=1, help="Seconds the signed offer stays valid [3600].")
    ] = None,
    terms: Annotated[
        Path | None,
        typer.Option(
            "--terms", help="Terms the contributor's wallet signed elsewhere ({typed_data, signature})."
        ),
    ] = None,
    contributor: Annotated[str | None, typer.Option(help="Admin only: credit this wallet.")] = None,
    wallet: WalletOption = False,
    keystore: KeystoreOption = None,
    url: UrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Upload a data file to a model under terms your wallet signs (EIP-712 ContributionTerms: the licence,
    commercial use, derivatives, attribution); it is validated and credited to your wallet."""
    from hokusai.cli.attest import read_json

    signed = read_json(terms, "terms") if terms is not None else None
    offer = {"license": license, "commercial_use": commercial_use, "derivatives": derivatives,
             "attribution": attribution, "valid_for": valid_for}  # fmt: skip
    credential = Credential(url, keystore, wallet)
    with credential.client() as client:
        contribution = client.contributions.submit(
            model, file, signed_terms=(signed or {}).get("terms", signed), contributor_address=contributor,
            **{name: value for name, value in offer.items() if value is not None},
        )  # fmt: skip
    emit(contribution, as_json, partial(contribution_summary, credential=credential))


@contributions_app.command("list")
def list_contributions(
    model: Annotated[str, typer.Option(help="The model whose contributions to list.")],
    wallet: WalletOption = False,
    keystore: KeystoreOption = None,
    url: UrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """A model's contributions you may read (a wallet: its own; the owner: all)."""
    with Credential(url, keystore, wallet).client() as client:
        found = client.contributions.list(model)
    if as_json:
        emit([c.model_dump(mode="json") for c in found], True)
        return
    table(["id", "wallet", "data hash", "rows", "created"],
          [(c.id, c.contributor_address, c.data_hash, c.dataset.row_count, c.created_at)
           for c in found])  # fmt: skip


@contributions_app.command("show")
def show_contribution(
    contribution_id: str,
    wallet: WalletOption = False,
    keystore: KeystoreOption = None,
    url: UrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """One contribution: its wallet, data hash and validation."""
    credential = Credential(url, keystore, wallet)
    with credential.client() as client:
        contribution = client.contributions.get(contribution_id)
    emit(contribution, as_json, partial(contribution_summary, credential=credential))


@app.command("submit")
def submit(
    model: Annotated[str, typer.Option(help="The model to evaluate against.")],
    contribution: Annotated[list[str], typer.Option(help="Contribution id (repeat for several).")],
    threshold: Annotated[
        float | None,
        typer.Option(help="DeltaOne threshold in the primary metric's delta units (the model's owner only)."),
    ] = None,
    idempotency_key: Annotated[str | None, typer.Option(help="Retry-safe key for this submission.")] = None,
    wait: Annotated[bool, typer.Option(help="Wait for the run to finish.")] = False,
    wallet: WalletOption = False,
    keystore: KeystoreOption = None,
    url: UrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Queue an evaluation of contributions against a model."""
    credential = Credential(url, keystore, wallet)
    with credential.client() as client:
        run = client.runs.submit(
            model,
            contribution,
            options={"threshold": threshold} if threshold is not None else None,
            idempotency_key=idempotency_key,
        )
        if wait:
            run = _wait(client, run.id, as_json)
    emit(run, as_json, partial(run_summary, credential=credential))
    _exit_for(run)


@app.command("status")
def status(
    run_id: str,
    wallet: WalletOption = False,
    keystore: KeystoreOption = None,
    url: UrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """A run's state, progress and (when done) result."""
    credential = Credential(url, keystore, wallet)
    with credential.client() as client:
        emit(client.runs.get(run_id), as_json, partial(run_summary, credential=credential))


@app.command("wait")
def wait_for(
    run_id: str,
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds.")] = 1800,
    wallet: WalletOption = False,
    keystore: KeystoreOption = None,
    url: UrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Wait for a run to finish (progress bar); exit 1 if it failed."""
    credential = Credential(url, keystore, wallet)
    with credential.client() as client:
        run = _wait(client, run_id, as_json, timeout)
    emit(run, as_json, partial(run_summary, credential=credential))
    _exit_for(run)


@app.command("list")
def list_runs(
    model: Annotated[str, typer.Option(help="The model whose runs to list.")],
    wallet: WalletOption = False,
    keystore: KeystoreOption = None,
    url: UrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """A model's runs you may read (a wallet: the runs of its contributions; the owner: all), newest first."""
    with Credential(url, keystore, wallet).client() as client:
        found = client.runs.list(model)
    if as_json:
        emit([r.model_dump(mode="json") for r in found], True)
        return
    table(["id", "state", "outcome", "contributions", "attestation", "created"],
          [(r.id, r.state, r.outcome, ", ".join(r.contributions), r.attestation_id, r.created_at)
           for r in found])  # fmt: skip


def _wait(client, run_id: str, quiet: bool, timeout: float = 1800):
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=quiet) as bar:
        task = bar.add_task(f"run {run_id}", total=1.0)

        def show(run) -> None:
            progress = run.progress
            done = ((progress and progress.index) or 0) / ((progress and progress.total) or 1)
            step = progress.step if progress else ""
            bar.update(task, completed=1.0 if run.finished else done,
                       description=f"run {run_id}: {run.state} {step}")  # fmt: skip

        return client.runs.wait(run_id, timeout=timeout, on_progress=show)


def _exit_for(run) -> None:
    """A run that failed ends the command with exit 1 (its verdict is known and negative), one line."""
    if run.state == "failed":
        error = run.error
        negative(f"run {run.id} failed: {error and error.message}")
