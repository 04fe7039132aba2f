"""``hokusai attest verify|get|mint-request``: check an attestation; fetch one; get or sign a mint request.

``verify`` exits 0 when every check passes, 1 when one fails (named in the output), 2 for unreadable
input. The expected signer is ``--signer``, else the platform's published signers (``--platform URL``
or ``HOKUSAI_URL``), else this installation's own signer when its key is here.
``get`` downloads a document and its evaluation report from a server (ready for ``verify``).
``mint-request RUN_ID`` asks the server for an accepted run's signed mint request;
``mint-request --payload FILE …`` signs one offline with the given key files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from hokusai.cli._client import JsonOption, KeystoreOption, UrlOption, WalletOption, make_client
from hokusai.cli.output import emit
from hokusai.errors import ConfigError, InvalidInput, NotFound

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
        str | None, typer.Option("--signer", help="Expected signer address (wins over the published ones).")
    ] = None,
    platform: Annotated[
        str | None,
        typer.Option(
            "--platform", help="Check against the signers this platform publishes (else HOKUSAI_URL)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
) -> None:
    """Recompute the schema, run id, hash tree root, public-inputs hash, domain, signature and data hashes."""
    from hokusai.attestation.verify import verify_attestation

    document = read_json(file, "attestation")
    report_path = report or file.with_name(REPORT_FILE)
    companion = read_json(report_path, "evaluation report") if report or report_path.is_file() else None
    expected, domain = expected_signers(signer, platform)
    verdict = verify_attestation(
        document, report=companion, data_paths=data or (), signer=expected, expected_domain=domain
    )
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


def published(url: str) -> tuple[list[str], dict[str, Any]]:
    """The signer addresses a platform publishes and the attestation domain they sign under."""
    from pydantic import ValidationError

    from hokusai.attestation.signing import attestation_domain
    from hokusai.client import Client

    with Client(url=url) as client:
        try:
            answer = client.attestations.signers()
        except NotFound:
            raise InvalidInput(
                f"{url} publishes no signer set (GET /api/v1/attestations/signers: 404); "
                "name the signer with --signer 0x…"
            ) from None
        except ValidationError:
            raise InvalidInput(f"{url} publishes no signer set (GET /api/v1/attestations/signers)") from None
    return answer.signers, attestation_domain(answer.chain_id, answer.verifying_contract)


def expected_signers(
    signer: str | None, platform: str | None
) -> tuple[str | list[str], dict[str, Any] | None]:
    """Who must have signed, and under which domain: ``--signer``, else the published set, else ours."""
    from hokusai.attestation.signing import load_signer
    from hokusai.config import load_settings

    if signer:
        return signer, None
    url = platform or os.environ.get("HOKUSAI_URL")
    if url:
        return published(url)
    try:
        return load_signer(load_settings(), create=False).address, None
    except ConfigError:
        raise InvalidInput(
            "no signer to check against: set HOKUSAI_URL or pass --platform URL (the platform's published "
            "signers), or name the signer with --signer 0x…"
        ) from None


@app.command("mint-request")
def mint_request(
    run_id: Annotated[
        str | None, typer.Argument(help="An accepted run's id: its mint request from the server.")
    ] = None,
    payload: Annotated[
        Path | None, typer.Option("--payload", help="Sign offline: a JSON file with the flat payload fields.")
    ] = None,
    chain_id: Annotated[int | None, typer.Option("--chain-id", help="Offline: the chain id.")] = None,
    verifying_contract: Annotated[
        str | None, typer.Option("--verifying-contract", help="Offline: the DeltaVerifier address.")
    ] = None,
    key_files: Annotated[
        list[Path] | None,
        typer.Option("--key-file", help="Offline: an attester key file (0x-hex key, mode 0600; repeat)."),
    ] = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the mint request to this file.")
    ] = None,
    url: UrlOption = None,
    keystore: KeystoreOption = None,
    wallet: WalletOption = False,
    as_json: JsonOption = False,
) -> None:
    """The signed mint request ({domain, types, message, typedDataDigest, signatures, submitCalldata})."""
    offline = {
        "--payload": payload, "--chain-id": chain_id, "--verifying-contract": verifying_contract,
        "--key-file": key_files or None,
    }  # fmt: skip
    given = [flag for flag, value in offline.items() if value is not None]
    if run_id is not None:
        if given:
            raise InvalidInput(f"give RUN_ID or --payload, not both ({', '.join(given)} with RUN_ID)")
        with make_client(url, keystore, wallet) as client:
            request = client.runs.mint_request(run_id).model_dump()
    else:
        missing = [flag for flag in offline if flag not in given]
        if payload is None or missing:
            raise InvalidInput(
                "give an accepted run's RUN_ID, or sign offline with --payload FILE --chain-id N "
                f"--verifying-contract 0x… --key-file F (missing: {', '.join(missing)})"
            )
        if url is not None or keystore is not None or wallet:
            raise InvalidInput(
                "--url, --keystore and --wallet are for RUN_ID; offline signing talks to no server"
            )
        request = sign_offline(payload, chain_id, verifying_contract, key_files or [])  # type: ignore[arg-type]
    if out_file is not None:
        from hokusai.files import atomic_write_json

        out.print(str(atomic_write_json(out_file, request)))
        return
    emit(request, as_json)


def sign_offline(
    payload: Path, chain_id: int, verifying_contract: str, key_files: list[Path]
) -> dict[str, Any]:
    """Sign a payload file with every key file (threshold = their number)."""
    from hokusai.attestation.attesters import AttesterSet, local_attesters
    from hokusai.attestation.mint import mint_request as build
    from hokusai.attestation.mint import parse_payload

    fields = parse_payload(read_json(payload, "mint payload"))
    attesters = AttesterSet(tuple(local_attesters(key_files)), threshold=len(key_files))
    return build(fields, attesters, chain_id=chain_id, verifying_contract=verifying_contract)
