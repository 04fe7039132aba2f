"""Every error leaves the API in one JSON shape: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from hokusai.errors import HokusaiError, Unauthorized

log = logging.getLogger("hokusai.server")

_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media",
}


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The one way an error body is built."""
    body = {"error": {"code": code, "message": message, "details": details}}
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"location": ".".join(str(p) for p in err.get("loc", ())), "message": err.get("msg", "")}
        for err in exc.errors()
    ]


async def _hokusai_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HokusaiError)
    headers = dict(exc.headers)
    if isinstance(exc, Unauthorized):
        headers.setdefault("WWW-Authenticate", 'Bearer realm="hokusai"')
    return error_response(exc.status_code, exc.code, exc.message, exc.details, headers or None)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code = _HTTP_CODES.get(status) or HTTPStatus(status).phrase.lower().replace(" ", "_")
    message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).phrase
    return error_response(status, code, message, None, dict(exc.headers or {}) or None)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = _validation_details(exc)
    first = details[0] if details else {"location": "request", "message": "invalid"}
    message = f"invalid request: {first['location']}: {first['message']}"
    return error_response(422, "validation_error", message, details)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "internal server error; the request id is in the logs")


def install_error_handlers(app: FastAPI) -> None:
    """Map every exception kind to the error shape."""
    app.add_exception_handler(HokusaiError, _hokusai_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
