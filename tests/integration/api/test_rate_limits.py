"""Rate limits that fire: per key (default 100/min and per-key override), per wallet, per client IP."""

from __future__ import annotations

import httpx
import pytest
from eth_account.signers.local import LocalAccount

from tests.integration.api.conftest import Api, ApiFactory, siwe_message, wallet_headers

pytestmark = pytest.mark.realparts


def assert_rate_limited(response: httpx.Response, bucket: str) -> None:
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["retry-after"]) <= 60
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["details"]["bucket"] == bucket


def test_the_101st_request_within_a_minute_gets_429_with_retry_after(api: Api) -> None:
    key = api.create_key()["key"]
    with api.client(Authorization=f"Bearer {key}") as client:
        statuses = [client.get("/api/v1/me").status_code for _ in range(100)]
        assert statuses == [200] * 100
        assert_rate_limited(client.get("/api/v1/me"), "api_key")
    with api.admin() as admin:  # another key has its own window
        assert admin.get("/api/v1/me").status_code == 200


def test_per_key_override_limits_that_key_only(api: Api) -> None:
    slow = api.create_key(rate_limit_per_minute=3)["key"]
    with api.client(Authorization=f"Bearer {slow}") as client:
        assert [client.get("/api/v1/me").status_code for _ in range(3)] == [200] * 3
        assert_rate_limited(client.get("/api/v1/me"), "api_key")


def test_wallet_is_limited_per_address(make_api: ApiFactory, wallet: LocalAccount) -> None:
    api = make_api(public_domain="hokusai.test", rate_limit_per_minute=3)
    headers = wallet_headers(wallet, siwe_message(wallet, api.nonce()))
    with httpx.Client(base_url=api.url, headers=headers) as client:
        assert [client.get("/api/v1/me").status_code for _ in range(3)] == [200] * 3
        assert_rate_limited(client.get("/api/v1/me"), "wallet")


def test_unauthenticated_nonce_endpoint_is_limited_per_client_ip(make_api: ApiFactory) -> None:
    api = make_api(rate_limit_per_minute=5)
    with httpx.Client(base_url=api.url) as client:
        assert [client.get("/api/v1/auth/nonce").status_code for _ in range(5)] == [200] * 5
        assert_rate_limited(client.get("/api/v1/auth/nonce"), "ip")


def test_repeated_failed_credentials_from_one_ip_get_429(make_api: ApiFactory) -> None:
    api = make_api(rate_limit_per_minute=5)
    with api.client(Authorization="Bearer hk_test_abcdefgh1234_" + "B" * 40) as client:
        assert [client.get("/api/v1/me").status_code for _ in range(5)] == [401] * 5
        assert_rate_limited(client.get("/api/v1/me"), "auth_failure")
    with api.admin() as admin:  # a valid key from the same IP is still served: failures have their own bucket
        assert admin.get("/api/v1/me").status_code == 200
