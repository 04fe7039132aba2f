"""Reading the one credential from headers, and the verified-credential cache's revocation rules."""

from __future__ import annotations

import time

import pytest
from starlette.datastructures import Headers

from hokusai.api_keys import generate_key
from hokusai.errors import HokusaiError
from hokusai.server.auth.cache import PrincipalCache
from hokusai.server.auth.credentials import ApiKeyCredential, read_credential
from hokusai.server.principal import Principal, covers, parse_scopes

KEY = generate_key(live=False)


def code_of(headers: Headers) -> str:
    with pytest.raises(HokusaiError) as caught:
        read_credential(headers)
    return caught.value.code


def test_bearer_scheme_is_case_insensitive_and_the_key_is_reduced_to_id_and_digest() -> None:
    credential = read_credential(Headers({"authorization": f"bearer {KEY.key}"}))
    assert credential == ApiKeyCredential(KEY.key_id, KEY.key_hash)


def test_a_header_sent_twice_is_ambiguous() -> None:
    raw = [(b"x-api-key", KEY.key.encode()), (b"x-api-key", KEY.key.encode())]
    assert code_of(Headers(raw=raw)) == "credentials_ambiguous"


def test_other_authorization_schemes_are_refused() -> None:
    assert code_of(Headers({"authorization": "Basic dXNlcjpwYXNz"})) == "auth_scheme_unsupported"


def test_plain_dict_with_lower_case_names_works_for_raw_asgi_callers() -> None:
    assert read_credential({"x-api-key": KEY.key}) == ApiKeyCredential(KEY.key_id, KEY.key_hash)


def principal(key_id: str = "k1") -> Principal:
    return Principal(id="p1", method="api_key", scopes=frozenset({"read"}), key_id=key_id)


def test_cache_returns_a_principal_only_for_the_same_digest() -> None:
    cache = PrincipalCache(ttl=60)
    cache.put("key:k1", "a" * 64, principal(), until=None, tag="k1")
    assert cache.get("key:k1", "a" * 64) == principal()
    assert cache.get("key:k1", "b" * 64) is None


def test_cache_forgets_a_revoked_tag_at_once() -> None:
    cache = PrincipalCache(ttl=60)
    cache.put("key:k1", "a" * 64, principal(), until=None, tag="k1")
    cache.forget("k1")
    assert cache.get("key:k1", "a" * 64) is None


def test_cache_never_outlives_the_credential_or_its_ttl() -> None:
    cache = PrincipalCache(ttl=60)
    cache.put("key:k1", "a" * 64, principal(), until=time.time() - 1, tag="k1")
    assert cache.get("key:k1", "a" * 64) is None
    off = PrincipalCache(ttl=0)
    off.put("key:k1", "a" * 64, principal(), until=None, tag="k1")
    assert off.get("key:k1", "a" * 64) is None


def test_admin_covers_every_scope_and_unknown_scopes_are_refused() -> None:
    assert covers(frozenset({"admin"}), {"read", "write"})
    assert not covers(frozenset({"read"}), {"write"})
    assert Principal(id="p", method="wallet", scopes=frozenset({"admin"})).has_scope("write")
    with pytest.raises(ValueError, match="root"):
        parse_scopes("read,root")
