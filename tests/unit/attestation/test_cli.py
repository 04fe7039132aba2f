"""``hokusai attest mint-request`` (offline, and from a server); ``attest verify`` against published signers.

The two endpoints (``GET /api/v1/runs/{id}/mint-request``, ``GET /api/v1/attestations/signers``) are
the lead's; until they exist, a tiny HTTP server on loopback serves what this package's library
functions build (``mint_request``, ``published_signers``), so the CLI's side is what is tested here.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from hokusai.attestation.attesters import AttesterSet, LocalAttester, published_signers
from hokusai.attestation.mint import mint_request, parse_payload
from hokusai.cli import main
from hokusai.config import Settings
from tests.unit.attestation.conftest import KEY, Sealed
from tests.unit.attestation.test_mint import KAT_CONTRACT, KAT_PAYLOAD

KEYS = ["0x" + f"{i:02x}" * 32 for i in (0x21, 0x42)]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exited:
        code = int(exited.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(autouse=True)
def _no_platform(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("HOKUSAI_URL", "HOKUSAI_API_KEY", "HOKUSAI_SIGNER_KEY", "HOKUSAI_ATTESTER_KEY_FILES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("HOKUSAI_DATA_DIR", str(tmp_path / "nothing-here"))


@pytest.fixture
def key_files(tmp_path: Path) -> list[Path]:
    files = []
    for i, key in enumerate(KEYS):
        path = tmp_path / f"attester{i}.key"
        path.write_text(key + "\n")
        os.chmod(path, 0o600)
        files.append(path)
    return files


@pytest.fixture
def payload_file(tmp_path: Path) -> Path:
    path = tmp_path / "payload.json"
    path.write_text(json.dumps({**KAT_PAYLOAD, "deadline": 4_102_444_800}))  # 2100-01-01
    return path


class Served:
    """A loopback HTTP server answering GET paths with fixed JSON bodies (404 otherwise)."""

    def __init__(self) -> None:
        self.routes: dict[str, Any] = {}
        self.seen: list[str] = []
        routes, seen = self.routes, self.seen

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append(self.path)
                found = self.path in routes
                body = json.dumps(
                    routes[self.path] if found else {"error": {"code": "not_found", "message": "no"}}
                )
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def served() -> Iterator[Served]:
    server = Served()
    yield server
    server.server.shutdown()
    server.server.server_close()


def _offline_args(payload_file: Path, key_files: list[Path]) -> list[str]:
    args = ["attest", "mint-request", "--payload", str(payload_file), "--chain-id", "31337"]
    args += ["--verifying-contract", KAT_CONTRACT]
    for path in key_files:
        args += ["--key-file", str(path)]
    return args


def test_offline_signing_prints_the_same_object_the_library_builds(
    payload_file: Path, key_files: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run([*_offline_args(payload_file, key_files), "--json"], capsys)
    assert code == 0, err
    attesters = AttesterSet(tuple(LocalAttester(Account.from_key(k)) for k in KEYS), threshold=2)
    payload = parse_payload(json.loads(payload_file.read_text()))
    assert json.loads(out) == mint_request(
        payload, attesters, chain_id=31337, verifying_contract=KAT_CONTRACT
    )
    assert len(json.loads(out)["signatures"]) == 2


def test_offline_signing_writes_the_request_to_out(
    payload_file: Path, key_files: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "request.json"
    code, out, _ = run([*_offline_args(payload_file, key_files[:1]), "--out", str(target)], capsys)
    assert code == 0 and out.strip() == str(target)
    assert set(json.loads(target.read_text())) == {
        "domain", "types", "primaryType", "message", "typedDataDigest", "signatures", "signerAddresses",
        "submitCalldata",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("drop", "needle"),
    [("--chain-id", "missing: --chain-id"), ("--key-file", "missing: --key-file")],
)
def test_offline_signing_without_a_flag_it_needs_is_one_line_and_exit_2(
    payload_file: Path, key_files: list[Path], capsys: pytest.CaptureFixture[str], drop: str, needle: str
) -> None:
    args = _offline_args(payload_file, key_files)
    while drop in args:
        i = args.index(drop)
        del args[i : i + 2]
    code, _, err = run(args, capsys)
    assert code == 2 and needle in err and err.count("\n") == 1


def test_a_payload_the_contract_would_refuse_is_not_signed(
    tmp_path: Path, key_files: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**KAT_PAYLOAD, "deadline": 4_102_444_800, "candidateScoreBps": 12_000}))
    code, out, err = run(_offline_args(bad, key_files), capsys)
    assert code == 2 and out == ""
    assert "candidateScoreBps 12000 exceeds 10000 bps" in err and err.count("\n") == 1


def test_a_run_id_and_a_payload_together_are_refused(
    payload_file: Path, key_files: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run([*_offline_args(payload_file, key_files), "hk-1"], capsys)
    assert code == 2 and "not both" in err


def test_a_runs_mint_request_comes_from_the_server_and_is_written_to_out(
    served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    attesters = AttesterSet(tuple(LocalAttester(Account.from_key(k)) for k in KEYS), threshold=2)
    request = mint_request(
        parse_payload({**KAT_PAYLOAD, "deadline": 4_102_444_800}),
        attesters,
        chain_id=31337,
        verifying_contract=KAT_CONTRACT,
    )  # what the platform answers: the same builder
    served.routes["/api/v1/runs/hk-42/mint-request"] = request
    target = tmp_path / "mint.json"
    code, _, err = run(["attest", "mint-request", "hk-42", "--url", served.url, "--out", str(target)], capsys)
    assert code == 0, err
    assert json.loads(target.read_text()) == request
    code, _, err = run(["attest", "mint-request", "hk-unknown", "--url", served.url], capsys)
    assert code == 2 and err.count("\n") == 1  # the server's 404, one line
    served.routes["/api/v1/runs/hk-43/mint-request"] = {"typedDataDigest": "0x" + "ab" * 32}
    code, _, err = run(["attest", "mint-request", "hk-43", "--url", served.url], capsys)
    assert code == 3 and err.count("\n") == 1  # not a mint request: could not complete, one line
    assert "the server's answer is not a MintRequest" in err


def _write(sealed: Sealed, tmp_path: Path) -> Path:
    path = tmp_path / "attestation.json"
    path.write_text(json.dumps(sealed.document))
    (tmp_path / "evaluation_report.json").write_text(json.dumps(sealed.report))
    return path


def test_verify_checks_the_signer_against_the_platforms_published_set(
    sealed: Sealed, served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(data_dir=tmp_path)
    others = AttesterSet((LocalAttester(Account.create()),), 1)
    served.routes["/api/v1/attestations/signers"] = published_signers(
        settings,
        AttesterSet((LocalAttester(Account.create()), LocalAttester(Account.from_key(KEY))), 1),
    )
    attestation = _write(sealed, tmp_path)
    code, out, err = run(["attest", "verify", str(attestation), "--platform", served.url, "--json"], capsys)
    assert code == 0, out + err
    assert "one of the published signers" in out
    served.routes["/api/v1/attestations/signers"] = published_signers(settings, others)
    code, out, _ = run(["attest", "verify", str(attestation), "--platform", served.url, "--json"], capsys)
    assert code == 1
    assert [c["name"] for c in json.loads(out)["checks"] if not c["ok"]] == ["signer"]


def test_verify_uses_HOKUSAI_URL_and_pins_the_published_chain(
    sealed: Sealed,
    served: Served,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    signers = published_signers(
        Settings(data_dir=tmp_path, chain_id=137), AttesterSet((LocalAttester(Account.from_key(KEY)),), 1)
    )
    served.routes["/api/v1/attestations/signers"] = signers
    monkeypatch.setenv("HOKUSAI_URL", served.url)
    code, out, _ = run(["attest", "verify", str(_write(sealed, tmp_path)), "--json"], capsys)
    assert code == 1  # signed for chain 1, the platform says 137
    failed = {c["name"]: c["reason"] for c in json.loads(out)["checks"] if not c["ok"]}
    assert list(failed) == ["domain", "signer"]  # the signer was published for chain 137 only
    assert "never published" in failed["domain"] and "chain 137" in failed["domain"]
    assert served.seen == ["/api/v1/attestations/signers"]


def test_a_platform_that_publishes_no_signers_is_one_line_and_exit_2(
    sealed: Sealed, served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["attest", "verify", str(_write(sealed, tmp_path)), "--platform", served.url], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "publishes no signer set" in err and "--signer" in err


def test_verify_with_neither_a_platform_nor_a_signer_says_so_in_one_line(
    sealed: Sealed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["attest", "verify", str(_write(sealed, tmp_path))], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert "no signer to check against: set HOKUSAI_URL or pass --platform URL" in err and "--signer" in err
