"""``/mlflow/``: the MLflow REST API, artifact store and UI, behind the platform's authentication and
MLflow's own permission model (``mlflow_access``: an allowlist of endpoints, each resolved to the
experiment or registered model it touches and checked against the caller's READ / EDIT / MANAGE level).

Artifact bodies stream both ways (never buffered whole); the small JSON bodies that carry resource ids
are read first (up to ``HOKUSAI_JSON_BODY_MAX_BYTES``), and search answers are filtered to what the caller
may read. The caller's credentials and forwarding headers are not forwarded (``X-Forwarded-For`` is the
real peer), MLflow's cookies do not come back, and MLflow writes are audited. Refusals carry MLflow's
``error_code``/``message`` beside the platform's error shape, so MLflow clients show the reason. MLflow
itself listens on loopback or a private subnet only. ``Authorization: Basic`` with an API key as the
password is accepted too, so a browser can open the UI and MLflow clients using
``MLFLOW_TRACKING_USERNAME/PASSWORD`` work.

The proxy is a plain ASGI app mounted at ``/mlflow`` (no per-request dependency injection or response
objects: it is on the hot path of every MLflow client call); errors it raises still reach the app's
handlers and leave in the one error shape.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from multidict import CIMultiDict
from starlette._utils import get_route_path
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from hokusai.bounds import check_json_depth
from hokusai.errors import HokusaiError, PayloadTooLarge, ServiceUnavailable, Unauthorized
from hokusai.server import mlflow_messages
from hokusai.server.deps import Checked
from hokusai.server.mlflow_access import Decision, MlflowAccess, match, unseen
from hokusai.server.mlflow_access import Request as AccessRequest
from hokusai.server.mlflow_messages import Parsed, canonical
from hokusai.server.principal import Principal
from hokusai.server.proxy_rules import HOP_BY_HOP_RESPONSE, request_headers, upstream_path
from hokusai.server.state import AppState

router = APIRouter(include_in_schema=False)
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
BROWSER_CHALLENGE = {"WWW-Authenticate": 'Basic realm="Hokusai MLflow (password: your API key)"'}
UPSTREAM_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=5.0, sock_read=300.0)
NO_AUTO_HEADERS = frozenset({"User-Agent", "Accept-Encoding", "Accept", "Content-Type"})  # the client's pass
CHUNK_BYTES = 1 << 20  # downloads are passed on in chunks of up to 1 MiB: bounded memory
FILTERED_MAX_BYTES = 64 << 20  # a search answer the proxy filters is read whole, up to this
_SAFE_PATH = "/:@!$&'()*+,;=-._~"
_MLFLOW_CODES = {
    400: "INVALID_PARAMETER_VALUE", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST", 413: "INVALID_PARAMETER_VALUE", 422: "INVALID_PARAMETER_VALUE",
    429: "REQUEST_LIMIT_EXCEEDED", 503: "TEMPORARILY_UNAVAILABLE",
}  # fmt: skip


def _basic_as_bearer(headers: Headers) -> MutableHeaders:
    """The request headers with ``Authorization: Basic user:<key>`` rewritten to ``Bearer <key>``."""
    rewritten = MutableHeaders(scope={"type": "http", "headers": list(headers.raw)})
    value = rewritten.get("authorization", "")
    if value[:6].lower() == "basic ":
        try:
            _user, _, password = base64.b64decode(value[6:], validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("malformed Basic credentials", code="malformed_credentials") from None
        rewritten["authorization"] = f"Bearer {password}"
    return rewritten


async def proxy_principal(state: AppState, scope: Scope, headers: Headers) -> Principal:
    """The caller of a proxied request; a refusal carries a Basic challenge so browsers prompt."""
    client = scope.get("client")
    try:
        return await state.auth.authenticate(_basic_as_bearer(headers), client[0] if client else "unknown")
    except Unauthorized as exc:
        exc.headers.update(BROWSER_CHALLENGE)
        raise


@router.api_route("/mlflow", methods=METHODS, dependencies=[Checked])
async def mlflow_root(request: Request) -> RedirectResponse:
    """``/mlflow`` → ``/mlflow/`` (the UI's relative links need the slash); authenticated like the rest."""
    await proxy_principal(request.app.state.hokusai, request.scope, request.headers)
    return RedirectResponse("/mlflow/", status_code=307)


async def _request_body(receive: Receive) -> AsyncIterator[bytes]:
    """The caller's body as it arrives (never held whole)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        if chunk := message.get("body", b""):
            yield chunk
        if not message.get("more_body", False):
            return


async def _read_body(receive: Receive, limit: int) -> bytes:
    """The whole (small, JSON) body, refused past ``limit`` bytes."""
    chunks, size = [], 0
    async for chunk in _request_body(receive):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(
                f"the request body is larger than {limit} bytes", details={"limit_bytes": limit}
            )
        chunks.append(chunk)
    return b"".join(chunks)


async def _send_error(send: Send, exc: HokusaiError) -> None:
    """The platform's error shape with MLflow's ``error_code``/``message`` beside it (MLflow clients read
    those)."""
    mlflow_code = _MLFLOW_CODES.get(exc.status_code, "INTERNAL_ERROR")
    body = json.dumps(
        {**exc.to_dict(), "error_code": mlflow_code, "message": exc.message}, separators=(",", ":")
    ).encode()
    headers = {**exc.headers}
    if isinstance(exc, Unauthorized):
        headers.update(BROWSER_CHALLENGE)
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), str(v).encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": exc.status_code, "headers": raw})
    await send({"type": "http.response.body", "body": body, "more_body": False})


class MlflowProxy:
    """ASGI app for ``/mlflow/…``: authenticate, check permissions, forward, stream (or filter) back."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        try:
            await self._proxy(scope, receive, send)
        except HokusaiError as exc:
            await _send_error(send, exc)

    async def _proxy(self, scope: Scope, receive: Receive, send: Send) -> None:
        state, headers, query = (
            self.state,
            Headers(scope=scope),
            scope.get("query_string", b"").decode("latin-1"),
        )
        principal = await proxy_principal(state, scope, headers)
        target = upstream_path(get_route_path(scope).lstrip("/"), scope.get("raw_path") or b"", query)
        method = scope["method"]
        access: MlflowAccess = state.mlflow_access
        parsed = await self._parse(method, target, query, receive)
        decision = await access.check(principal, AccessRequest(method, target, parsed.fields))
        assert state.http is not None
        url = f"{state.settings.mlflow_url}/{quote(target, safe=_SAFE_PATH)}"
        url += f"?{parsed.query}" if parsed.query else ""
        data: Any = parsed.body
        if parsed.stream:
            data = _request_body(receive)
        client = scope.get("client")
        upstream_headers = CIMultiDict(
            request_headers(headers.items(), client[0] if client else "unknown", own_body=not parsed.stream)
        )
        if parsed.body is not None:
            upstream_headers["Content-Type"] = "application/json"
        if decision.after:
            upstream_headers["Accept-Encoding"] = "identity"  # the answer is read and rewritten here
        try:
            upstream = await state.http.request(
                method, url, headers=upstream_headers, data=data, timeout=UPSTREAM_TIMEOUT,
                allow_redirects=False, skip_auto_headers=NO_AUTO_HEADERS,
            )  # fmt: skip
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ServiceUnavailable(
                f"MLflow is not reachable ({type(exc).__name__}); try again shortly",
                code="mlflow_unavailable",
            ) from None
        try:
            await self._answer(send, principal, decision, upstream)
        finally:
            upstream.release()
        if decision.writes and upstream.status < 400:
            await access.deleted(principal, decision)
            named = decision.named or decision.resources
            state.audit.add(
                "mlflow_write", principal_id=principal.id, key_id=principal.key_id,
                wallet_address=principal.wallet_address, client_ip=client[0] if client else None,
                resource=",".join(f"{t}:{i}" for t, i in named)[:300] or None,
                details={"method": method, "path": target[:500], "status": upstream.status,
                         "checked": [f"{t}:{i}" for t, i in decision.resources][:20]},
            )  # fmt: skip

    async def _parse(self, method: str, target: str, query: str, receive: Receive) -> Parsed:
        """The request as MLflow will read it (``mlflow_messages``), and what to forward: a re-serialised
        message for allowlisted endpoints; the client's request as it is for the UI's shell (which names
        no object) and for the endpoints only admins may call."""
        passthrough = Parsed({}, query=query, stream=method not in ("GET", "HEAD", "OPTIONS"))
        route = match(method, target)
        if route is None or route[0].kind == "open":
            return passthrough
        if not mlflow_messages.loaded():  # the endpoint table's first build imports MLflow (~1.5 s)
            await run_in_threadpool(mlflow_messages.endpoints)
        bound = mlflow_messages.find(method, target)
        if bound is None:
            raise mlflow_messages.bad_request(f"MLflow has no endpoint {method} {canonical(target)}")
        body = None
        if bound.endpoint.reads_body:
            body = await _read_body(receive, self.state.settings.json_body_max_bytes)
            check_json_depth(body, self.state.settings.json_max_depth)  # before any parser sees it
        return bound.parse(query, body)

    async def _answer(
        self, send: Send, principal: Principal, decision: Decision, upstream: aiohttp.ClientResponse
    ) -> None:
        headers = [(k.lower(), v) for k, v in upstream.raw_headers
                   if k.decode("latin-1").lower() not in HOP_BY_HOP_RESPONSE]  # fmt: skip
        if decision.hidden and upstream.status == 404:  # the same answer as for another's object
            raise unseen(decision.hidden)
        if decision.after and upstream.status == 200:
            body = await upstream.content.read(FILTERED_MAX_BYTES)
            body = await self.state.mlflow_access.after_response(principal, decision, body)
            headers = [(k, v) for k, v in headers if k not in (b"content-length", b"content-encoding")]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": upstream.status, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        await send({"type": "http.response.start", "status": upstream.status, "headers": headers})
        async for chunk in upstream.content.iter_chunked(CHUNK_BYTES):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
