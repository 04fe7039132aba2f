"""API key format and hashing: what Terraform's sha256(key) and `hokusai keys generate` must agree on."""

from __future__ import annotations

import hashlib

import pytest

from hokusai.api_keys import (
    KEY_PATTERN,
    generate_key,
    hash_key,
    hash_matches,
    key_id_of,
    parse_bootstrap_line,
)
from hokusai.errors import Unauthorized


def test_generated_key_has_prefix_id_and_secret_without_underscores() -> None:
    new = generate_key(live=True)
    prefix, env, key_id, secret = new.key.split("_")
    assert (prefix, env, key_id) == ("hk", "live", new.key_id)
    assert len(key_id) == 12 and key_id.isalnum() and key_id == key_id.lower()
    assert len(secret) >= 32 and secret.isalnum()
    assert generate_key(live=False).key.startswith("hk_test_")


def test_stored_hash_is_sha256_hex_of_the_full_key_string() -> None:
    new = generate_key(live=True)
    assert new.key_hash == hashlib.sha256(new.key.encode()).hexdigest() == hash_key(new.key)
    assert new.bootstrap_line == f"{new.key_id}:{new.key_hash}"


def test_keys_are_random() -> None:
    keys = {generate_key(live=False).key for _ in range(200)}
    assert len(keys) == 200
    assert len({key.split("_")[2] for key in keys}) == 200


def test_key_id_is_read_from_a_well_formed_key() -> None:
    new = generate_key(live=False)
    assert key_id_of(new.key) == new.key_id
    assert KEY_PATTERN.match(new.key)


@pytest.mark.parametrize(
    "value",
    ["", "Bearer", "sk_live_abc", "hk_prod_abcdefgh1234_" + "a" * 40, "hk_live_abcdefgh1234_short",
     "hk_live_ABCDEFGH1234_" + "a" * 40, "hk_live_abcdefgh1234_" + "a" * 40 + "!", "hk_live_" + "a" * 300],
)  # fmt: skip
def test_anything_else_is_key_malformed(value: str) -> None:
    with pytest.raises(Unauthorized) as caught:
        key_id_of(value)
    assert caught.value.code == "key_malformed"
    assert value[20:] == "" or value[20:] not in caught.value.message  # no secret echoed back


def test_hash_comparison_is_exact() -> None:
    digest = hash_key("hk_test_abcdefgh1234_" + "x" * 40)
    assert hash_matches(digest, digest)
    assert not hash_matches(digest, digest[:-1] + ("0" if digest[-1] != "0" else "1"))


def test_bootstrap_line_round_trips_and_rejects_garbage() -> None:
    new = generate_key(live=True)
    assert parse_bootstrap_line(new.bootstrap_line) == (new.key_id, new.key_hash)
    for bad in ("", new.key_hash, f"{new.key_id}:{new.key_hash[:-1]}", f"UPPER:{new.key_hash}", new.key):
        with pytest.raises(ValueError, match="keys generate"):
            parse_bootstrap_line(bad)
