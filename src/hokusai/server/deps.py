"""Injectable dependencies, each declared once as an ``Annotated`` alias; routes just name them.

``CurrentPrincipal``: the authenticated caller (401/400 otherwise; rate-limited after it is known).
``require_scope("write")``: a dependency factory, 403 ``insufficient_scope`` when the caller lacks it.
``ClientRateLimit``: the per-client-IP limit for endpoints that need no credential.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from hokusai.config import Settings
from hokusai.errors import Forbidden
from hokusai.server.auth.principal import SCOPES, Principal
from hokusai.server.state import AppState


async def get_state(request: Request) -> AppState:
    """The running app's shared state (async: a plain ``def`` would cost a thread-pool hop per request)."""
    return request.app.state.hokusai


async def get_settings(state: Annotated[AppState, Depends(get_state)]) -> Settings:
    """The settings the app was created with."""
    return state.settings


def get_db(state: Annotated[AppState, Depends(get_state)]) -> Iterator[Session]:
    """One session per request, closed afterwards."""
    with state.sessions() as session:
        yield session


def client_ip(request: Request) -> str:
    """The caller's IP as uvicorn saw it (behind a proxy: from trusted X-Forwarded-For)."""
    client = request.scope.get("client")
    return client[0] if client else "unknown"


async def get_current_principal(request: Request) -> Principal:
    """Authenticate the request and attach the principal to ``request.state.principal``."""
    state: AppState = request.app.state.hokusai
    principal = await state.auth.authenticate(request.headers, client_ip(request))
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_current_principal)]


def ensure_scope(state: AppState, principal: Principal, scope: str) -> None:
    """403 ``insufficient_scope`` (counted) unless ``principal`` holds ``scope``."""
    if not principal.has_scope(scope):
        state.metrics.auth_failures.labels("insufficient_scope").inc()
        raise Forbidden(
            f"this needs the {scope!r} scope; the credential has {', '.join(sorted(principal.scopes))}",
            code="insufficient_scope",
            details={"required": scope, "granted": sorted(principal.scopes)},
        )


def require_scope(scope: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that yields the caller when it holds ``scope`` (``admin`` holds every scope)."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; known: {', '.join(SCOPES)}")

    async def dependency(request: Request, principal: CurrentPrincipal) -> Principal:
        ensure_scope(request.app.state.hokusai, principal, scope)
        return principal

    dependency.__name__ = f"require_scope_{scope}"
    return dependency


async def limit_client(request: Request) -> None:
    """Charge the per-client-IP rate limit (endpoints that take no credential)."""
    await request.app.state.hokusai.limiter.hit_client(client_ip(request))


StateDep = Annotated[AppState, Depends(get_state)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_db)]
ReadPrincipal = Annotated[Principal, Depends(require_scope("read"))]
WritePrincipal = Annotated[Principal, Depends(require_scope("write"))]
AdminPrincipal = Annotated[Principal, Depends(require_scope("admin"))]
ClientRateLimit = Depends(limit_client)
