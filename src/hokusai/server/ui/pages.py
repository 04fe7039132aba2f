"""Rendering the results pages: the Jinja2 templates with their number formats, the security headers every
page carries, and refusals as pages for browsers.

``UiRoute`` is the UI router's route class: a refusal (401, 403, 404, 4xx) raised by the policy check or
a service becomes an HTML page when the browser asks for HTML (a 401 sends it to the sign-in form, and a
rejected session cookie is removed); any other client gets the API's JSON error shape unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from hokusai.errors import HokusaiError, InvalidInput, Unauthorized
from hokusai.evaluation.report import REASONS
from hokusai.server.deps import session_cookie
from hokusai.server.principal import Principal
from hokusai.server.ui import session as ui_session

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
SECURITY_HEADERS = {
    # everything from this origin; no inline script or style, no frames, forms post only here
    "Content-Security-Policy": "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # pages show private results; the static files set their own
}


def number(value: Any, digits: int = 4) -> str:
    """A metric value (``—`` when missing)."""
    return "—" if value is None else f"{float(value):.{digits}f}"


def signed(value: Any, digits: int = 2) -> str:
    """A gain or delta with its sign."""
    if value is None:
        return "—"
    return f"{float(value):+.{digits}f}"


def unit_label(unit: str | None) -> str:
    """A delta's unit as people read it: pp for shares, the metric's own units otherwise."""
    if unit in (None, ""):
        return ""
    if unit == "pp":
        return "pp"
    if unit == "r2":
        return "R²"
    return f"{unit.upper()} units"


def gain(value: Any, unit: str | None, digits: int | None = None) -> str:
    """``+5.84 pp`` or ``-0.0312 RMSE units``."""
    places = digits if digits is not None else (2 if unit == "pp" else 4)
    label = unit_label(unit)
    return signed(value, places) + (f" {label}" if label and value is not None else "")


def interval(low: Any, high: Any, unit: str | None) -> str:
    """``[+1.95, +9.73]`` (``—`` without an interval)."""
    if low is None or high is None:
        return "—"
    places = 2 if unit == "pp" else 4
    return f"[{signed(low, places)}, {signed(high, places)}]"


def value_pp(value: Any, error: Any) -> str:
    """A contribution's value with its standard error: ``+1.20 ± 0.30 pp`` (``—`` when not valued)."""
    if value is None:
        return "—"
    return signed(value) + (f" ± {number(error, 2)}" if error is not None else "") + " pp"


def payout(entry: dict[str, Any], weight_bps: Any) -> dict[str, Any]:
    """How a contribution was valued and whether it is paid, from its entry in the run's report: ``method``
    (exact or estimated) and ``retrains``, ``paid`` and ``reason`` as the report gives them (a report
    without them: paid when its weight is above 0), ``reason_text`` in words, ``excluded`` (the validation's
    message when it failed validation)."""
    bps = entry.get("weight_bps", weight_bps)
    paid = entry.get("paid")
    paid = bool(bps) if paid is None else bool(paid)
    reason = entry.get("reason")
    excluded = entry.get("excluded") or {}
    return {
        "method": entry.get("method"),
        "retrains": entry.get("retrains"),
        "paid": paid,
        "reason": reason,
        "reason_text": REASONS.get(reason or "", (reason or "").replace("_", " ")),
        "excluded": excluded.get("message") if isinstance(excluded, dict) else str(excluded),
    }


def weight(bps: Any) -> str:
    """A weight in basis points as a percentage."""
    return "—" if bps is None else f"{int(bps) / 100:.2f} %"


def when(value: Any) -> str:
    """An ISO time as ``2026-12-01 23:49 UTC``."""
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


templates.env.filters.update(number=number, signed=signed, gain=gain, weight=weight, when=when,
                             unit_label=unit_label)  # fmt: skip
templates.env.globals.update(interval=interval, value_pp=value_pp)


def render(
    request: Request,
    template: str,
    principal: Principal | None,
    context: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """A page: ``template`` with the caller and its sign-out CSRF token in the context."""
    state = request.app.state.hokusai
    values = {
        "principal": principal,
        "csrf": ui_session.session_csrf(request, state) if principal is not None else None,
        **(context or {}),
    }
    return templates.TemplateResponse(request, template, values, status_code=status)


def wants_html(request: Request) -> bool:
    """A browser navigating (it asks for HTML), not a script or an API client."""
    return "text/html" in request.headers.get("accept", "")


def error_page(request: Request, exc: HokusaiError) -> Response:
    """A refusal as a page: 401 goes to the sign-in form (dropping a rejected cookie), others explain."""
    if isinstance(exc, Unauthorized):
        target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        response: Response = RedirectResponse(f"/ui/?next={target}&reason={exc.code}", status_code=303)
        if session_cookie(request) is not None:
            ui_session.end_session(response)
        return response
    return templates.TemplateResponse(
        request, "error.html", {"principal": None, "csrf": None, "error": exc}, status_code=exc.status_code
    )


class UiRoute(APIRoute):
    """A results-pages route: security headers on every answer; refusals as pages for browsers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await handler(request)
            except HokusaiError as exc:
                if not wants_html(request):
                    raise
                response = error_page(request, exc)
            except RequestValidationError as exc:
                if not wants_html(request):
                    raise
                first = (exc.errors() or [{}])[0]
                where = ".".join(str(p) for p in first.get("loc", ()))
                message = f"invalid request: {where}: {first.get('msg', 'invalid')}"
                response = error_page(request, InvalidInput(message, code="validation_error"))
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return route
