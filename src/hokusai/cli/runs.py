"""``hokusai contribute`` and ``hokusai runs``: submit data and evaluations to a server, follow them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from hokusai.cli._client import (
    JsonOption,
    KeystoreOption,
    UrlOption,
    WalletOption,
    console,
    make_client,
)
from hokusai.cli.output import contribution_summary, emit, negative, run_summary

app = typer.Typer(help="Evaluation runs on a Hokusai server.", no_args_is_help=True)


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
    with make_client(url, keystore, wallet) as client:
        contribution = client.contributions.submit(
            model, file, signed_terms=(signed or {}).get("terms", signed), contributor_address=contributor,
            **{name: value for name, value in offer.items() if value is not None},
        )  # fmt: skip
    emit(contribution, as_json, contribution_summary)


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
    with make_client(url, keystore, wallet) as client:
        run = client.runs.submit(
            model,
            contribution,
            options={"threshold": threshold} if threshold is not None else None,
            idempotency_key=idempotency_key,
        )
        if wait:
            run = _wait(client, run.id, as_json)
    emit(run, as_json, run_summary)
    _exit_for(run)


@app.command("status")
def status(run_id: str, url: UrlOption = None, as_json: JsonOption = False) -> None:
    """A run's state, progress and (when done) result."""
    with make_client(url) as client:
        emit(client.runs.get(run_id), as_json, run_summary)


@app.command("wait")
def wait_for(
    run_id: str,
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds.")] = 1800,
    url: UrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Wait for a run to finish (progress bar); exit 1 if it failed."""
    with make_client(url) as client:
        run = _wait(client, run_id, as_json, timeout)
    emit(run, as_json, run_summary)
    _exit_for(run)


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
