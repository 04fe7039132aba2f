"""Webhook building blocks: the signature, where a webhook may point, the retry schedule, secrets at rest
and the event's JSON Schema (real payloads are validated in tests/integration/resources/test_webhooks.py)."""

from __future__ import annotations

import copy
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from hokusai.config import Settings
from hokusai.errors import ConfigError, InvalidInput
from hokusai.server.services.webhooks import (
    check_url,
    delivery_headers,
    event_errors,
    event_schema,
    load_cipher,
    new_secret,
    retry_delay,
    signature,
)

EVENT = {
    "id": "0" * 32,
    "type": "deltaone.accepted",
    "created_at": "2025-01-02T03:04:05.678Z",
    "data": {
        "run_id": "r1", "model": "m1", "onchain_id": "7", "primary_metric": "auroc", "unit": "pp",
        "baseline_score": 0.9, "candidate_score": 0.95, "gain": 5.0, "ci_low": 1.0, "ci_high": 9.0,
        "delta_one_score": 5.0, "contributors": [{"wallet": "0x" + "ab" * 20, "weight_bps": 10000}],
        "attestation_id": "a1", "attestation_hash": "0x" + "1" * 64, "idempotency_key": "0x" + "2" * 64,
    },
}  # fmt: skip


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(data_dir=tmp_path, environment="test", **values)  # type: ignore[arg-type]


def test_the_signature_is_the_hmac_sha256_of_timestamp_dot_body_that_openssl_computes() -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed (the independent HMAC implementation)")
    body = b'{"data":{"run_id":"r1"},"id":"e1"}'
    made = subprocess.run(
        [openssl, "dgst", "-sha256", "-hmac", "whsec_test"], input=b"1700000000." + body,
        capture_output=True, check=True,
    ).stdout.decode()  # fmt: skip
    assert signature("whsec_test", "1700000000", body) == "sha256=" + made.split()[-1]


def test_each_attempt_carries_the_event_the_delivery_the_timestamp_and_the_signature() -> None:
    body = b"{}"
    headers = delivery_headers("whsec_x", "deltaone.accepted", "d1", body, 1700000000.9)
    assert headers["X-Hokusai-Event"] == "deltaone.accepted"
    assert headers["X-Hokusai-Delivery"] == "d1"
    assert headers["X-Hokusai-Timestamp"] == "1700000000"
    assert headers["X-Hokusai-Signature"] == signature("whsec_x", "1700000000", body)
    assert signature("whsec_y", "1700000000", body) != headers["X-Hokusai-Signature"]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:5000/api/2.0/mlflow/experiments/create", "a loopback address"),
        ("http://localhost/hook", "a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "a link-local (cloud metadata) address"),
        ("http://10.1.2.3/hook", "a private address"),
        ("http://192.168.0.10/hook", "a private address"),
        ("http://[::1]/hook", "a loopback address"),
        ("http://[::ffff:127.0.0.1]/hook", "a loopback address"),
        ("http://[fe80::1]/hook", "a link-local (cloud metadata) address"),
        ("http://0.0.0.0/hook", "an unspecified address"),
        ("http://224.0.0.1/hook", "a multicast address"),
        ("http://100.64.0.1/hook", "a non-public address"),
    ],
)
def test_a_url_whose_host_is_not_public_is_refused_with_the_reason(url: str, why: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_url(url, allow_private=False)
    assert refused.value.code == "webhook_url_refused"
    assert why in refused.value.message and "HOKUSAI_WEBHOOK_ALLOW_PRIVATE" in refused.value.message


@pytest.mark.parametrize(
    "url",
    [
        "ftp://93.184.216.34/x", "file:///etc/passwd", "93.184.216.34/hook", "http://u:p@93.184.216.34/",
        "http://93.184.216.34:99999/", "http://a\x00b/", "http://[::1",
    ],
)  # fmt: skip
def test_only_http_urls_with_a_host_and_without_credentials_are_webhooks(url: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_url(url, allow_private=True)
    assert refused.value.code == "webhook_url_refused"


def test_a_public_address_is_allowed_and_becomes_the_address_the_attempt_connects_to() -> None:
    target = check_url("https://93.184.216.34:8443/hook?x=1", allow_private=False)
    assert target.address == "93.184.216.34"


def test_the_setting_allows_loopback_for_tests_and_local_setups() -> None:
    assert check_url("http://127.0.0.1:9/hook", allow_private=True).address == "127.0.0.1"


def test_retries_back_off_exponentially_up_to_the_cap() -> None:
    assert [retry_delay(n, 1.0, 10.0) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_secrets_are_stored_encrypted_and_decrypt_with_the_same_key(tmp_path: Path) -> None:
    cipher = load_cipher(settings(tmp_path))
    secret = new_secret()
    stored = cipher.encrypt(secret)
    assert secret not in stored and secret.removeprefix("whsec_") not in stored
    assert load_cipher(settings(tmp_path)).decrypt(stored) == secret  # the key file is kept, not remade


def test_in_development_the_key_file_is_created_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    load_cipher(settings(tmp_path))
    key_file = tmp_path / "keys" / "webhook.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key_file.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_cipher(settings(tmp_path))


def test_the_configured_key_is_used_and_production_refuses_to_start_without_it(tmp_path: Path) -> None:
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    token = load_cipher(settings(tmp_path, webhook_key=key)).encrypt("whsec_s")
    again = Settings(data_dir=tmp_path / "other", environment="production", webhook_key=key)
    assert load_cipher(again).decrypt(token) == "whsec_s"
    assert not (tmp_path / "keys").exists()
    with pytest.raises(ConfigError, match="HOKUSAI_WEBHOOK_KEY"):
        load_cipher(Settings(data_dir=tmp_path, environment="production"))


def test_a_secret_that_the_key_does_not_open_is_a_config_error_not_a_crash(tmp_path: Path) -> None:
    token = load_cipher(settings(tmp_path / "a")).encrypt("whsec_s")
    with pytest.raises(ConfigError, match="HOKUSAI_WEBHOOK_KEY"):
        load_cipher(settings(tmp_path / "b")).decrypt(token)


def test_the_event_schema_is_a_valid_draft_2020_12_schema_and_accepts_a_complete_event() -> None:
    Draft202012Validator.check_schema(event_schema())
    assert event_errors(EVENT) == []


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda e: e["data"].pop("attestation_hash"), "data"),
        (lambda e: e["data"]["contributors"][0].update(weight_bps=10001), "data/contributors/0/weight_bps"),
        (lambda e: e["data"].update(onchain_id=7), "data/onchain_id"),
        (lambda e: e.update(type="deltaone.rejected"), "type"),
        (lambda e: e.update(created_at="yesterday"), "created_at"),
    ],
)
def test_the_event_schema_refuses_an_incomplete_or_wrong_event(change, where: str) -> None:  # type: ignore[no-untyped-def]
    event = copy.deepcopy(EVENT)
    change(event)
    errors = event_errors(event)
    assert errors and errors[0].startswith(where), errors
