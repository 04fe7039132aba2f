"""Wallet sign-in (EIP-4361 messages, EIP-191 signatures) against a running app on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import update

from hokusai.server.db import create_db_engine
from hokusai.server.db.models import SigninNonce
from tests.integration.api.conftest import (
    PROBE,
    Api,
    ApiFactory,
    assert_refused,
    siwe_message,
    wallet_headers,
)

pytestmark = pytest.mark.realparts


def probe(api: Api, headers: dict[str, str]) -> httpx.Response:
    return httpx.get(api.url + PROBE, headers=headers)


def test_nonce_endpoint_returns_a_fresh_nonce_expiring_in_10_minutes(api: Api) -> None:
    first, second = (httpx.get(f"{api.url}/api/v1/auth/nonce").json() for _ in range(2))
    assert first["nonce"] != second["nonce"]
    assert len(first["nonce"]) >= 8 and first["nonce"].isalnum()
    left = datetime.fromisoformat(first["expires_at"]) - datetime.now(UTC)
    assert timedelta(minutes=9) < left <= timedelta(minutes=10)
    assert first["domain"] == "hokusai.test"


def test_signed_message_authenticates_as_the_wallet_with_read_and_write(
    api: Api, wallet: LocalAccount
) -> None:
    headers = wallet_headers(wallet, siwe_message(wallet, api.nonce()))
    me = httpx.get(f"{api.url}/api/v1/me", headers=headers)
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["method"] == "wallet"
    assert body["wallet_address"] == wallet.address
    assert body["scopes"] == ["read", "write"]
    again = httpx.get(f"{api.url}/api/v1/me", headers=headers)  # the message works until it expires
    assert again.json()["id"] == body["id"]


def test_message_without_statement_is_accepted(api: Api, wallet: LocalAccount) -> None:
    headers = wallet_headers(wallet, siwe_message(wallet, api.nonce(), statement=None))
    assert probe(api, headers).status_code == 200


def test_replay_after_logout_is_rejected_with_401(api: Api, wallet: LocalAccount) -> None:
    headers = wallet_headers(wallet, siwe_message(wallet, api.nonce()))
    assert httpx.post(f"{api.url}/api/v1/auth/logout", headers=headers).status_code == 204
    assert_refused(probe(api, headers), 401, "nonce_revoked", api)


def test_message_for_another_domain_is_rejected_with_401(api: Api, wallet: LocalAccount) -> None:
    headers = wallet_headers(wallet, siwe_message(wallet, api.nonce(), domain="evil.example"))
    assert_refused(probe(api, headers), 401, "domain_mismatch", api)


def test_expired_message_is_rejected_with_401(api: Api, wallet: LocalAccount) -> None:
    past = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    message = siwe_message(wallet, api.nonce(), issued_at=past, expiration_time=past + timedelta(minutes=30))
    assert_refused(probe(api, wallet_headers(wallet, message)), 401, "message_expired", api)


def test_not_yet_valid_message_is_rejected_with_401(api: Api, wallet: LocalAccount) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    message = siwe_message(wallet, api.nonce(), not_before=now + timedelta(minutes=5))
    assert_refused(probe(api, wallet_headers(wallet, message)), 401, "message_not_yet_valid", api)


def test_message_valid_for_more_than_an_hour_is_rejected_with_401(api: Api, wallet: LocalAccount) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    message = siwe_message(wallet, api.nonce(), expiration_time=now + timedelta(hours=2))
    assert_refused(probe(api, wallet_headers(wallet, message)), 401, "message_lifetime_too_long", api)


def test_message_without_expiration_is_rejected_with_401(api: Api, wallet: LocalAccount) -> None:
    message = siwe_message(wallet, api.nonce(), expiration_time=None)
    assert_refused(probe(api, wallet_headers(wallet, message)), 401, "expiration_missing", api)


def test_wrong_checksum_address_is_rejected_with_401(api: Api, wallet: LocalAccount) -> None:
    headers = wallet_headers(wallet, siwe_message(wallet, api.nonce()))
    address = wallet.address
    index = next(i for i, c in enumerate(address) if i > 1 and c.isalpha())
    headers["X-ETH-Address"] = address[:index] + address[index].swapcase() + address[index + 1 :]
    assert_refused(probe(api, headers), 401, "bad_checksum", api)


def test_signature_from_another_wallet_is_rejected_with_401(api: Api, wallet: LocalAccount) -> None:
    intruder = Account.create()
    headers = wallet_headers(wallet, siwe_message(wallet, api.nonce()), signer=intruder)
    assert_refused(probe(api, headers), 401, "signature_mismatch", api)


def test_header_address_other_than_the_message_address_is_rejected_with_401(
    api: Api, wallet: LocalAccount
) -> None:
    other = Account.create()
    headers = wallet_headers(wallet, siwe_message(wallet, api.nonce()))
    headers["X-ETH-Address"] = other.address
    assert_refused(probe(api, headers), 401, "address_mismatch", api)


def test_nonce_not_issued_by_us_is_rejected_with_401(api: Api, wallet: LocalAccount) -> None:
    headers = wallet_headers(wallet, siwe_message(wallet, "madeUpNonce123"))
    assert_refused(probe(api, headers), 401, "nonce_unknown", api)


def test_nonce_is_bound_to_the_first_message_signed_with_it(api: Api, wallet: LocalAccount) -> None:
    nonce = api.nonce()
    assert probe(api, wallet_headers(wallet, siwe_message(wallet, nonce))).status_code == 200
    api.hits.clear()
    second = siwe_message(wallet, nonce, statement="another message, same nonce")
    assert_refused(probe(api, wallet_headers(wallet, second)), 401, "nonce_reused", api)


def test_unused_nonce_expires_after_10_minutes(api: Api, wallet: LocalAccount) -> None:
    nonce = api.nonce()
    engine = create_db_engine(str(api.settings.database_url))
    with engine.begin() as connection:  # age the nonce rather than wait 10 minutes
        connection.execute(update(SigninNonce).where(SigninNonce.nonce == nonce)
                           .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))  # fmt: skip
    engine.dispose()
    assert_refused(probe(api, wallet_headers(wallet, siwe_message(wallet, nonce))), 401, "nonce_expired", api)


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda h: {**h, "X-ETH-Message": "not base64!"},
        lambda h: {**h, "X-ETH-Message": base64.b64encode(b"hello wallet").decode()},
        lambda h: {**h, "X-ETH-Message": base64.b64encode(b"\xff\xfe").decode()},
    ],
    ids=["not-base64", "not-eip4361", "not-utf8"],
)
def test_malformed_message_is_rejected_with_401(api: Api, wallet: LocalAccount, corrupt) -> None:  # type: ignore[no-untyped-def]
    headers = corrupt(wallet_headers(wallet, siwe_message(wallet, api.nonce())))
    assert_refused(probe(api, headers), 401, "message_malformed", api)


def test_malformed_signature_is_rejected_with_401(api: Api, wallet: LocalAccount) -> None:
    headers = {**wallet_headers(wallet, siwe_message(wallet, api.nonce())), "X-ETH-Signature": "0x1234"}
    assert_refused(probe(api, headers), 401, "signature_malformed", api)


def test_incomplete_wallet_headers_are_rejected_with_401(api: Api, wallet: LocalAccount) -> None:
    headers = wallet_headers(wallet, siwe_message(wallet, api.nonce()))
    del headers["X-ETH-Signature"]
    assert_refused(probe(api, headers), 401, "wallet_headers_incomplete", api)


def test_admin_addresses_setting_gives_a_wallet_admin(make_api: ApiFactory, wallet: LocalAccount) -> None:
    api = make_api(public_domain="hokusai.test", admin_addresses=wallet.address)
    me = httpx.get(f"{api.url}/api/v1/me", headers=wallet_headers(wallet, siwe_message(wallet, api.nonce())))
    assert me.json()["scopes"] == ["read", "write", "admin"]


def test_role_granted_in_the_database_gives_a_wallet_admin(api: Api, wallet: LocalAccount) -> None:
    with api.admin() as admin:
        granted = admin.post("/api/v1/auth/grants", json={"address": wallet.address.lower(), "role": "admin"})
        assert granted.status_code == 201 and granted.json()["address"] == wallet.address
    headers = wallet_headers(wallet, siwe_message(wallet, api.nonce()))
    assert httpx.get(f"{api.url}/api/v1/me", headers=headers).json()["scopes"] == ["read", "write", "admin"]
    with api.admin() as admin:
        assert admin.delete(f"/api/v1/auth/grants/{wallet.address}/admin").status_code == 204


def test_wallet_without_admin_cannot_grant_roles(api: Api, wallet: LocalAccount) -> None:
    headers = wallet_headers(wallet, siwe_message(wallet, api.nonce()))
    response = httpx.post(f"{api.url}/api/v1/auth/grants", headers=headers,
                          json={"address": wallet.address, "role": "admin"})  # fmt: skip
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "role_required"


def test_wallet_can_mint_itself_an_api_key_within_its_scopes(api: Api, wallet: LocalAccount) -> None:
    headers = wallet_headers(wallet, siwe_message(wallet, api.nonce()))
    created = httpx.post(
        f"{api.url}/api/v1/keys", headers=headers, json={"name": "script", "scopes": ["read"]}
    )
    assert created.status_code == 201, created.text
    me = httpx.get(f"{api.url}/api/v1/me", headers={"X-API-Key": created.json()["key"]}).json()
    assert me["method"] == "api_key" and me["wallet_address"] == wallet.address and me["scopes"] == ["read"]


def test_message_for_a_chain_the_platform_does_not_accept_is_rejected_with_401(
    api: Api, wallet: LocalAccount
) -> None:
    headers = wallet_headers(wallet, siwe_message(wallet, api.nonce(), chain_id=137))
    assert_refused(httpx.get(f"{api.url}{PROBE}", headers=headers), 401, "chain_mismatch", api)


def test_message_naming_another_uri_is_rejected_with_401(api: Api, wallet: LocalAccount) -> None:
    phishing = siwe_message(wallet, api.nonce(), uri="https://hokusai-rewards.example/claim")
    assert_refused(
        httpx.get(f"{api.url}{PROBE}", headers=wallet_headers(wallet, phishing)), 401, "uri_mismatch", api
    )


def test_a_high_s_twin_of_a_valid_signature_is_rejected_with_401(api: Api, wallet: LocalAccount) -> None:
    headers = wallet_headers(wallet, siwe_message(wallet, api.nonce()))
    raw = bytes.fromhex(headers["X-ETH-Signature"].removeprefix("0x"))
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    r, s, v = raw[:32], int.from_bytes(raw[32:64], "big"), raw[64]
    twin = (
        r + (n - s).to_bytes(32, "big") + bytes([55 - v])
    )  # (r, n-s) with the other v recovers the same key
    headers["X-ETH-Signature"] = "0x" + twin.hex()
    assert_refused(httpx.get(f"{api.url}{PROBE}", headers=headers), 401, "signature_high_s", api)


def test_logout_everywhere_ends_every_sign_in_and_the_keys_minted_under_them(
    api: Api, wallet: LocalAccount
) -> None:
    first = wallet_headers(wallet, siwe_message(wallet, api.nonce()))
    second = wallet_headers(wallet, siwe_message(wallet, api.nonce()))
    body = {"name": "laptop", "scopes": ["read", "write"]}
    minted = httpx.post(f"{api.url}/api/v1/keys", headers=first, json=body)
    assert minted.status_code == 201, minted.text
    assert minted.json()["expires_at"] is not None  # a wallet's keys never live forever
    key = {"Authorization": f"Bearer {minted.json()['key']}"}
    grandchild = httpx.post(f"{api.url}/api/v1/keys", headers=key, json={"name": "child", "scopes": ["read"]})
    assert grandchild.status_code == 201, grandchild.text
    assert grandchild.json()["expires_at"] == minted.json()["expires_at"]  # never outlives its parent
    child = {"Authorization": f"Bearer {grandchild.json()['key']}"}
    assert httpx.get(f"{api.url}/api/v1/me", headers=second).status_code == 200
    assert httpx.post(f"{api.url}/api/v1/auth/logout", headers=first, json={"all": True}).status_code == 204
    for headers, code in ((first, "nonce_revoked"), (second, "nonce_revoked"), (key, "key_revoked"),
                          (child, "key_revoked")):  # fmt: skip
        assert_refused(httpx.get(f"{api.url}{PROBE}", headers=headers), 401, code, api)


def test_a_key_minted_under_a_wallet_lives_at_most_the_configured_lifetime(
    make_api: ApiFactory, wallet: LocalAccount
) -> None:
    api = make_api(public_domain="hokusai.test", wallet_key_max_seconds=3600)
    headers = wallet_headers(wallet, siwe_message(wallet, api.nonce()))
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    refused = httpx.post(f"{api.url}/api/v1/keys", headers=headers,
                         json={"name": "long", "scopes": ["read"], "expires_at": later})  # fmt: skip
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "expiry_escalation"
    minted = httpx.post(f"{api.url}/api/v1/keys", headers=headers, json={"name": "ok", "scopes": ["read"]})
    expires = datetime.fromisoformat(minted.json()["expires_at"])
    assert timedelta(minutes=58) < expires - datetime.now(UTC) <= timedelta(hours=1)
