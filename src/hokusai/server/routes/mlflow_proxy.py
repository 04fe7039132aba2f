"""``/mlflow/``: the MLflow REST API, artifact store and UI, behind the platform's authentication.

Reads need ``read``, mutations need ``write`` (``proxy_rules``). Bodies stream both ways (artifact
uploads and downloads are never buffered whole). The caller's credentials are not forwarded; MLflow
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
from collections.abc import AsyncIterator
from urllib.parse import quote

import aiohttp
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from multidict import CIMultiDict
from starlette._utils import get_route_path
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from hokusai.errors import ServiceUnavailable, Unauthorized
from hokusai.server.auth.principal import Principal
from hokusai.server.deps import ensure_scope
from hokusai.server.proxy_rules import HOP_BY_HOP_RESPONSE, request_headers, required_scope, upstream_path
from hokusai.server.state import AppState

router = APIRouter(include_in_schema=False)
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
BROWSER_CHALLENGE = {"WWW-Authenticate": 'Basic realm="Hokusai MLflow (password: your API key)"'}
UPSTREAM_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=5.0, sock_read=300.0)
NO_AUTO_HEADERS = frozenset({"User-Agent", "Accept-Encoding", "Accept", "Content-Type"})  # the client's pass
CHUNK_BYTES = 1 << 20  # downloads are passed on in chunks of up to 1 MiB: bounded memory
_SAFE_PATH = "/:@!$&'()*+,;=-._~"


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


@router.api_route("/mlflow", methods=METHODS)
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


class MlflowProxy:
    """ASGI app for ``/mlflow/…``: authenticate, authorise by operation, forward, stream back."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        state, headers, query = (
            self.state,
            Headers(scope=scope),
            scope.get("query_string", b"").decode("latin-1"),
        )
        principal = await proxy_principal(state, scope, headers)
        target = upstream_path(get_route_path(scope).lstrip("/"), scope.get("raw_path") or b"", query)
        ensure_scope(state, principal, required_scope(scope["method"], target))
        assert state.http is not None
        url = f"{state.settings.mlflow_url}/{quote(target, safe=_SAFE_PATH)}" + (f"?{query}" if query else "")
        body = _request_body(receive) if scope["method"] not in ("GET", "HEAD", "OPTIONS") else None
        try:
            upstream = await state.http.request(
                scope["method"], url, headers=CIMultiDict(request_headers(headers.items())), data=body,
                timeout=UPSTREAM_TIMEOUT, allow_redirects=False, skip_auto_headers=NO_AUTO_HEADERS,
            )  # fmt: skip
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ServiceUnavailable(
                f"MLflow is not reachable ({type(exc).__name__}); try again shortly",
                code="mlflow_unavailable",
            ) from None
        try:
            await send({
                "type": "http.response.start",
                "status": upstream.status,
                "headers": [(k.lower(), v) for k, v in upstream.raw_headers
                            if k.decode("latin-1").lower() not in HOP_BY_HOP_RESPONSE],
            })  # fmt: skip
            async for chunk in upstream.content.iter_chunked(CHUNK_BYTES):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            upstream.release()
