"""Injectable dependencies, each declared once as an ``Annotated`` alias; routes just name them.

``Caller``: the authenticated caller, already checked against the policy table's row for the route it
calls (role and scope; 401/403 otherwise). ``OptionalCaller``: the same for public endpoints, ``None``
without a credential. Object-level decisions are ``policy.require(caller, action, subject)`` in the route.
``CurrentPrincipal``: authentication alone (test probes). ``ClientRateLimit``: the per-client-IP limit for
endpoints that need no credential.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from sqlalchemy.orm import Session

from hokusai.config import Settings
from hokusai.errors import Forbidden
from hokusai.server import policy
from hokusai.server.auth import sessions
from hokusai.server.body_schema import check_body
from hokusai.server.principal import SCOPES, Principal
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


_CREDENTIAL_HEADERS = (b"authorization", b"x-api-key", b"x-eth-address", b"x-eth-signature", b"x-eth-message")


def has_credential_headers(request: Request) -> bool:
    """Whether the request sends a credential in its headers (an API key or the wallet headers)."""
    return any(name in _CREDENTIAL_HEADERS for name, _ in request.scope["headers"])


def session_cookie(request: Request) -> str | None:
    """The results pages' session cookie, on ``/ui`` paths only and only when no header credential is
    sent (a header credential is explicit; the cookie is ambient, so it never reaches the JSON API)."""
    if not request.scope["path"].startswith(sessions.PATH) or has_credential_headers(request):
        return None
    return request.cookies.get(sessions.COOKIE) or None


async def get_current_principal(request: Request) -> Principal:
    """Authenticate the request (cache, rate limit, audit of refusals: ``Authenticator.authenticate``);
    on ``/ui`` pages by the session cookie when it is the credential."""
    state: AppState = request.app.state.hokusai
    token = session_cookie(request)
    if token is not None:
        return await state.auth.authenticate_session(token, client_ip(request))
    return await state.auth.authenticate(request.headers, client_ip(request))


CurrentPrincipal = Annotated[Principal, Depends(get_current_principal)]


async def authorize_route(request: Request) -> Principal | None:
    """The caller of this route, checked against the policy table (the row is found by the route's path
    template, so a route without a row is refused). Public routes authenticate only when a credential is
    sent, so an owner reading a public object still sees what it owns.

    Then the JSON body is checked against the operation's published schema (``body_schema``): after the
    caller, so a refused caller learns nothing from it.

    Every route depends on this exactly once, directly (``Caller``, ``OptionalCaller`` or ``Checked``):
    ``require_checked_routes`` refuses to build an app with a route that does not. One dependency, not two:
    each level of FastAPI's dependency solving costs on every authenticated request.
    """
    scope = request.scope
    route = scope.get("route")
    rule = policy.rule_for(scope["method"], route.path if route is not None else scope["path"])
    principal: Principal | None = None
    if rule.access is not policy.Access.PROXY and (  # the proxy authenticates itself (Basic credentials too)
        rule.access not in (policy.Access.PUBLIC, policy.Access.WORKER)
        or has_credential_headers(request)
        or session_cookie(request) is not None
    ):
        principal = await get_current_principal(request)
    policy.check_caller(principal, rule)
    await check_body(request)
    return principal


async def authorize_caller(request: Request) -> Principal:
    """``authorize_route`` for routes whose rule needs a credential (so never ``None``)."""
    principal = await authorize_route(request)
    assert principal is not None, "a route declaring Caller must have a rule that needs a credential"
    return principal


Caller = Annotated[Principal, Depends(authorize_caller)]
OptionalCaller = Annotated[Principal | None, Depends(authorize_route)]
Checked = Depends(authorize_route)  # for routes that use no principal: ``dependencies=[Checked]``
_AUTHORIZERS = (authorize_route, authorize_caller)


def require_checked_routes(app: FastAPI) -> None:
    """Fail to build the app when a route is not checked against the policy table (fail closed)."""
    from fastapi.routing import APIRoute, iter_route_contexts

    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and not any(
            d.call in _AUTHORIZERS for d in route.dependant.dependencies
        ):
            raise RuntimeError(f"route {context.path} does not depend on the policy check (Caller, Checked)")


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
