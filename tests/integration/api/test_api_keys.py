"""API keys against a running app on SQLite and PostgreSQL: lifecycle, scopes, and every bad key."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from hokusai.api_keys import KEY_PATTERN
from tests.integration.api.conftest import PROBE, Api, ApiFactory, assert_refused

pytestmark = pytest.mark.realparts


def test_created_key_authenticates_with_bearer_and_x_api_key(api: Api) -> None:
    created = api.create_key(name="ci", scopes=["read"])
    assert KEY_PATTERN.match(created["key"])
    assert created["key"].startswith(f"hk_test_{created['id']}_")
    for headers in ({"Authorization": f"Bearer {created['key']}"}, {"X-API-Key": created["key"]}):
        with api.client(**headers) as client:
            me = client.get("/api/v1/me")
        assert me.status_code == 200
        assert me.json()["key_id"] == created["id"]
        assert me.json()["method"] == "api_key"
        assert me.json()["scopes"] == ["read"]


def test_list_shows_metadata_but_never_the_key_or_its_hash(api: Api) -> None:
    created = api.create_key(name="listed")
    with api.admin() as admin:
        listed = admin.get("/api/v1/keys")
    assert listed.status_code == 200
    row = next(k for k in listed.json()["keys"] if k["id"] == created["id"])
    assert row["name"] == "listed" and row["status"] == "active"
    assert "key" not in row and "key_hash" not in row
    assert created["key"] not in listed.text


def test_non_admin_sees_only_its_own_keys(api: Api) -> None:
    mine = api.create_key(principal_name="acme", scopes=["read", "write"])
    api.create_key(principal_name="other", scopes=["read"])
    with api.client(Authorization=f"Bearer {mine['key']}") as client:
        listed = client.get("/api/v1/keys").json()["keys"]
    assert [k["id"] for k in listed] == [mine["id"]]


def test_revoked_key_is_rejected_with_401(api: Api) -> None:
    created = api.create_key()
    with api.client(Authorization=f"Bearer {created['key']}") as client:
        assert client.get("/api/v1/me").status_code == 200  # now cached by this process
        with api.admin() as admin:
            assert admin.delete(f"/api/v1/keys/{created['id']}").json()["status"] == "revoked"
        assert_refused(client.get(PROBE), 401, "key_revoked", api)


def test_unknown_key_is_rejected_with_401(api: Api) -> None:
    with api.client(Authorization="Bearer hk_test_abcdefgh1234_" + "A" * 40) as client:
        assert_refused(client.get(PROBE), 401, "key_unknown", api)


def test_key_with_a_flipped_character_is_rejected_with_401(api: Api) -> None:
    key = api.create_key()["key"]
    flipped = key[:-1] + ("A" if key[-1] != "A" else "B")
    with api.client(Authorization=f"Bearer {flipped}") as client:
        assert_refused(client.get(PROBE), 401, "key_invalid", api)


def test_truncated_key_is_rejected_with_401(api: Api) -> None:
    key = api.create_key()["key"]
    for truncated in (key[:-1], key[:-20], key[:20]):
        with api.client(Authorization=f"Bearer {truncated}") as client:
            response = client.get(PROBE)
        assert response.status_code == 401
        assert response.json()["error"]["code"] in {"key_invalid", "key_malformed"}
    assert api.hits == []


def test_bearer_with_no_token_is_rejected_with_401(api: Api) -> None:
    for value in ("Bearer", "bearer"):
        with api.client(Authorization=value) as client:
            assert_refused(client.get(PROBE), 401, "token_missing", api)


def test_missing_credentials_are_rejected_with_401_and_www_authenticate(api: Api) -> None:
    with api.client() as client:
        response = client.get(PROBE)
    assert_refused(response, 401, "credentials_missing", api)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_two_different_credentials_at_once_are_rejected_with_400(api: Api) -> None:
    one, two = api.create_key()["key"], api.create_key()["key"]
    with api.client(Authorization=f"Bearer {one}", **{"X-API-Key": two}) as client:
        assert_refused(client.get(PROBE), 400, "credentials_ambiguous", api)
    with api.client(Authorization=f"Bearer {one}", **{"X-ETH-Address": "0x" + "1" * 40}) as client:
        assert_refused(client.get(PROBE), 400, "credentials_ambiguous", api)


def test_a_10_kb_credential_header_is_rejected_with_400(api: Api) -> None:
    for header in ("Authorization", "X-API-Key", "X-ETH-Message"):
        with api.client(**{header: "Bearer " + "a" * 10_240}) as client:
            assert_refused(client.get(PROBE), 400, "header_too_large", api)


def test_expired_key_is_rejected_with_401(api: Api) -> None:
    expires = datetime.now(UTC) + timedelta(seconds=1)
    created = api.create_key(expires_at=expires.isoformat())
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.1)
    with api.client(Authorization=f"Bearer {created['key']}") as client:
        assert_refused(client.get(PROBE), 401, "key_expired", api)


def test_rotated_key_works_during_the_grace_period_then_fails(make_api: ApiFactory) -> None:
    api = make_api(key_rotation_grace_seconds=1)
    old = api.create_key(name="rotating")
    with api.client(Authorization=f"Bearer {old['key']}") as client:
        rotated = client.post(f"/api/v1/keys/{old['id']}/rotate")
        assert rotated.status_code == 201
        new = rotated.json()
        assert new["replaces"] == old["id"] and new["name"] == "rotating" and new["key"] != old["key"]
        assert client.get(PROBE).status_code == 200  # still inside the grace period
        time.sleep(1.1)
        assert client.get("/api/v1/me").json()["error"]["code"] == "key_expired"
    with api.client(Authorization=f"Bearer {new['key']}") as client:
        assert client.get("/api/v1/me").status_code == 200


def test_default_rotation_grace_is_24_hours(api: Api) -> None:
    old = api.create_key()
    with api.admin() as admin:
        admin.post(f"/api/v1/keys/{old['id']}/rotate")
        row = next(k for k in admin.get("/api/v1/keys").json()["keys"] if k["id"] == old["id"])
    left = datetime.fromisoformat(row["expires_at"]) - datetime.now(UTC)
    assert timedelta(hours=23, minutes=59) < left <= timedelta(hours=24)
    assert row["status"] == "rotating"


def test_a_key_cannot_mint_a_key_with_more_scopes_than_its_own(api: Api) -> None:
    writer = api.create_key(scopes=["read", "write"])
    with api.client(Authorization=f"Bearer {writer['key']}") as client:
        escalated = client.post("/api/v1/keys", json={"name": "x", "scopes": ["read", "admin"]})
        allowed = client.post("/api/v1/keys", json={"name": "y", "scopes": ["read"]})
    assert escalated.status_code == 403
    assert escalated.json()["error"]["code"] == "scope_escalation"
    assert allowed.status_code == 201


def test_read_only_key_gets_403_on_a_write_route(api: Api) -> None:
    reader = api.create_key(scopes=["read"])
    with api.client(Authorization=f"Bearer {reader['key']}") as client:
        response = client.post("/api/v1/keys", json={"name": "x", "scopes": ["read"]})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"
    assert response.json()["error"]["details"] == {"required": "write", "granted": ["read"]}


def test_only_admin_manages_other_principals_keys(api: Api) -> None:
    theirs = api.create_key(principal_name="them")
    mine = api.create_key(principal_name="me")
    with api.client(Authorization=f"Bearer {mine['key']}") as client:
        assert client.delete(f"/api/v1/keys/{theirs['id']}").json()["error"]["code"] == "key_not_found"
        assert client.post(f"/api/v1/keys/{theirs['id']}/rotate").status_code == 404
        other = client.post("/api/v1/keys", json={"name": "x", "scopes": ["read"], "principal_name": "them"})
        assert other.status_code == 403
    with api.admin() as admin:
        assert admin.delete(f"/api/v1/keys/{theirs['id']}").status_code == 200


def test_key_create_rejects_unknown_scopes_and_past_expiry(api: Api) -> None:
    with api.admin() as admin:
        bad_scope = admin.post("/api/v1/keys", json={"name": "x", "scopes": ["root"]})
        past = admin.post("/api/v1/keys", json={"name": "x", "scopes": ["read"],
                                                 "expires_at": "2001-01-01T00:00:00Z"})  # fmt: skip
    assert bad_scope.status_code == 422 and bad_scope.json()["error"]["code"] == "validation_error"
    assert past.status_code == 400 and past.json()["error"]["code"] == "expires_in_past"


def test_rotating_a_revoked_key_is_a_conflict(api: Api) -> None:
    created = api.create_key()
    with api.admin() as admin:
        admin.delete(f"/api/v1/keys/{created['id']}")
        response = admin.post(f"/api/v1/keys/{created['id']}/rotate")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "key_revoked"


def test_a_child_key_cannot_have_a_higher_rate_limit_than_its_parent(api: Api) -> None:
    parent = api.create_key(principal_name="acme", scopes=["read", "write"], rate_limit_per_minute=50)
    with api.client(Authorization=f"Bearer {parent['key']}") as client:
        refused = client.post(
            "/api/v1/keys", json={"name": "c", "scopes": ["read"], "rate_limit_per_minute": 500}
        )
        inherited = client.post("/api/v1/keys", json={"name": "c", "scopes": ["read"]})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "limit_escalation"
    assert inherited.status_code == 201 and inherited.json()["rate_limit_per_minute"] == 50


def test_a_child_key_never_outlives_its_parent(api: Api) -> None:
    ends = datetime.now(UTC) + timedelta(days=1)
    parent = api.create_key(principal_name="acme", scopes=["read", "write"], expires_at=ends.isoformat())
    with api.client(Authorization=f"Bearer {parent['key']}") as client:
        too_late = (ends + timedelta(days=30)).isoformat()
        later = client.post("/api/v1/keys", json={"name": "c", "scopes": ["read"], "expires_at": too_late})
        unbounded = client.post("/api/v1/keys", json={"name": "c", "scopes": ["read"]})
    assert later.status_code == 403 and later.json()["error"]["code"] == "expiry_escalation"
    assert unbounded.status_code == 201
    assert datetime.fromisoformat(unbounded.json()["expires_at"]) == datetime.fromisoformat(
        parent["expires_at"]
    )


def test_a_rotated_key_in_its_grace_period_cannot_mint_keys(api: Api) -> None:
    parent = api.create_key(principal_name="acme", scopes=["read", "write"])
    with api.client(Authorization=f"Bearer {parent['key']}") as client:
        assert client.post(f"/api/v1/keys/{parent['id']}/rotate").status_code == 201
        assert client.get("/api/v1/me").status_code == 200  # still works during the grace period
        minted = client.post("/api/v1/keys", json={"name": "late", "scopes": ["read"]})
    assert minted.status_code == 403 and minted.json()["error"]["code"] == "parent_rotating"
