"""``hokusai infra``: checks of an environment deployed with infrastructure/terraform."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from hokusai.errors import InvalidInput

if TYPE_CHECKING:  # boto3 (~0.2 s to import) loads only when the command runs
    from hokusai.infra import CheckResult

app = typer.Typer(help="Check a deployed environment (AWS).", no_args_is_help=True)


def _table(results: list[CheckResult]) -> Table:
    table = Table(title="Hokusai deployment checks")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for result in results:
        verdict = "[green]PASS[/]" if result.ok else "[bold red]FAIL[/]"
        table.add_row(result.name, verdict, result.detail)
    return table


@app.command()
def validate(
    terraform_dir: Annotated[
        Path | None,
        typer.Option(help="Read the outputs with `terraform output -json` in this (initialised) folder."),
    ] = None,
    outputs: Annotated[
        Path | None,
        typer.Option(help="Read the outputs from this file (what `terraform output -json` printed)."),
    ] = None,
    api_url: Annotated[
        str | None,
        typer.Option(
            envvar="HOKUSAI_URL", help="Check the API at this URL instead of the api_endpoint output."
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="HOKUSAI_API_KEY", help="API key for the MLflow proxy checks (prefer the variable)."
        ),
    ] = None,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds allowed for each request.")] = 10.0,
    json_output: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Check the API (/health, /ready), MLflow through the API's proxy, buckets, database, services, alarms.

    Exits 0 when every check passes, 1 when any fails.
    """
    from hokusai.infra import deployment_from_outputs, outputs_file, run_checks, terraform_outputs
    from hokusai.infra.checks import results_json

    if (terraform_dir is None) == (outputs is None):
        raise InvalidInput("pass exactly one of --terraform-dir DIR or --outputs FILE")
    raw = terraform_outputs(terraform_dir) if terraform_dir is not None else outputs_file(outputs)  # type: ignore[arg-type]
    deployment = deployment_from_outputs(raw).with_api_url(api_url)
    results = run_checks(deployment, api_key, timeout=timeout)
    failed = [result.name for result in results if not result.ok]
    if json_output:
        typer.echo(results_json(results))
    else:
        console = Console(width=max(Console().width, 120))
        console.print(_table(results))
        passed = len(results) - len(failed)
        summary = f"{passed} of {len(results)} checks passed"
        console.print(summary + (f"; failed: {', '.join(failed)}" if failed else ""), soft_wrap=True)
    if failed:
        raise typer.Exit(1)
