"""Where the SDK finds its server and credentials.

Lookup order for each value: the argument, then ``HOKUSAI_API_KEY`` / ``HOKUSAI_URL``, then
``~/.config/hokusai/config.toml`` (``$XDG_CONFIG_HOME/hokusai/config.toml``), whose keys are
``api_key`` and ``url`` (at the top or under ``[default]``).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from hokusai.errors import ConfigError

DEFAULT_URL = "http://127.0.0.1:8001"


@dataclass(frozen=True)
class ClientConfig:
    """The resolved server URL and API key (the key may be absent for wallet sign-in), and where the key
    came from in words (``the api_key argument``, ``HOKUSAI_API_KEY``, the config file's path)."""

    url: str
    api_key: str | None
    key_source: str | None = None


def config_file() -> Path:
    """The SDK's config file path (it need not exist)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "hokusai" / "config.toml"


def _file_values() -> dict[str, str]:
    path = config_file()
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    section = data.get("default", data)
    return {k: str(v) for k, v in section.items() if k in ("api_key", "url") and v}


def resolve_config(api_key: str | None = None, url: str | None = None) -> ClientConfig:
    """The client settings from the argument, the environment or the config file, in that order."""
    stored = _file_values()
    final_url = url or os.environ.get("HOKUSAI_URL") or stored.get("url") or DEFAULT_URL
    if not final_url.startswith(("http://", "https://")):
        raise ConfigError(f"the Hokusai URL {final_url!r} must start with http:// or https://")
    sources = (
        (api_key, "the api_key argument"),
        (os.environ.get("HOKUSAI_API_KEY"), "HOKUSAI_API_KEY"),
        (stored.get("api_key"), f"api_key in {config_file()}"),
    )
    key, source = next(((value, where) for value, where in sources if value), (None, None))
    return ClientConfig(final_url.rstrip("/"), key, source)
