"""``hokusai attest verify|get``: check an attestation by recomputing everything in it; fetch one.

Exit 0 when every check passes, 1 when one fails (named in the output), 2 for unreadable input.
``get`` downloads a document and its evaluation report from a server (ready for ``verify``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from hokusai.errors import InvalidInput, NotFound

app = typer.Typer(help="Verify attestations, or fetch them from a server.")
out = Console()
REPORT_FILE = "evaluation_report.json"


def read_json(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from ``path`` or one clear error."""
    if not path.is_file():
        raise NotFound(f"{what} {path} does not exist")
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{what} {path} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} {path} is not a JSON object")
    return value


@app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(help="The attestation JSON file.")],
    report: Annotated[
        Path | None,
        typer.Option("--report", help=f"Its evaluation report (default: {REPORT_FILE} beside FILE)."),
    ] = None,
    data: Annotated[
        list[Path] | None, typer.Option("--data", help="A data file whose hash must be attested (repeat).")
    ] = None,
    signer: Annotated[
        str | None, typer.Option("--signer", help="Expected signer address (default: this installation's).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
) -> None:
    """Recompute the schema check, run id, hash tree root, public-inputs hash, signature and data hashes."""
    from hokusai.attestation.signing import load_signer
    from hokusai.attestation.verify import verify_attestation
    from hokusai.config import load_settings

    document = read_json(file, "attestation")
    report_path = report or file.with_name(REPORT_FILE)
    companion = read_json(report_path, "evaluation report") if report or report_path.is_file() else None
    expected = signer or load_signer(load_settings(), create=False).address
    verdict = verify_attestation(document, report=companion, data_paths=data or (), signer=expected)
    if as_json:
        out.print_json(json.dumps(verdict.to_dict()))
    else:
        table = Table(title=f"{file.name}: {'VALID' if verdict.valid else 'NOT VALID'}")
        for column in ("check", "result", "reason"):
            table.add_column(column)
        for check in verdict.checks:
            table.add_row(check.name, "[green]ok[/]" if check.ok else "[red]FAILED[/]", check.reason)
        out.print(table)
    if not verdict.valid:
        raise typer.Exit(1)


@app.command("get")
def get(
    attestation_id: Annotated[str, typer.Argument(help="The attestation id (a run's attestation_id).")],
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for attestation.json and evaluation_report.json.")
    ] = Path("."),
    url: Annotated[
        str | None, typer.Option("--url", help="Server URL (else HOKUSAI_URL, config file).")
    ] = None,
) -> None:
    """Download an attestation and its evaluation report from a server."""
    from hokusai.client import Client
    from hokusai.files import atomic_write_json

    with Client(url=url) as client:
        document = client.attestations.get(attestation_id)
        report = client.attestations.report(attestation_id)
    written = [atomic_write_json(out_dir / "attestation.json", document),
               atomic_write_json(out_dir / REPORT_FILE, report)]  # fmt: skip
    for path in written:
        out.print(str(path))
