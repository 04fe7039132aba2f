"""``hokusai attest verify|get|mint-request``: check an attestation; fetch one; get or sign a mint request.

``verify`` (``--terms FILE``: also signed contribution terms) exits 0 when every check passes, 1 when one
fails (named in the output), 2 for unreadable input. The expected signer is ``--signer``, else a saved
copy of a platform's published signers
(``--signers FILE``, offline), else what the platform publishes (``--platform URL`` or ``HOKUSAI_URL``),
else this installation's own signer when its key is here. A platform's published signers are a history:
the document's recorded domain and signer must be among them (see ``hokusai.attestation.verify``).
``get`` downloads a document, its evaluation report and the platform's published signers (ready for
``verify --signers``).
``mint-request RUN_ID`` asks the server for an accepted run's signed mint request;
``mint-request --payload FILE …`` signs one offline with the given key files.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from hokusai.cli._client import Credential, JsonOption, KeystoreOption, UrlOption, WalletOption
from hokusai.cli.output import emit, next_step
from hokusai.errors import ConfigError, InvalidInput, NotFound

if TYPE_CHECKING:
    from hokusai.attestation.signing import PublishedSigner
    from hokusai.schemas import Signers

app = typer.Typer(help="Verify attestations, or fetch them from a server.")
out = Console()
REPORT_FILE = "evaluation_report.json"
SIGNERS_FILE = "signers.json"


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
    terms: Annotated[
        list[Path] | None,
        typer.Option(
            "--terms",
            help="Signed contribution terms (a contribution's JSON, or its terms object) to check against "
            "the attestation: their hash is recorded for a contribution its signer is paid for (repeat).",
        ),
    ] = None,
    signer: Annotated[
        str | None, typer.Option("--signer", help="Expected signer address (wins over the published ones).")
    ] = None,
    signers: Annotated[
        Path | None,
        typer.Option(
            "--signers",
            help="A saved copy of a platform's published signers (GET /api/v1/attestations/signers; "
            f"'attest get' writes {SIGNERS_FILE}): verify offline.",
        ),
    ] = None,
    platform: Annotated[
        str | None,
        typer.Option(
            "--platform", help="Check against the signers this platform publishes (else HOKUSAI_URL)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
) -> None:
    """Recompute the schema, run id, hash tree root, public-inputs hash, domain, signature, data hashes and
    the hashes and signers of contribution terms."""
    from hokusai.attestation.verify import verify_attestation

    document = read_json(file, "attestation")
    report_path = report or file.with_name(REPORT_FILE)
    companion = read_json(report_path, "evaluation report") if report or report_path.is_file() else None
    expected, history = expected_signers(signer, signers, platform)
    signed_terms = [_terms_of(read_json(path, "terms")) for path in terms or ()]
    verdict = verify_attestation(
        document,
        report=companion,
        data_paths=data or (),
        terms=signed_terms,
        signer=expected,
        published=history,
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


def _terms_of(value: dict[str, Any]) -> dict[str, Any]:
    """The signed terms in a terms file: the object itself, or a contribution's ``terms``."""
    terms = value.get("terms", value)
    if not isinstance(terms, dict) or "typed_data" not in terms or "signature" not in terms:
        raise InvalidInput("a terms file holds {typed_data, signature} (or a contribution with its terms)")
    return terms


@app.command("get")
def get(
    attestation_id: Annotated[str, typer.Argument(help="The attestation id (a run's attestation_id).")],
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for attestation.json and evaluation_report.json.")
    ] = Path("."),
    wallet: WalletOption = False,
    keystore: KeystoreOption = None,
    url: UrlOption = None,
) -> None:
    """Download an attestation, its evaluation report and the server's published signers (an accepted
    run's attestation is public; any other is its participants', who sign in with --wallet/--keystore)."""
    from hokusai.files import atomic_write_json

    with Credential(url, keystore, wallet).client() as client:
        document = client.attestations.get(attestation_id)
        report = client.attestations.report(attestation_id)
        published = client.attestations.signers().model_dump(mode="json")
    written = [atomic_write_json(out_dir / "attestation.json", document),
               atomic_write_json(out_dir / REPORT_FILE, report),
               atomic_write_json(out_dir / SIGNERS_FILE, published)]  # fmt: skip
    for path in written:
        out.print(str(path), soft_wrap=True)
    document_file, signers_file = (shlex.quote(str(written[i])) for i in (0, 2))
    next_step(f"hokusai attest verify {document_file} --signers {signers_file}")


def history_of(answer: Signers) -> list[PublishedSigner]:
    """The published signers as the verifier takes them: the history, and today's signers (a platform
    from before the history lists only those)."""
    from hokusai.attestation.signing import PublishedSigner

    history = [PublishedSigner(**entry.model_dump()) for entry in answer.history]
    history += [
        PublishedSigner(address, answer.chain_id, answer.verifying_contract) for address in answer.signers
    ]
    return history


def published(url: str) -> list[PublishedSigner]:
    """Every signer and domain a platform has published."""
    from pydantic import ValidationError

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
    return history_of(answer)


def saved_signers(path: Path) -> list[PublishedSigner]:
    """The published signers from a saved ``GET /api/v1/attestations/signers`` answer."""
    from pydantic import ValidationError

    from hokusai.schemas import Signers

    try:
        return history_of(Signers.model_validate(read_json(path, "signers file")))
    except ValidationError as exc:
        raise InvalidInput(
            f"signers file {path} is not a GET /api/v1/attestations/signers answer: "
            f"{exc.errors()[0]['msg']} at {'.'.join(map(str, exc.errors()[0]['loc']))}"
        ) from None


def expected_signers(
    signer: str | None, signers_file: Path | None, platform: str | None
) -> tuple[str | None, list[PublishedSigner] | None]:
    """Who must have signed: ``--signer`` (under the recorded domain), else a platform's published history
    (``--signers FILE``, else ``--platform``/``HOKUSAI_URL``), else this installation's own signer."""
    from hokusai.attestation.signing import load_signer
    from hokusai.config import load_settings

    if signer:
        return signer, None
    if signers_file is not None:
        return None, saved_signers(signers_file)
    url = platform or os.environ.get("HOKUSAI_URL")
    if url:
        return None, published(url)
    try:
        return load_signer(load_settings(), create=False).address, None
    except ConfigError:
        raise InvalidInput(
            "no signer to check against: set HOKUSAI_URL or pass --platform URL (the platform's published "
            "signers), --signers FILE (a saved copy of them), or name the signer with --signer 0x…"
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
        with Credential(url, keystore, wallet).client() as client:
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
