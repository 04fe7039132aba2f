"""Where the SDK looks for its server and key: argument, then environment, then the config file."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from hokusai.client import raise_for_error
from hokusai.client_config import DEFAULT_URL, resolve_config
from hokusai.errors import ConfigError, Forbidden, HokusaiError, RateLimited


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.delenv("HOKUSAI_API_KEY", raising=False)
    monkeypatch.delenv("HOKUSAI_URL", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "hokusai").mkdir()
    return tmp_path / "hokusai" / "config.toml"


def test_nothing_configured_means_the_local_default_and_no_key() -> None:
    assert resolve_config() == resolve_config(None, None)
    assert resolve_config().url == DEFAULT_URL and resolve_config().api_key is None


def test_the_config_file_is_read_last(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolated.write_text('[default]\napi_key = "from-file"\nurl = "https://file.example/"\n')
    assert resolve_config().api_key == "from-file"
    assert resolve_config().url == "https://file.example"
    monkeypatch.setenv("HOKUSAI_API_KEY", "from-env")
    monkeypatch.setenv("HOKUSAI_URL", "http://env.example:8001")
    assert resolve_config() == resolve_config(None, None)
    assert (resolve_config().api_key, resolve_config().url) == ("from-env", "http://env.example:8001")
    chosen = resolve_config("from-arg", "http://arg.example")
    assert (chosen.api_key, chosen.url) == ("from-arg", "http://arg.example")


def test_a_broken_config_file_is_one_clear_error(isolated: Path) -> None:
    isolated.write_text("api_key = \n")
    with pytest.raises(ConfigError, match=r"config\.toml is not valid TOML"):
        resolve_config()


def test_a_url_without_a_scheme_is_refused() -> None:
    with pytest.raises(ConfigError, match="must start with http"):
        resolve_config(url="localhost:8001")


def test_server_errors_become_typed_exceptions_with_their_code() -> None:
    body = {"error": {"code": "not_your_contribution", "message": "no", "details": {"x": 1}}}
    with pytest.raises(Forbidden) as caught:
        raise_for_error(httpx.Response(403, json=body))
    assert caught.value.code == "not_your_contribution" and caught.value.details == {"x": 1}
    with pytest.raises(RateLimited) as limited:
        raise_for_error(httpx.Response(429, json=body, headers={"Retry-After": "7"}))
    assert limited.value.retry_after == 7
    with pytest.raises(HokusaiError, match="HTTP 502"):
        raise_for_error(httpx.Response(502, text="bad gateway"))
