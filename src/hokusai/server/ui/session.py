"""The results pages' cookies and CSRF checks.

The session cookie (``hokusai_session``: HttpOnly, SameSite=Strict, Path=/ui, Secure on https) holds a
signed token (``hokusai.server.auth.sessions``) that names the signed-in key; the authenticator checks it
against the key on every request. State-changing forms carry a CSRF token: the session's own CSRF secret
once signed in; before that (the sign-in form), a signed nonce that must match a short-lived cookie
(signed double-submit). A request that authenticates with a header credential is not a browser riding on
an ambient cookie, so it needs no CSRF token.
"""

from __future__ import annotations

import hmac
import secrets
import time

from fastapi import Request
from fastapi.responses import Response

from hokusai.errors import Forbidden
from hokusai.server.auth import sessions
from hokusai.server.deps import session_cookie
from hokusai.server.state import AppState

SIGNIN_COOKIE = "hokusai_signin"
SIGNIN_SECONDS = 3600  # how long a sign-in form stays usable
HOME = "/ui/models"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _set(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path=sessions.PATH, httponly=True, samesite="strict",
        secure=_secure(request),
    )  # fmt: skip


def start_session(response: Response, request: Request, token: str, expires: float) -> None:
    """Give the browser its session cookie (and drop the sign-in form's cookie)."""
    _set(response, request, sessions.COOKIE, token, max(1, int(expires - time.time())))
    response.delete_cookie(SIGNIN_COOKIE, path=sessions.PATH)


def end_session(response: Response) -> None:
    """Remove the session cookie from the browser."""
    response.delete_cookie(sessions.COOKIE, path=sessions.PATH, httponly=True, samesite="strict")


def session_csrf(request: Request, state: AppState) -> str | None:
    """The CSRF secret of the session the request is signed in with (None: not by its cookie)."""
    token = session_cookie(request)
    if token is None:
        return None
    return state.auth.session_tokens.read(token).csrf


def _refused(what: str) -> Forbidden:
    return Forbidden(
        f"{what} carries no valid CSRF token: reload the page and submit the form again",
        code="csrf_failed",
    )


def check_session_csrf(request: Request, state: AppState, sent: object) -> None:
    """403 ``csrf_failed`` unless a cookie-authenticated form sends its session's CSRF secret."""
    expected = session_csrf(request, state)
    if expected is None:
        return  # a header credential: no ambient authority to forge
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise _refused("this form")


def new_signin_form(state: AppState) -> tuple[str, str]:
    """``(nonce, token)`` of a new sign-in form: the token goes in the form, the nonce in a cookie
    (``remember_signin_form``), and the POST must bring back both."""
    nonce = secrets.token_urlsafe(24)
    return nonce, state.auth.session_tokens.form_token(nonce)


def remember_signin_form(response: Response, request: Request, nonce: str) -> None:
    """The sign-in form's cookie half."""
    _set(response, request, SIGNIN_COOKIE, nonce, SIGNIN_SECONDS)


def check_signin_csrf(request: Request, state: AppState, sent: object) -> None:
    """403 ``csrf_failed`` unless the sign-in form's token matches its cookie and is recent."""
    cookie = request.cookies.get(SIGNIN_COOKIE)
    nonce = state.auth.session_tokens.form_nonce(sent, SIGNIN_SECONDS) if isinstance(sent, str) else None
    if not cookie or nonce is None or not hmac.compare_digest(nonce.encode(), cookie.encode()):
        raise _refused("the sign-in form")


def safe_next(value: object) -> str:
    """Where to go after signing in: a path of the results pages, never another site."""
    if isinstance(value, str) and value.startswith("/ui/") and "//" not in value and "\\" not in value:
        return value
    return HOME
