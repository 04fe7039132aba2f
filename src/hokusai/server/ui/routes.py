"""``/ui/``: the results pages. Server-rendered, behind the API's own authentication and policy table.

Each page is checked as the JSON endpoint whose object it shows (its row in ``policy.ENDPOINTS`` names
that action) and reads through the same services with the same ``policy.require`` / ``policy.visible``
calls, so a page never shows what the API would refuse. Signed in with an API key entered once
(``POST /ui/sign-in``), the browser holds a session cookie (``ui.session``); accepted attestations are
public, as in the API.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from hokusai.errors import HokusaiError, InvalidInput, NotFound, Unauthorized
from hokusai.server import policy
from hokusai.server.db.models import Attestation, Run
from hokusai.server.deps import (
    Caller,
    Checked,
    ClientRateLimit,
    OptionalCaller,
    SessionDep,
    SettingsDep,
    StateDep,
    client_ip,
)
from hokusai.server.services import benchmarks
from hokusai.server.services.access import (
    attestation_subject,
    contribution_subject,
    contributor_subject,
    run_subject,
)
from hokusai.server.services.attestations import (
    contribution_value,
    contributor_impact,
    get_attestation,
    verify_document,
)
from hokusai.server.services.audit import record_event
from hokusai.server.services.contributions import contributions_of, list_contributions, terms_view
from hokusai.server.services.mint import mint_request_for_run
from hokusai.server.services.models import get_model, get_model_by_id, lineage, list_models, model_view
from hokusai.server.services.rights import contribution_view
from hokusai.server.services.runs import FINISHED, get_run, list_runs, run_contributions, run_view
from hokusai.server.state import AppState
from hokusai.server.ui import session as ui_session
from hokusai.server.ui.charts import lineage_chart
from hokusai.server.ui.pages import UiRoute, payout, render
from hokusai.wallet import checksum_address

router = APIRouter(prefix="/ui", route_class=UiRoute, include_in_schema=False)
STATIC = Path(__file__).parent / "static"
ASSETS = {"style.css": "text/css; charset=utf-8", "run.js": "text/javascript; charset=utf-8"}
PLOT_NAME = re.compile(r"^[a-z0-9_]{1,64}\.png$")
PLOT_ALT = {
    "roc_curves": "ROC curves of the baseline and the candidate on the benchmark",
    "metric_deltas": "Gain of every metric with its confidence interval",
    "confusion_matrices": "Confusion matrices of the baseline and the candidate",
    "residuals": "Residuals of the baseline and the candidate against their predictions",
    "predicted_vs_actual": "Predicted against actual values, baseline and candidate",
}
WIDE_PLOTS = frozenset({"confusion_matrices"})  # two panels side by side: shown across the whole row
SIGN_IN_REASONS = {
    "credentials_missing": "Sign in to see this page.",
    "session_expired": "Your session has expired: sign in again.",
    "session_invalid": "Your session is no longer valid: sign in again.",
    "key_revoked": "The API key of your session was revoked: sign in with another key.",
    "key_expired": "The API key of your session has expired: sign in with another key.",
}


# --- sign-in and sign-out ---------------------------------------------------------------------------


def _sign_in_form(
    request: Request, principal: Any, state: AppState, *, next_url: str, error: str | None = None,
    notice: str | None = None, status: int = 200,
) -> HTMLResponse:  # fmt: skip
    nonce, token = ui_session.new_signin_form(state)
    context = {"next": next_url, "error": error, "notice": notice, "signin_csrf": token}
    response = render(request, "signin.html", principal, context, status=status)
    ui_session.remember_signin_form(response, request, nonce)
    return response


@router.get("/", response_class=HTMLResponse)
def sign_in_page(
    request: Request, principal: OptionalCaller, state: StateDep, next: str = "", reason: str = ""
) -> HTMLResponse:
    """The sign-in form (an API key, entered once); signed in, it says as whom."""
    notice = SIGN_IN_REASONS.get(reason) if principal is None else None
    return _sign_in_form(request, principal, state, next_url=ui_session.safe_next(next), notice=notice)


@router.post("/sign-in", dependencies=[ClientRateLimit])
async def sign_in(request: Request, principal: OptionalCaller, state: StateDep) -> Response:
    """Check the key as the API does (refusals counted, audited and rate-limited), then start a session
    that names the key: 303 to where the user was going."""
    form = await request.form()
    next_url = ui_session.safe_next(form.get("next"))
    ui_session.check_signin_csrf(request, state, form.get("csrf"))
    key = str(form.get("api_key") or "").strip()
    if not key:
        return _sign_in_form(
            request, principal, state, next_url=next_url, error="Enter an API key.", status=400
        )
    try:
        who = await state.auth.authenticate({"authorization": f"Bearer {key}"}, client_ip(request))
    except (Unauthorized, InvalidInput) as exc:
        return _sign_in_form(
            request, principal, state, next_url=next_url, status=401,
            error=f"That API key was refused: {exc.message}.",
        )  # fmt: skip
    assert who.key_id is not None
    token, expires = state.auth.session_tokens.issue(
        who.key_id, who.id, not_after=who.expires_at.timestamp() if who.expires_at else None
    )

    def audit() -> None:
        with state.sessions() as session:
            record_event(session, "ui_signed_in", principal_id=who.id, key_id=who.key_id,
                         client_ip=client_ip(request))  # fmt: skip
            session.commit()

    await run_in_threadpool(audit)
    response = RedirectResponse(next_url, status_code=303)
    ui_session.start_session(response, request, token, expires)
    return response


@router.post("/sign-out")
async def sign_out(request: Request, _principal: Caller, state: StateDep) -> Response:
    """End the browser's session (a CSRF-checked form). The key itself stays valid: revoke it to end
    every session made with it."""
    form = await request.form()
    ui_session.check_session_csrf(request, state, form.get("csrf"))
    response = RedirectResponse("/ui/", status_code=303)
    ui_session.end_session(response)
    return response


@router.get("/static/{name}", dependencies=[Checked, ClientRateLimit])
def static(name: str) -> FileResponse:
    """The stylesheet and the run page's script, from the package (no CDN)."""
    if name not in ASSETS:
        raise NotFound(f"no static file {name!r}", code="not_found")
    return FileResponse(
        STATIC / name, media_type=ASSETS[name], headers={"Cache-Control": "public, max-age=300"}
    )


def _json(view: BaseModel) -> dict[str, Any]:
    """An API answer as the templates read it: its JSON, as a dict (the same values the API sends)."""
    return view.model_dump(mode="json")


# --- models -----------------------------------------------------------------------------------------


@router.get("/models", response_class=HTMLResponse)
def models_page(request: Request, principal: Caller, session: SessionDep) -> HTMLResponse:
    """The model catalogue."""
    return render(
        request,
        "models.html",
        principal,
        {"models": [_json(model_view(session, m)) for m in list_models(session)]},
    )


@router.get("/models/{name}", response_class=HTMLResponse)
def model_page(
    request: Request, name: str, principal: Caller, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """A model: its lineage (chart and table), its benchmark spec, and the contributions and runs the
    caller may read."""
    model = get_model(session, name)
    history = _json(lineage(session, settings, model, principal))
    specs = [_json(benchmarks.spec_view(session, row)) for row in benchmarks.list_specs(session, model)]
    contributions = policy.visible(
        principal,
        "contribution.read",
        ((contribution_subject(c, model), c) for c in list_contributions(session, model)),
    )
    runs = policy.visible(
        principal, "run.read", ((run_subject(session, r, model), r) for r in list_runs(session, model))
    )
    return render(request, "model.html", principal, {
        "model": _json(model_view(session, model)),
        "lineage": history,
        "chart": lineage_chart(history),
        "spec": next((s for s in specs if s["current"]), None),
        "specs": specs,
        "contributions": [_json(contribution_view(session, c, model, settings)) for c in contributions],
        "runs": [_json(run_view(session, r)) for r in runs],
    })  # fmt: skip


# --- runs -------------------------------------------------------------------------------------------


def _readable_run(session: SessionDep, principal: Any, run_id: str) -> Run:
    run = get_run(session, run_id)
    policy.require(principal, "run.read", run_subject(session, run, get_model_by_id(session, run.model_id)))
    return run


def _plots(settings: SettingsDep, run: Run) -> list[dict[str, Any]]:
    """The PNG plots the run's worker wrote, by file name (read from the folder, never from a request)."""
    folder = settings.data_dir / "runs" / run.id / "plots"
    if not folder.is_dir():
        return []
    names = sorted(p.name for p in folder.iterdir() if p.is_file() and PLOT_NAME.match(p.name))
    return [
        {"name": n, "alt": PLOT_ALT.get(n.removesuffix(".png"), f"plot {n}"),
         "wide": n.removesuffix(".png") in WIDE_PLOTS}
        for n in names
    ]  # fmt: skip


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(
    request: Request, run_id: str, principal: Caller, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """A run: its state and progress while it runs (the page's script follows it), then the verdict, every
    metric, the reason in words, the plots and the contributors."""
    run = _readable_run(session, principal, run_id)
    view = _json(run_view(session, run))
    attestation = session.get(Attestation, run.attestation_id) if run.attestation_id else None
    report = attestation.report if attestation is not None else None
    entries = (report or {}).get("contributions") or []
    contributors = [
        {"id": c.id, "wallet": c.contributor_address, "weight_bps": link.weight_bps,
         "terms": None if (terms := terms_view(c.terms)) is None else _json(terms),
         **_json(contribution_value(session, run, position)),
         **payout(entries[position] if position < len(entries) else {}, link.weight_bps)}
        for position, (link, c) in enumerate(run_contributions(session, run))
    ]  # fmt: skip
    return render(request, "run.html", principal, {
        "run": view, "report": report, "contributors": contributors, "plots": _plots(settings, run),
        "finished": run.state in FINISHED,
    })  # fmt: skip


@router.get("/runs/{run_id}/state")
def run_state(run_id: str, principal: Caller, session: SessionDep) -> JSONResponse:
    """What the run page's script polls: state and progress (the JSON API's run view)."""
    view = _json(run_view(session, _readable_run(session, principal, run_id)))
    return JSONResponse({k: view[k] for k in ("id", "state", "progress", "outcome", "error")},
                        headers={"Cache-Control": "no-store"})  # fmt: skip


@router.get("/runs/{run_id}/plots/{name}")
def run_plot(
    run_id: str, name: str, principal: Caller, session: SessionDep, settings: SettingsDep
) -> FileResponse:
    """One of the run's plots; the name must be one the worker wrote (the path is never the request's)."""
    run = _readable_run(session, principal, run_id)
    plot = next((p for p in _plots(settings, run) if p["name"] == name), None)
    if plot is None:
        raise NotFound(f"run {run.id} has no plot {name!r}", code="plot_not_found")
    return FileResponse(settings.data_dir / "runs" / run.id / "plots" / plot["name"], media_type="image/png")


# --- attestations -----------------------------------------------------------------------------------


def _readable_attestation(session: SessionDep, principal: Any, attestation_id: str) -> Attestation:
    attestation = get_attestation(session, attestation_id)
    policy.require(principal, "attestation.read", attestation_subject(session, attestation))
    return attestation


def _mint(
    session: SessionDep, state: AppState, principal: Any, attestation: Attestation
) -> dict[str, Any] | None:
    """The mint request for the model's owner (``{"request"}`` or ``{"error"}``); None for everyone else."""
    run = session.get(Run, attestation.run_id)
    if run is None or principal is None:
        return None
    if not policy.allows(
        principal, "run.mint", run_subject(session, run, get_model_by_id(session, run.model_id))
    ):
        return None
    try:
        state.signer()  # the attesters, loaded once
        assert state.attesters is not None
        request = mint_request_for_run(session, state.settings, state.attesters, principal, run)
    except HokusaiError as exc:
        return {"error": exc}
    session.commit()  # the audit row
    return {"request": request}


@router.get("/attestations/{attestation_id}", response_class=HTMLResponse)
def attestation_page(
    request: Request, attestation_id: str, principal: OptionalCaller, session: SessionDep, state: StateDep
) -> HTMLResponse:
    """An attestation: its fields, downloads, the verify action, and the mint request for its model's owner.
    Public when the run was accepted."""
    attestation = _readable_attestation(session, principal, attestation_id)
    return render(request, "attestation.html", principal, {
        "attestation": attestation, "document": attestation.document, "report": attestation.report,
        "mint": _mint(session, state, principal, attestation), "verdict": None,
        "origin": state.settings.public_origin,
    })  # fmt: skip


@router.get("/attestations/{attestation_id}/verify", response_class=HTMLResponse)
def verify_page(
    request: Request, attestation_id: str, principal: OptionalCaller, session: SessionDep, state: StateDep
) -> HTMLResponse:
    """The attestation page with every check of ``POST /api/v1/attestations/verify`` (run in process)."""
    attestation = _readable_attestation(session, principal, attestation_id)
    state.signer()
    assert state.attesters is not None
    verdict = verify_document(session, state.settings, state.attesters, attestation.document)
    return render(request, "attestation.html", principal, {
        "attestation": attestation, "document": attestation.document, "report": attestation.report,
        "mint": _mint(session, state, principal, attestation), "verdict": verdict,
        "origin": state.settings.public_origin,
    })  # fmt: skip


def _download(body: dict[str, Any], filename: str) -> JSONResponse:
    return JSONResponse(body, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/attestations/{attestation_id}/attestation.json")
def download_attestation(attestation_id: str, principal: OptionalCaller, session: SessionDep) -> JSONResponse:
    """The signed document, as a file."""
    attestation = _readable_attestation(session, principal, attestation_id)
    return _download(attestation.document, f"attestation-{attestation.id}.json")


@router.get("/attestations/{attestation_id}/report.json")
def download_report(attestation_id: str, principal: OptionalCaller, session: SessionDep) -> JSONResponse:
    """The evaluation report behind it, as a file."""
    attestation = _readable_attestation(session, principal, attestation_id)
    return _download(attestation.report, f"evaluation_report-{attestation.id}.json")


# --- contributors -----------------------------------------------------------------------------------


@router.get("/contributors/{address}", response_class=HTMLResponse)
def contributor_page(
    request: Request, address: str, principal: Caller, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """A wallet's contributions (with where their raw data is: stored until when, or withdrawn or deleted
    by retention, and what was kept and why), runs and impact (the wallet itself and admins, as in the
    API)."""
    wallet = checksum_address(address)
    policy.require(principal, "impact.read", contributor_subject(wallet))
    contributions = []
    for contribution in contributions_of(session, wallet):
        model = get_model_by_id(session, contribution.model_id)
        if policy.allows(principal, "contribution.read", contribution_subject(contribution, model)):
            contributions.append(_json(contribution_view(session, contribution, model, settings)))
    return render(request, "contributor.html", principal, {
        "address": wallet, "impact": _json(contributor_impact(session, wallet)),
        "contributions": contributions,
    })  # fmt: skip
