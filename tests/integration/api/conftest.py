"""A running API (real uvicorn, real HTTP) on a real database, once per backend: SQLite file and PostgreSQL.

``api`` gives the served app, an admin key (bootstrapped the way ``hokusai up`` does it), and ``hits``:
the principals that reached the probe route, so a test can prove a refused request reached no handler.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from hokusai.config import Settings
from hokusai.server import policy
from hokusai.server.deps import CurrentPrincipal
from hokusai.server.principal import Principal
from hokusai.siwe import SiweMessage
from tests.support.mlflow import mlflow_settings
from tests.support.platform import serve_platform

PROBE = "/test/probe"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'platform.db'}"
    return request.getfixturevalue("pg_url")


@dataclass
class Api:
    """The served app and what a test needs to talk to it."""

    url: str
    settings: Settings
    admin_key: str
    app: Any
    hits: list[Principal] = field(default_factory=list)

    def client(self, **headers: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)

    def admin(self) -> httpx.Client:
        return self.client(Authorization=f"Bearer {self.admin_key}")

    def create_key(self, **body: Any) -> dict[str, Any]:
        body.setdefault("name", "test")
        body.setdefault("scopes", ["read", "write"])
        with self.admin() as admin:
            response = admin.post("/api/v1/keys", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def nonce(self) -> str:
        response = httpx.get(f"{self.url}/api/v1/auth/nonce")
        assert response.status_code == 200, response.text
        return response.json()["nonce"]


ApiFactory = Callable[..., Api]


@pytest.fixture
def make_api(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiFactory]:
    """Start an API with settings overrides; every one started is stopped after the test."""
    stack: list[ExitStack] = []
    monkeypatch.setitem(policy.ENDPOINTS, ("GET", PROBE), "me.read")  # the probe is checked like any route

    def start(**overrides: Any) -> Api:
        settings = mlflow_settings(tmp_path / f"state{len(stack)}", database_url=database_url, **overrides)
        api = Api("", settings, "", None)

        def add_probe(app: Any) -> None:
            @app.get(PROBE)
            async def probe(principal: CurrentPrincipal) -> dict[str, str]:
                api.hits.append(principal)
                return {"id": principal.id}

        exits = ExitStack()
        stack.append(exits)
        platform = exits.enter_context(serve_platform(settings, add_probe))
        api.url, api.settings, api.admin_key, api.app = (
            platform.url,
            platform.settings,
            platform.admin_key,
            platform.app,
        )
        return api

    yield start
    for exits in stack:
        exits.close()


@pytest.fixture
def api(make_api: ApiFactory) -> Api:
    """An API with default settings except the SIWE domain, fixed so messages can be signed."""
    return make_api(public_domain="hokusai.test")


@pytest.fixture
def wallet() -> LocalAccount:
    return Account.create()


def siwe_message(account: LocalAccount, nonce: str, **fields: Any) -> SiweMessage:
    """A valid message for ``account``: domain hokusai.test, issued now, expiring in 30 minutes."""
    now = datetime.now(UTC).replace(microsecond=0)
    values: dict[str, Any] = {
        "domain": "hokusai.test",
        "address": account.address,
        "uri": "https://hokusai.test/login",
        "chain_id": 1,
        "nonce": nonce,
        "issued_at": now,
        "expiration_time": now + timedelta(minutes=30),
        "statement": "Sign in to Hokusai.",
    }
    values.update(fields)
    return SiweMessage(**values)


def wallet_headers(
    account: LocalAccount, message: SiweMessage | str, *, signer: LocalAccount | None = None
) -> dict[str, str]:
    """The three X-ETH-* headers for ``message`` signed (EIP-191) by ``signer`` (default: ``account``)."""
    text = message if isinstance(message, str) else message.to_text()
    signature = (signer or account).sign_message(encode_defunct(text=text)).signature.to_0x_hex()
    return {
        "X-ETH-Address": account.address,
        "X-ETH-Signature": signature,
        "X-ETH-Message": base64.b64encode(text.encode()).decode(),
    }


def assert_refused(response: httpx.Response, status: int, code: str, api: Api) -> None:
    """``status`` with the error shape naming ``code``, and no route handler reached."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert api.hits == []
