"""Pure ASGI middleware: request ids, Prometheus request metrics, the JSON body limit (cheap, hot path)."""

from __future__ import annotations

import json
import re
import time
import uuid

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hokusai.errors import PayloadTooLarge
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
    """Refuses a JSON (non-multipart) request body over ``max_bytes`` with 413 before it is held whole.

    A declared ``Content-Length`` over the limit is answered at once; a body without one is read here up to
    the limit (and refused past it) before the app sees it. Multipart uploads have their own limit
    (``HOKUSAI_UPLOAD_MAX_BYTES``, streamed to disk); the MLflow proxy limits the bodies it reads itself.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _limited(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return False
        if scope["path"].startswith("/mlflow/"):
            return False
        content_type = next((v for k, v in scope["headers"] if k == b"content-type"), b"")
        return not content_type.lower().startswith(b"multipart/form-data")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._limited(scope):
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), b"")
        if declared.isdigit():
            if int(declared) > self.max_bytes:
                await self._refuse(send)
                return
            await self.app(scope, receive, send)
            return
        # No declared length (chunked): read it here, up to the limit, then hand it on whole.
        chunks, seen = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _message(self) -> str:
        return f"the request body is larger than {self.max_bytes} bytes (HOKUSAI_JSON_BODY_MAX_BYTES)"

    async def _refuse(self, send: Send) -> None:
        refused = PayloadTooLarge(self._message(), details={"limit_bytes": self.max_bytes})
        body = json.dumps(refused.to_dict()).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
