"""One exception hierarchy for the whole platform.

Each class carries the machine-readable ``code``, the HTTP status it maps to and
the CLI exit code it maps to, so the API and the CLI translate errors in one place each.

CLI exit codes mean one thing each: 0 success (an accepted DeltaOne, valid data), 1 a completed check whose
verdict is negative (a run that is not accepted, invalid data: the command says so itself, never through
an exception), 2 bad input or usage (the input is refused before a verdict: ``EXIT_BAD_INPUT``), 3 the
command could not complete (a service down, a rate limit, an internal failure: ``EXIT_NOT_COMPLETED``).
"""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The one JSON error shape of the API and the proxy: ``{"error": {"code", "message", "details"}}``."""
    return {"error": {"code": code, "message": message, "details": details}}


EXIT_NEGATIVE = 1
EXIT_BAD_INPUT = 2
EXIT_NOT_COMPLETED = 3


class HokusaiError(Exception):
    """Base of every error the platform raises on purpose."""

    code: str = "hokusai_error"
    status_code: int = 500
    exit_code: int = EXIT_NOT_COMPLETED

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details
        self.headers: dict[str, str] = {}  # HTTP headers the error response carries (challenges, Retry-After)

    def to_dict(self) -> dict[str, Any]:
        """This error in the JSON error shape (``error_body``)."""
        return error_body(self.code, self.message, self.details)


class InvalidInput(HokusaiError):
    """The caller gave something malformed (a flag, a field, a header, a file)."""

    code = "invalid_input"
    status_code = 400
    exit_code = EXIT_BAD_INPUT


class ConfigError(InvalidInput):
    """A setting (environment variable, `.env`, flag) has a value it cannot take."""

    code = "invalid_config"


class InvalidData(HokusaiError):
    """Data was read but does not pass validation (schema, PII, quality): refused input, exit 2."""

    code = "invalid_data"
    status_code = 422
    exit_code = EXIT_BAD_INPUT


class NotFound(HokusaiError):
    """The thing named does not exist."""

    code = "not_found"
    status_code = 404
    exit_code = EXIT_BAD_INPUT


class Unauthorized(HokusaiError):
    """No valid credentials."""

    code = "unauthorized"
    status_code = 401
    exit_code = EXIT_BAD_INPUT


class Forbidden(HokusaiError):
    """Valid credentials without the needed scope or ownership."""

    code = "forbidden"
    status_code = 403
    exit_code = EXIT_BAD_INPUT


class Conflict(HokusaiError):
    """The request clashes with what is stored."""

    code = "conflict"
    status_code = 409
    exit_code = EXIT_BAD_INPUT


class PayloadTooLarge(HokusaiError):
    """A body or upload exceeds the configured limit."""

    code = "payload_too_large"
    status_code = 413
    exit_code = EXIT_BAD_INPUT


class RateLimited(HokusaiError):
    """Too many requests; ``retry_after`` seconds until the window frees up."""

    code = "rate_limited"
    status_code = 429
    exit_code = EXIT_NOT_COMPLETED

    def __init__(self, message: str, *, retry_after: int, details: Any = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


class ServiceUnavailable(HokusaiError):
    """A dependency (database, MLflow, storage) is not reachable."""

    code = "service_unavailable"
    status_code = 503
    exit_code = EXIT_NOT_COMPLETED


__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_NEGATIVE",
    "EXIT_NOT_COMPLETED",
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
    "Unauthorized",
]


def found(value: T | None, missing: HokusaiError) -> T:
    """``value``, or raise ``missing`` (a lookup's 404) when there is none."""
    if value is None:
        raise missing
    return value
