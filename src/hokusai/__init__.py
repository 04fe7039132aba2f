"""Hokusai: prove, with evidence, that contributed data made a machine-learning model better.

Users import from the top: ``hokusai.setup()``, ``hokusai.Client``, ``hokusai.configure_mlflow()``,
``hokusai.HokusaiError`` and its subclasses, ``hokusai.Settings``.
"""

from typing import TYPE_CHECKING, Any

from hokusai._version import __version__
from hokusai.errors import (
    ConfigError,
    Conflict,
    Forbidden,
    HokusaiError,
    InvalidData,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
)

__all__ = [
    "Client",
    "ConfigError",
    "Conflict",
    "Forbidden",
    "HokusaiError",
    "InvalidData",
    "InvalidInput",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "ServiceUnavailable",
    "Settings",
    "Unauthorized",
    "__version__",
    "configure_mlflow",
    "load_settings",
    "setup",
]

if TYPE_CHECKING:
    from hokusai.client import Client, configure_mlflow, setup
    from hokusai.config import Settings, load_settings

_LAZY = {
    "Client": "hokusai.client",
    "setup": "hokusai.client",
    "configure_mlflow": "hokusai.client",
    "Settings": "hokusai.config",  # pydantic-settings costs ~0.3 s to import: not for `hokusai --help`
    "load_settings": "hokusai.config",
}


def __getattr__(name: str) -> Any:
    """The SDK and the settings load on first use, so ``import hokusai`` (and the CLI) stays fast."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hokusai' has no attribute {name!r}")
