"""A key manages only itself and the keys below it in its lineage, on a served platform (SQLite and
PostgreSQL): a short-lived, low-limit child can neither rotate, revoke nor extend the key that minted it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount

from tests.integration.api.conftest import Api, ApiFactory, siwe_message, wallet_headers

pytestmark = pytest.mark.realparts


def _mint(client: httpx.Client, **body: Any) -> dict[str, Any]:
    body.setdefault("name", "child")
    body.setdefault("scopes", ["read", "write"])
    response = client.post("/api/v1/keys", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def _keys(api: Api) -> dict[str, dict[str, Any]]:
    with api.admin() as admin:
        return {k["id"]: k for k in admin.get("/api/v1/keys").raise_for_status().json()["keys"]}


def _refused(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "key_not_in_lineage"
    assert "lineage" in error["message"]


def test_a_child_key_cannot_rotate_revoke_or_extend_the_key_above_it(api: Api) -> None:
    parent = api.create_key(principal_name="acme", rate_limit_per_minute=5000)  # never expires
    soon = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    with api.client(Authorization=f"Bearer {parent['key']}") as as_parent:
        child = _mint(as_parent, expires_at=soon, rate_limit_per_minute=10)
        sibling = _mint(as_parent, name="sibling")  # beside the child, also below the parent
    before = _keys(api)
    with api.client(Authorization=f"Bearer {child['key']}") as as_child:
        _refused(as_child.post(f"/api/v1/keys/{parent['id']}/rotate"))  # would be a non-expiring 5000/min
        _refused(as_child.delete(f"/api/v1/keys/{parent['id']}"))
        _refused(as_child.post(f"/api/v1/keys/{sibling['id']}/rotate"))  # a sibling is not below it
        _refused(as_child.delete(f"/api/v1/keys/{sibling['id']}"))
        assert as_child.get("/api/v1/me").status_code == 200
    after = _keys(api)
    assert after == before  # no key minted, none revoked, none shortened
    assert after[parent["id"]]["status"] == "active" and after[parent["id"]]["expires_at"] is None


def test_a_key_rotates_and_revokes_itself_and_its_descendants_within_its_own_limits(api: Api) -> None:
    ends = datetime.now(UTC) + timedelta(hours=2)
    parent = api.create_key(principal_name="acme", expires_at=ends.isoformat(), rate_limit_per_minute=50)
    with api.client(Authorization=f"Bearer {parent['key']}") as as_parent:
        child = _mint(as_parent, rate_limit_per_minute=20)
        with api.client(Authorization=f"Bearer {child['key']}") as as_child:
            grandchild = _mint(as_child, scopes=["read"])
            own = as_child.post(f"/api/v1/keys/{child['id']}/rotate")  # a key rotates itself
        assert own.status_code == 201, own.text
        assert own.json()["expires_at"] == child["expires_at"]  # not extended
        assert own.json()["rate_limit_per_minute"] == 20
        rotated = as_parent.post(f"/api/v1/keys/{grandchild['id']}/rotate")
        assert rotated.status_code == 201, rotated.text
        new = rotated.json()
        assert datetime.fromisoformat(new["expires_at"]) <= ends
        assert new["rate_limit_per_minute"] <= 50 and new["scopes"] == ["read"]
        revoked = as_parent.delete(f"/api/v1/keys/{new['id']}")
        assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"


def test_an_admin_still_rotates_and_revokes_keys_of_any_lineage(api: Api) -> None:
    parent = api.create_key(principal_name="acme")
    with api.client(Authorization=f"Bearer {parent['key']}") as as_parent:
        child = _mint(as_parent)
    with api.admin() as admin:
        rotated = admin.post(f"/api/v1/keys/{parent['id']}/rotate")
        revoked = admin.delete(f"/api/v1/keys/{child['id']}")
    assert rotated.status_code == 201, rotated.text
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"


def test_an_admin_child_key_cannot_rotate_the_admin_key_above_it(api: Api) -> None:
    with api.admin() as admin:
        soon = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
        child = _mint(admin, scopes=["read", "write", "admin"], expires_at=soon, rate_limit_per_minute=10)
    admin_key_id = api.admin_key.split("_")[2]
    with api.client(Authorization=f"Bearer {child['key']}") as as_child:
        _refused(as_child.post(f"/api/v1/keys/{admin_key_id}/rotate"))
        _refused(as_child.delete(f"/api/v1/keys/{admin_key_id}"))


def test_a_rotation_never_outlives_the_caller_a_wallet_sign_in_rotating_an_unbounded_key(
    make_api: ApiFactory, wallet: LocalAccount
) -> None:
    api = make_api(public_domain="hokusai.test", wallet_key_max_seconds=3600)
    signed_in = wallet_headers(wallet, siwe_message(wallet, api.nonce()))
    with api.client(**signed_in) as as_wallet:
        me = as_wallet.get("/api/v1/me").raise_for_status().json()
        unbounded = api.create_key(principal_id=me["id"], scopes=["read", "write"])  # by the admin
        assert unbounded["expires_at"] is None
        rotated = as_wallet.post(f"/api/v1/keys/{unbounded['id']}/rotate")
    assert rotated.status_code == 201, rotated.text
    expires = rotated.json()["expires_at"]
    assert expires is not None  # the old code handed the wallet a key that never expires
    assert datetime.fromisoformat(expires) <= datetime.now(UTC) + timedelta(seconds=3600)
