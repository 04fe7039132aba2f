"""``/mlflow/``: the MLflow REST API, artifact store and UI, behind the platform's authentication.

Reads need ``read``, mutations need ``write`` (``proxy_rules``). Bodies stream both ways (artifact
uploads and downloads are never buffered whole). The caller's credentials are not forwarded; MLflow
itself listens on loopback or a private subnet only. ``Authorization: Basic`` with an API key as the
password is accepted too, so a browser can open the UI and MLflow clients using
``MLFLOW_TRACKING_USERNAME/PASSWORD`` work.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from starlette.background import BackgroundTask
from starlette.datastructures import MutableHeaders

from hokusai.errors import ServiceUnavailable, Unauthorized
from hokusai.server.auth.principal import Principal
from hokusai.server.deps import StateDep, client_ip, ensure_scope
from hokusai.server.proxy_rules import request_headers, required_scope, response_headers, upstream_path

router = APIRouter(include_in_schema=False)
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
BROWSER_CHALLENGE = {"WWW-Authenticate": 'Basic realm="Hokusai MLflow (password: your API key)"'}
UPSTREAM_TIMEOUT = httpx.Timeout(connect=5.0, read=300.0, write=300.0, pool=10.0)
CHUNK_BYTES = 1 << 20  # bodies are passed on in chunks of up to 1 MiB: few writes, bounded memory
_SAFE_PATH = "/:@!$&'()*+,;=-._~"


async def _coalesced(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Re-chunk a streamed body into pieces of up to ``CHUNK_BYTES`` (never the whole body)."""
    buffer = bytearray()
    async for chunk in chunks:
        buffer += chunk
        if len(buffer) >= CHUNK_BYTES:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)


def _basic_as_bearer(request: Request) -> MutableHeaders:
    """The request headers with ``Authorization: Basic user:<key>`` rewritten to ``Bearer <key>``."""
    headers = MutableHeaders(scope={"type": "http", "headers": list(request.headers.raw)})
    value = headers.get("authorization", "")
    if value[:6].lower() == "basic ":
        try:
            _user, _, password = base64.b64decode(value[6:], validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("malformed Basic credentials", code="malformed_credentials") from None
        headers["authorization"] = f"Bearer {password}"
    return headers


async def proxy_principal(request: Request, state: StateDep) -> Principal:
    """The caller of a proxied request; a refusal carries a Basic challenge so browsers prompt."""
    try:
        principal = await state.auth.authenticate(_basic_as_bearer(request), client_ip(request))
    except Unauthorized as exc:
        exc.headers.update(BROWSER_CHALLENGE)
        raise
    request.state.principal = principal
    return principal


ProxyPrincipal = Annotated[Principal, Depends(proxy_principal)]


@router.api_route("/mlflow", methods=METHODS)
async def mlflow_root(_principal: ProxyPrincipal) -> RedirectResponse:
    """``/mlflow`` → ``/mlflow/`` (the UI's relative links need the slash)."""
    return RedirectResponse("/mlflow/", status_code=307)


@router.api_route("/mlflow/{path:path}", methods=METHODS)
async def mlflow_proxy(path: str, request: Request, principal: ProxyPrincipal, state: StateDep) -> Response:
    """Forward one request to MLflow and stream its answer back."""
    target = upstream_path(path, request.scope.get("raw_path") or b"", request.url.query)
    ensure_scope(state, principal, required_scope(request.method, target))
    assert state.http is not None
    url = f"{state.settings.mlflow_url}/{quote(target, safe=_SAFE_PATH)}"
    if request.url.query:
        url = f"{url}?{request.url.query}"
    body = _coalesced(request.stream()) if request.method not in ("GET", "HEAD", "OPTIONS") else None
    upstream_request = state.http.build_request(
        request.method, url, headers=request_headers(request.headers.items()), content=body,
        timeout=UPSTREAM_TIMEOUT,
    )  # fmt: skip
    try:
        upstream = await state.http.send(upstream_request, stream=True)
    except httpx.HTTPError as exc:
        raise ServiceUnavailable(
            f"MLflow is not reachable ({type(exc).__name__}); try again shortly", code="mlflow_unavailable"
        ) from None
    response = StreamingResponse(
        upstream.aiter_raw(CHUNK_BYTES),
        status_code=upstream.status_code,
        background=BackgroundTask(upstream.aclose),
    )
    response.raw_headers = [
        (name.encode("latin-1"), value.encode("latin-1"))
        for name, value in response_headers(upstream.headers.multi_items())
    ]
    return response
