"""Settings of the API core: defaults, and one readable line for each bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from hokusai.config import Settings, env_name, load_settings
from hokusai.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for field in Settings.model_fields:
        monkeypatch.delenv(env_name(field), raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    settings = load_settings(api_port=9001)
    assert settings.public_domain == "127.0.0.1:9001"
    assert settings.rate_limit_per_minute == 100
    assert settings.rate_limit_storage_url == "memory://"
    assert settings.key_rotation_grace_seconds == 86400
    assert settings.admin_address_set == frozenset()
    assert settings.cors_origin_list == []
    assert not settings.live_keys
    assert load_settings(environment="production").live_keys


def test_admin_addresses_are_normalised_to_eip55(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOKUSAI_ADMIN_ADDRESSES", " 0x52908400098527886e0f7030069857d2e4169ee7 ,")
    assert load_settings().admin_address_set == {"0x52908400098527886E0F7030069857D2E4169EE7"}


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("HOKUSAI_ADMIN_ADDRESSES", "0x52908400098527886E0F7030069857D2E4169Ee7", "wrong EIP-55 checksum"),
        ("HOKUSAI_ADMIN_ADDRESSES", "alice", "not an Ethereum address"),
        ("HOKUSAI_RATE_LIMIT_STORAGE_URL", "mongodb://db", "memory:// or a redis://"),
        ("HOKUSAI_RATE_LIMIT_PER_MINUTE", "0", "greater than or equal to 1"),
        ("HOKUSAI_BOOTSTRAP_ADMIN_KEY_HASH", "hk_live_abc", "hokusai keys generate"),
        ("HOKUSAI_AUTH_CACHE_SECONDS", "3600", "less than or equal to 60"),
    ],
)
def test_bad_values_are_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.message.startswith(f"{variable}={value!r} is invalid")
    assert says in caught.value.message and "\n" not in caught.value.message
