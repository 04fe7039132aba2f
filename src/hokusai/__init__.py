"""Hokusai: prove, with evidence, that contributed data made a machine-learning model better.

Users import from the top: ``hokusai.Settings``, ``hokusai.HokusaiError``, …
"""

from hokusai._version import __version__
from hokusai.config import Settings, load_settings
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
    "load_settings",
]
