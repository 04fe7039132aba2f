"""Session tokens of the results pages: signed, expiring, naming a key without holding it; and where their
signing key comes from (the setting, a 0600 file outside production, or a refusal in production)."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest

from hokusai.config import Settings, env_name, load_settings
from hokusai.errors import ConfigError, Unauthorized
from hokusai.server.auth import sessions
from hokusai.server.auth.sessions import SessionTokens, session_key

KEY = b"k" * 40


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for field in Settings.model_fields:
        monkeypatch.delenv(env_name(field), raising=False)
    monkeypatch.chdir(tmp_path)


def test_a_token_reads_back_as_the_key_and_principal_it_was_issued_for() -> None:
    tokens = SessionTokens(KEY)
    token, expires = tokens.issue("abcdefgh1234", "principal-1")
    read = tokens.read(token)
    assert (read.key_id, read.principal_id, read.expires_at) == ("abcdefgh1234", "principal-1", expires)
    assert len(read.csrf) >= 32
    assert tokens.read(tokens.issue("abcdefgh1234", "principal-1")[0]).csrf != read.csrf  # one per session


def test_a_session_never_outlives_its_key() -> None:
    soon = time.time() + 60
    _, expires = SessionTokens(KEY).issue("abcdefgh1234", "p", not_after=soon)
    assert expires <= soon


def test_a_token_signed_with_another_key_or_changed_is_invalid() -> None:
    token, _ = SessionTokens(b"other" * 10).issue("abcdefgh1234", "p")
    for forged in (token, token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "not-a-token"):
        with pytest.raises(Unauthorized) as caught:
            SessionTokens(KEY).read(forged)
        assert caught.value.code == "session_invalid"


def test_an_expired_token_is_refused_as_expired() -> None:
    tokens = SessionTokens(KEY)
    token, _ = tokens.issue("abcdefgh1234", "p", not_after=time.time() - 1)
    with pytest.raises(Unauthorized) as caught:
        tokens.read(token)
    assert caught.value.code == "session_expired"


def test_a_sign_in_form_token_matches_only_its_own_nonce_and_only_while_fresh() -> None:
    tokens = SessionTokens(KEY)
    token = tokens.form_token("nonce-1")
    assert tokens.form_nonce(token, max_age=60) == "nonce-1"
    assert tokens.form_nonce(SessionTokens(b"x" * 40).form_token("nonce-1"), max_age=60) is None
    session, _ = tokens.issue("abcdefgh1234", "p")
    assert tokens.form_nonce(session, max_age=60) is None  # a session token is no form token


def test_outside_production_the_key_is_a_0600_file_made_once_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(data_dir=str(tmp_path / "state"), environment="development")
    first = session_key(settings)
    path = tmp_path / "state" / "keys" / sessions.KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 32 and session_key(settings) == first


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    settings = load_settings(data_dir=str(tmp_path / "state"))
    session_key(settings)
    path = tmp_path / "state" / "keys" / sessions.KEY_FILE
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        session_key(settings)


def test_production_refuses_to_start_without_the_setting(tmp_path: Path) -> None:
    settings = load_settings(data_dir=str(tmp_path / "state"), environment="production")
    with pytest.raises(ConfigError) as caught:
        session_key(settings)
    assert "HOKUSAI_SESSION_KEY" in caught.value.message
    assert not (tmp_path / "state" / "keys" / sessions.KEY_FILE).exists()


def test_the_setting_is_used_and_a_short_one_is_refused_without_showing_it(tmp_path: Path) -> None:
    secret = "s" * 48
    assert session_key(
        load_settings(data_dir=str(tmp_path), environment="production", session_key=secret)
    ) == (secret.encode())
    with pytest.raises(ConfigError) as caught:
        session_key(load_settings(data_dir=str(tmp_path), session_key="short-secret"))
    assert "short-secret" not in caught.value.message and "HOKUSAI_SESSION_KEY" in caught.value.message
