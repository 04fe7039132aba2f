"""EIP-4361 messages: the EIP's own example parses, our formatter round-trips, anything else is malformed."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from hokusai.errors import Unauthorized
from hokusai.siwe import SiweMessage, parse_siwe, recover_signer

EIP_EXAMPLE = (
    "service.org wants you to sign in with your Ethereum account:\n"
    "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2\n"
    "\n"
    "I accept the ServiceOrg Terms of Service: https://service.org/tos\n"
    "\n"
    "URI: https://service.org/login\n"
    "Version: 1\n"
    "Chain ID: 1\n"
    "Nonce: 32891756\n"
    "Issued At: 2021-09-30T16:25:24Z\n"
    "Resources:\n"
    "- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/\n"
    "- https://example.com/my-web2-claim.json"
)


def full_message(**overrides: object) -> SiweMessage:
    values: dict[str, object] = {
        "domain": "api.hokusai.test:8443", "address": "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2",
        "uri": "https://api.hokusai.test:8443/login", "chain_id": 137, "nonce": "abcDEF123456",
        "issued_at": datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC), "statement": "Sign in to Hokusai.",
        "expiration_time": datetime(2030, 1, 2, 4, 0, 0, tzinfo=UTC),
        "not_before": datetime(2030, 1, 2, 3, 4, 0, tzinfo=UTC), "request_id": "req-7",
        "resources": ("https://hokusai.test/models/1",), "scheme": "https",
    }  # fmt: skip
    values.update(overrides)
    return SiweMessage(**values)  # type: ignore[arg-type]


def test_the_eip_example_message_parses() -> None:
    message = parse_siwe(EIP_EXAMPLE)
    assert message.domain == "service.org"
    assert message.address == "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
    assert message.statement == "I accept the ServiceOrg Terms of Service: https://service.org/tos"
    assert message.nonce == "32891756" and message.chain_id == 1
    assert message.issued_at == datetime(2021, 9, 30, 16, 25, 24, tzinfo=UTC)
    assert message.expiration_time is None
    assert len(message.resources) == 2
    assert message.to_text() == EIP_EXAMPLE


@pytest.mark.parametrize("statement", ["Sign in to Hokusai.", None])
def test_format_and_parse_round_trip(statement: str | None) -> None:
    message = full_message(statement=statement)
    assert parse_siwe(message.to_text()) == message


def test_a_message_without_statement_may_omit_the_second_blank_line() -> None:
    text = full_message(statement=None).to_text().replace("\n\n\nURI:", "\n\nURI:")
    assert parse_siwe(text).statement is None


@pytest.mark.parametrize(
    ("mutate", "why"),
    [
        (lambda t: t.replace(" wants you to sign in", " would like you to sign in"), "first line"),
        (lambda t: t.replace("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2", "0xC02aaA39"), "address"),
        (lambda t: t.replace("Version: 1", "Version: 2"), "version"),
        (lambda t: t.replace("Chain ID: 137", "Chain ID: polygon"), "chain id"),
        (lambda t: t.replace("Nonce: abcDEF123456", "Nonce: abc"), "nonce"),
        (lambda t: t.replace("Issued At: 2030-01-02T03:04:05Z", "Issued At: yesterday"), "Issued At"),
        (
            lambda t: t.replace("Issued At: 2030-01-02T03:04:05Z", "Issued At: 2030-01-02T03:04:05"),
            "time zone",
        ),
        (lambda t: t.replace("\nNonce: abcDEF123456", ""), "Nonce"),
        (lambda t: t + "\nExtra: field", "unexpected"),
        (lambda t: t.replace("\n", "\r\n"), "CR"),
        (lambda t: t.replace("URI: https://api.hokusai.test:8443/login", "URI: "), "URI"),
    ],
)
def test_off_grammar_messages_are_message_malformed(mutate, why: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Unauthorized) as caught:
        parse_siwe(mutate(full_message().to_text()))
    assert caught.value.code == "message_malformed"
    assert why.lower() in caught.value.message.lower()


def test_recover_signer_names_the_wallet_that_signed() -> None:
    account = Account.create()
    text = full_message(address=account.address).to_text()
    signature = account.sign_message(encode_defunct(text=text)).signature.to_0x_hex()
    assert recover_signer(text, signature) == account.address
    assert recover_signer(text + " ", signature) != account.address


@pytest.mark.parametrize("signature", ["", "0x12", "0x" + "zz" * 65, "0x" + "00" * 65])
def test_malformed_signature_is_signature_malformed(signature: str) -> None:
    with pytest.raises(Unauthorized) as caught:
        recover_signer("hello", signature)
    assert caught.value.code == "signature_malformed"


def test_the_worked_example_in_the_api_guide_verifies() -> None:
    guide = (Path(__file__).resolve().parents[3] / "docs" / "api.md").read_text()
    fences = [part.split("\n```", 1)[0] for part in guide.split("```text\n")[1:]]
    (text,) = [fence for fence in fences if "wants you to sign in with your Ethereum account" in fence]
    (signed,) = [fence for fence in fences if fence.startswith("X-ETH-")]
    headers = dict(line.split(": ", 1) for line in signed.splitlines())
    assert base64.b64decode(headers["X-ETH-Message"]).decode() == text
    assert parse_siwe(text).domain == "api.hokusai.example"
    assert recover_signer(text, headers["X-ETH-Signature"]) == headers["X-ETH-Address"]
    assert Account.from_key("0x" + "11" * 32).address == headers["X-ETH-Address"]
