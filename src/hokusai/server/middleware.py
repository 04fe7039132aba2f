"""Pure ASGI middleware: request ids, Prometheus request metrics, the body limits and the JSON depth bound
(cheap, hot path)."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hokusai.bounds import check_json_depth
from hokusai.errors import HokusaiError, PayloadTooLarge
from hokusai.log import request_id_var

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


class RequestMetrics:
    """The API's Prometheus collectors, held in one registry per app."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "hokusai_http_requests_total",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "hokusai_http_request_duration_seconds",
            "HTTP request latency by route",
            ["method", "route"],
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.auth_failures = Counter(
            "hokusai_auth_failures_total",
            "Refused credentials by reason code",
            ["reason"],
            registry=registry,
        )
        self.rate_limited = Counter(
            "hokusai_rate_limited_total",
            "Requests refused with 429 by bucket kind (api_key, wallet, ip, auth_failure)",
            ["bucket"],
            registry=registry,
        )


class RequestContextMiddleware:
    """Gives each request an id (echoed as ``X-Request-ID``) and records count and latency."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - started)
            request_id_var.reset(token)


class BodyLimitMiddleware:
    """Every request body is bounded before it is read, per route; every non-upload body is a bounded,
    depth-checked document before any route (or FastAPI's JSON parser) sees it.

    * The limit: the upload routes (``uploads.UPLOAD_ROUTES``) take a ``multipart/form-data`` body up to
      their own configured size; every other body (and a non-multipart body on an upload route) gets
      ``json_body_max_bytes``.
    * A declared ``Content-Length`` over the limit is answered 413 at once; a streamed body is counted as
      it arrives and cut at the limit (413).
    * A non-upload body is read here whole (it is at most the JSON limit), its JSON nesting depth checked
      (400 ``json_too_deep``, ``hokusai.bounds``) and handed on; an upload streams through, counted.
    * An answer given before the body was read whole (a 401 from authentication, a 413) closes the
      connection, so the server never reads the rest.

    ``/mlflow/`` is not covered: the proxy reads its bodies itself, under the same limit and depth bound.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, max_depth: int, upload_limits: UploadLimits) -> None:
        self.app = app
        self.max_bytes, self.max_depth = max_bytes, max_depth
        self.upload_limits = upload_limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/mlflow/"):
            await self.app(scope, receive, send)
            return
        headers = scope["headers"]
        content_type = next((v for k, v in headers if k == b"content-type"), b"").decode("latin-1")
        upload = self.upload_limits(scope["method"], scope["path"], content_type)
        limit, setting = upload if upload is not None else (self.max_bytes, "HOKUSAI_JSON_BODY_MAX_BYTES")
        declared = next((v for k, v in headers if k == b"content-length"), None)
        chunked = any(k == b"transfer-encoding" for k, _ in headers)
        if declared is None and not chunked:
            await self.app(scope, receive, send)  # no body
            return
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _answer(send, _too_large(limit, setting))
            return
        state = _BodyState(limit, setting)
        counted = state.counting(receive)
        if upload is None:
            try:
                body = await _read_all(counted)
                check_json_depth(body, self.max_depth)
            except HokusaiError as refused:
                await _answer(send, refused)
                return
            counted = _replay(body, receive)
        await self._forward(scope, counted, send, state)

    async def _forward(self, scope: Scope, receive: Receive, send: Send, state: _BodyState) -> None:
        started = False

        async def send_closing(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if not state.complete:  # answered before the body was read: do not read the rest
                    message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
            await send(message)

        try:
            await self.app(scope, receive, send_closing)
        except _BodyTooLarge as refused:
            if started:
                raise
            await _answer(send, refused)


UploadLimits = Callable[[str, str, str], "tuple[int, str] | None"]
"""``(method, path, content type)`` → ``(limit in bytes, setting)`` of an upload route, else None."""


class _BodyTooLarge(PayloadTooLarge):
    """A streamed body passed its route's limit."""


def _too_large(limit: int, setting: str) -> PayloadTooLarge:
    return _BodyTooLarge(
        f"the request body is larger than {limit} bytes ({setting})", details={"limit_bytes": limit}
    )


class _BodyState:
    """How much of a request body has arrived, against its limit."""

    def __init__(self, limit: int, setting: str) -> None:
        self.limit, self.setting = limit, setting
        self.seen = 0
        self.complete = False

    def counting(self, receive: Receive) -> Receive:
        async def counted() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self.seen += len(message.get("body", b""))
                if self.seen > self.limit:
                    raise _too_large(self.limit, self.setting)
                self.complete = not message.get("more_body", False)
            return message

        return counted


async def _read_all(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _answer(send: Send, refused: HokusaiError) -> None:
    """The error answer of a refused body; the connection closes (the rest of the body is never read)."""
    body = json.dumps(refused.to_dict()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": refused.status_code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
