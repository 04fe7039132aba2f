"""Every error leaves the API in one JSON shape: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from hokusai.errors import HokusaiError, Unauthorized, error_body

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
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


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


def allowed_methods(request: Request) -> list[str]:
    """The methods the OpenAPI document gives this request's path (Starlette's own 405 names only the
    first route that matches the path, and FastAPI declares one route per method)."""
    paths: dict[str, Any] = request.app.openapi().get("paths", {})
    path = request.url.path
    if path in paths:  # a fixed path before a template it also matches (`/attestations/verify`)
        return sorted(method.upper() for method in paths[path])
    for template, operations in paths.items():
        if compile_path(template)[0].match(path):
            return sorted(method.upper() for method in operations)
    return []


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code = _HTTP_CODES.get(status) or HTTPStatus(status).phrase.lower().replace(" ", "_")
    message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).phrase
    headers = dict(exc.headers or {})
    if status == 405 and (methods := allowed_methods(request)):
        headers["Allow"] = ", ".join(methods)
    return error_response(status, code, message, None, headers or None)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = _validation_details(exc)
    first = details[0] if details else {"location": "request", "message": "invalid"}
    message = f"invalid request: {first['location']}: {first['message']}"
    return error_response(422, "validation_error", message, details)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "internal server error; the request id is in the logs")


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {}},
        }
    },
}
# What every operation can answer (authentication, the policy table, validation, limits, dependencies).
ERROR_STATUSES = {
    400: "Bad input (the error code says what)",
    401: "No credential, or one that is not valid",
    403: "The policy table refuses this to your role, scope or relation to the object",
    404: "Not found, or not yours to read",
    405: "Method not allowed",
    409: "Conflicts with the current state",
    413: "Body, upload or archive too large",
    415: "Unsupported media type",
    422: "A malformed request",
    429: "Rate limited (Retry-After says when to retry)",
    503: "A dependency (database, MLflow, signer) is unavailable",
}


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Give every operation of an OpenAPI document the error answers it can give, in the one error shape."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_STATUSES.items():
                responses[str(status)] = {"description": description, "content": reference}
    schema.get("components", {}).get("schemas", {}).pop("HTTPValidationError", None)
    schema.get("components", {}).get("schemas", {}).pop("ValidationError", None)
    return schema


def install_error_handlers(app: FastAPI) -> None:
    """Map every exception kind to the error shape."""
    app.add_exception_handler(HokusaiError, _hokusai_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
