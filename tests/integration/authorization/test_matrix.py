"""The authorization matrix: every endpoint of the API and a representative set of proxied MLflow endpoints,
called by every kind of principal against a real ``hokusai up`` (real MLflow), each answer compared with
what the policy table (``hokusai.server.policy``) says it must be.

The expected answer is computed from the table, never written by hand: a case names its endpoint's row
(the action) and describes the object it touches (who owns it, who takes part); ``policy.require`` on the
actor's principal gives the refusal it must get, if any. Where the policy allows and a business rule
answers instead (a key without a wallet cannot contribute, logout needs a wallet sign-in), the case says
so explicitly. A new endpoint without a row in the table, or a row without a case here, fails the suite.
"""

from __future__ import annotations

import io
import re
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from eth_account import Account
from fastapi.routing import iter_route_contexts

from hokusai.errors import Forbidden, NotFound, Unauthorized
from hokusai.server import policy
from hokusai.server.app import create_app
from hokusai.server.policy import Access, MlflowLevel, Subject
from tests.integration.authorization.conftest import World, sign_in
from tests.support.mlflow import mlflow_settings
from tests.support.terms import terms_fields

pytestmark = pytest.mark.realparts

# Denials first, the owner and the admin last: what an allowed call changes never hides a refusal.
ACTORS = ("anonymous", "walletB", "owner2", "walletA", "owner1_ro", "owner1", "admin")
Builder = Callable[[World, str], dict[str, Any]]


@dataclass
class Case:
    """One endpoint as the matrix calls it."""

    method: str
    template: str  # the policy row's path; "MLFLOW" cases give the proxied path instead
    path: Callable[[World, str], str]
    request: Builder = field(default=lambda w, a: {})
    subject: Callable[[World], Subject] | None = None
    ok: frozenset[int] | None = frozenset({200})  # None: anything but a refusal (an admin passing through)
    business: dict[str, tuple[int, str]] = field(default_factory=dict)  # actor -> (status, code)
    before: Callable[[World, str], None] | None = None
    mlflow: str | None = None  # proxied: "read" | "update" | "delete" | "admin"
    managers: Callable[[World], set[str]] | None = None  # who holds MANAGE on the proxied resource

    @property
    def label(self) -> str:
        return f"{self.method} {self.template}"


def fixed(path: str) -> Callable[[World, str], str]:
    return lambda w, a: path


def owner1_id(w: World) -> str:
    principal = w.actors["owner1"].principal
    assert principal is not None
    return principal.id


def owners(*names: str) -> Callable[[World], set[str]]:
    return lambda w: {w.actors[n].principal.id for n in names if w.actors[n].principal}  # type: ignore[union-attr]


def model_subject(w: World) -> Subject:
    return Subject("model", "m1", owners=frozenset({owner1_id(w)}), readable=Access.ANY)


def contribution_subject(w: World) -> Subject:
    a = w.actors["walletA"]
    assert a.principal is not None and a.wallet is not None
    return Subject(
        "contribution",
        w.ids["contribution"],
        owners=frozenset({owner1_id(w)}),
        participants=frozenset({a.principal.id}),
        wallets=frozenset({a.wallet.address}),
    )


def withdrawable(w: World) -> str:
    """A contribution of walletA's own (bytes no other case uploads), for the withdrawal case."""
    frame = pd.read_csv(w.ids["contribution_file"]).sample(n=70, random_state=99)
    data = frame.to_csv(index=False).encode()
    body = {"file": ("withdrawn.csv", data, "text/csv")}
    terms = terms_fields(w.url, w.actors["walletA"].wallet, "m1", data)
    with w.http("walletA") as wallet:
        posted = wallet.post("/api/v1/models/m1/contributions", files=body, data=terms)
        return posted.raise_for_status().json()["id"]


def withdrawable_subject(w: World) -> Subject:
    subject = contribution_subject(w)
    return Subject("contribution", w.ids["withdrawn"], subject.owners, subject.participants, subject.wallets)


def run_subject(w: World) -> Subject:
    subject = contribution_subject(w)
    return Subject("run", w.ids["run"], subject.owners, subject.participants, subject.wallets)


def current_spec(w: World) -> str:
    """m1's current benchmark spec (a run, or another test's change, may have made a new version)."""
    with w.http("owner1") as owner:
        return owner.get("/api/v1/models/m1").raise_for_status().json()["benchmark_spec"]["id"]


def spec_subject(w: World) -> Subject:
    return Subject("benchmark", current_spec(w), owners=frozenset({owner1_id(w)}), readable=Access.ANY)


def csv_upload(w: World, actor: str, name: str = "rows.csv") -> dict[str, Any]:
    """A small, valid data file whose bytes differ per actor (so no upload is another's duplicate)."""
    frame = pd.read_csv(w.ids["contribution_file"]).sample(n=60, random_state=ACTORS.index(actor))
    return {"files": {"file": (name, frame.to_csv(index=False).encode(), "text/csv")}}


def signed_contribution(w: World, actor: str) -> dict[str, Any]:
    """A contribution with terms signed by the actor's wallet (an admin's: a new wallet it credits)."""
    upload = csv_upload(w, actor)
    wallet = w.actors[actor].wallet or Account.create()
    data = terms_fields(w.url, wallet, "m1", upload["files"]["file"][1])
    if actor == "admin":
        data["contributor_address"] = wallet.address
    return {**upload, "data": data}


def archive_upload(w: World, actor: str) -> dict[str, Any]:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(str(w.ids["model_dir"]), arcname="model")
    fields = {
        "name": f"m-{actor.replace('_', '-')}",
        "target_column": "diagnosis_benign",
        "train_dataset_id": w.ids["train_dataset"],
        "benchmark_dataset_id": w.ids["benchmark_dataset"],
    }
    return {"files": {"archive": ("model.tar.gz", buffer.getvalue(), "application/gzip")}, "data": fields}


def make_key(w: World, name: str) -> str:
    with w.http("owner1") as owner:
        return (
            owner.post("/api/v1/keys", json={"name": name, "scopes": ["read"]})
            .raise_for_status()
            .json()["id"]
        )


def key_subject(key: str) -> Callable[[World], Subject]:
    return lambda w: Subject("key", w.ids[key], owners=frozenset({owner1_id(w)}), readable=Access.OWNER)


def ensure(w: World, name: str, make: Callable[[World], Any]) -> Any:
    if name not in w.ids:
        w.ids[name] = make(w)
    return w.ids[name]


def grant_target(w: World) -> str:
    return ensure(w, "grant_target", lambda w: Account.create().address)


def regrant(w: World, actor: str) -> None:
    with w.http("admin") as admin:
        admin.post(
            "/api/v1/auth/grants", json={"address": grant_target(w), "role": "owner"}
        ).raise_for_status()


def permission_grantee(w: World) -> str:
    def make(w: World) -> str:
        with w.http("admin") as admin:
            body = {
                "resource_type": "registered_model",
                "resource_id": "m1",
                "address": Account.create().address,
                "permission": "READ",
            }
            return admin.put("/api/v1/permissions", json=body).raise_for_status().json()["principal_id"]

    return ensure(w, "grantee", make)


def regrant_permission(w: World, actor: str) -> None:
    with w.http("admin") as admin:
        body = {
            "resource_type": "registered_model",
            "resource_id": "m1",
            "principal_id": permission_grantee(w),
            "permission": "READ",
        }
        admin.put("/api/v1/permissions", json=body).raise_for_status()


def graphql_get_run(run_id: str) -> str:
    return 'query { mlflowGetRun(input: {runId: "' + run_id + '"}) { run { info { runId } } } }'


def impact_subject(w: World) -> Subject:
    wallet = w.actors["walletA"].wallet
    assert wallet is not None
    return Subject("contributor", "A", wallets=frozenset({wallet.address}))


def permission_subject(w: World) -> Subject:
    return Subject("registered_model", "m1", owners=frozenset({owner1_id(w)}), readable=Access.OWNER)


def no_wallet(*names: str) -> dict[str, tuple[int, str]]:
    return dict.fromkeys(names, (403, "wallet_required"))


CLOSED = "http://127.0.0.1:9/hook"  # loopback, nothing listens: the deliveries of these webhooks just fail


def make_webhook(w: World) -> str:
    with w.http("owner1") as owner:
        return owner.post("/api/v1/webhooks", json={"url": CLOSED}).raise_for_status().json()["id"]


def webhook_subject(key: str) -> Callable[[World], Subject]:
    return lambda w: Subject("webhook", w.ids[key], owners=frozenset({owner1_id(w)}), readable=Access.OWNER)


def ui_sign_in(w: World, actor: str) -> dict[str, Any]:
    """The sign-in form as a browser posts it: its CSRF token, and the cookie it came with."""
    form = httpx.get(f"{w.url}/ui/", timeout=30).raise_for_status()
    match = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert match is not None
    return {
        "data": {"api_key": w.admin_key, "csrf": match.group(1)},
        "headers": {"Cookie": f"hokusai_signin={form.cookies['hokusai_signin']}"},
    }


PUBLIC_PAGES = ("/health", "/ready", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")
PUBLIC_PAGES += ("/favicon.ico",)
E = "/mlflow/api/2.0/mlflow"
CASES: list[Case] = [
    *(Case("GET", page, fixed(page)) for page in PUBLIC_PAGES),
    Case("GET", "/docs/assets/{name}", fixed("/docs/assets/swagger-ui-bundle.js")),
    Case("GET", "/api/v1/me", fixed("/api/v1/me")),
    Case("GET", "/api/v1/auth/nonce", fixed("/api/v1/auth/nonce")),
    Case(
        "POST",
        "/api/v1/auth/logout",
        fixed("/api/v1/auth/logout"),
        ok=frozenset({204}),
        request=lambda w, a: {"headers": sign_in(w.url, w.actors[a].wallet)} if w.actors[a].wallet else {},
        business=dict.fromkeys(("owner2", "owner1_ro", "owner1", "admin"), (403, "not_a_wallet_session")),
    ),
    Case("GET", "/api/v1/auth/grants", fixed("/api/v1/auth/grants")),
    Case(
        "POST",
        "/api/v1/auth/grants",
        fixed("/api/v1/auth/grants"),
        ok=frozenset({201}),
        request=lambda w, a: {"json": {"address": Account.create().address, "role": "owner"}},
    ),
    Case(
        "DELETE",
        "/api/v1/auth/grants/{address}/{role}",
        lambda w, a: f"/api/v1/auth/grants/{grant_target(w)}/owner",
        ok=frozenset({204}),
        before=regrant,
    ),
    Case("GET", "/api/v1/principals", fixed("/api/v1/principals")),
    Case(
        "PATCH",
        "/api/v1/principals/{principal_id}",
        lambda w, a: f"/api/v1/principals/{owner1_id(w)}",
        request=lambda w, a: {"json": {"trusted_pickle": False}},
    ),
    Case("GET", "/api/v1/audit", fixed("/api/v1/audit")),
    Case(
        "POST",
        "/api/v1/keys",
        fixed("/api/v1/keys"),
        ok=frozenset({201}),
        request=lambda w, a: {"json": {"name": f"matrix {a}", "scopes": ["read"]}},
    ),
    Case("GET", "/api/v1/keys", fixed("/api/v1/keys")),
    Case(
        "DELETE",
        "/api/v1/keys/{key_id}",
        lambda w, a: f"/api/v1/keys/{ensure(w, 'victim', lambda w: make_key(w, 'v'))}",
        subject=key_subject("victim"),
    ),
    Case(
        "POST",
        "/api/v1/keys/{key_id}/rotate",
        lambda w, a: f"/api/v1/keys/{ensure(w, 'rotated', lambda w: make_key(w, 'r'))}/rotate",
        subject=key_subject("rotated"),
        ok=frozenset({201, 409}),
    ),  # the second rotation: already rotating
    Case("POST", "/api/v1/datasets", fixed("/api/v1/datasets"), request=csv_upload, ok=frozenset({200, 201})),
    Case(
        "GET",
        "/api/v1/datasets/{dataset_id}",
        lambda w, a: f"/api/v1/datasets/{w.ids['train_dataset']}",
        subject=lambda w: Subject(
            "dataset", w.ids["train_dataset"], owners=frozenset({owner1_id(w)}), readable=Access.OWNER
        ),
    ),
    Case(
        "POST",
        "/api/v1/models",
        fixed("/api/v1/models"),
        request=archive_upload,
        ok=frozenset({201}),
        business={"owner2": (404, "dataset_not_found")},
    ),  # the case uses owner1's datasets
    Case("GET", "/api/v1/models", fixed("/api/v1/models")),
    Case("GET", "/api/v1/models/{name}", fixed("/api/v1/models/m1"), subject=model_subject),
    Case(
        "PATCH",
        "/api/v1/models/{name}",
        fixed("/api/v1/models/m1"),
        subject=model_subject,
        request=lambda w, a: {"json": {"accepts_contributions": True}},
    ),
    Case("GET", "/api/v1/benchmarks", fixed("/api/v1/benchmarks?model=m1")),
    Case(
        "GET",
        "/api/v1/benchmarks/{spec_id}",
        lambda w, a: f"/api/v1/benchmarks/{current_spec(w)}",
        subject=spec_subject,
    ),
    Case(
        "POST",
        "/api/v1/benchmarks",
        fixed("/api/v1/benchmarks"),
        subject=spec_subject,
        request=lambda w, a: {"json": {"model": "m1", "min_benchmark_rows": 1}},
        ok=frozenset({200, 201}),
    ),
    Case(
        "PATCH",
        "/api/v1/benchmarks/{spec_id}",
        lambda w, a: f"/api/v1/benchmarks/{current_spec(w)}",
        subject=spec_subject,
        request=lambda w, a: {"json": {"min_benchmark_rows": 1}},
    ),
    Case("GET", "/api/v1/models/{name}/lineage", fixed("/api/v1/models/m1/lineage"), subject=model_subject),
    Case(
        "POST",
        "/api/v1/models/{name}/contributions",
        fixed("/api/v1/models/m1/contributions"),
        request=signed_contribution,
        ok=frozenset({200, 201}),
        business=no_wallet("owner2", "owner1"),
    ),
    Case("GET", "/api/v1/models/{name}/contributions", fixed("/api/v1/models/m1/contributions")),
    Case(
        "GET",
        "/api/v1/contributions/{contribution_id}",
        lambda w, a: f"/api/v1/contributions/{w.ids['contribution']}",
        subject=contribution_subject,
    ),
    Case(
        "POST",
        "/api/v1/contributions/{contribution_id}/withdraw",
        lambda w, a: f"/api/v1/contributions/{ensure(w, 'withdrawn', withdrawable)}/withdraw",
        subject=withdrawable_subject,
    ),  # walletA withdraws a contribution of its own that nothing else uses; the admin's second is idempotent
    Case(
        "GET",
        "/api/v1/me/export",
        fixed("/api/v1/me/export"),
    ),
    Case(
        "POST",
        "/api/v1/retention/sweep",
        fixed("/api/v1/retention/sweep"),
        request=lambda w, a: {"json": {"dry_run": True}},
    ),
    Case(
        "POST",
        "/api/v1/runs",
        fixed("/api/v1/runs"),
        subject=contribution_subject,
        ok=frozenset({200, 202}),
        request=lambda w, a: {
            "json": {"model": "m1", "contributions": [w.ids["contribution"]]},
            "headers": {"Idempotency-Key": f"matrix-{a}"},
        },
    ),
    Case("GET", "/api/v1/runs", fixed("/api/v1/runs?model=m1")),
    Case("GET", "/api/v1/runs/{run_id}", lambda w, a: f"/api/v1/runs/{w.ids['run']}", subject=run_subject),
    Case(
        "POST",
        "/api/v1/runs/{run_id}/sign",
        lambda w, a: f"/api/v1/runs/{w.ids['run']}/sign",
        request=lambda w, a: {"json": {"document": {}, "report": {}}},
    ),
    Case(
        "GET",
        "/api/v1/runs/{run_id}/mint-request",
        lambda w, a: f"/api/v1/runs/{w.ids['run']}/mint-request",
        subject=run_subject,
    ),
    Case("GET", "/api/v1/attestations/signers", fixed("/api/v1/attestations/signers")),
    Case(
        "GET",
        "/api/v1/attestations/{attestation_id}",
        lambda w, a: f"/api/v1/attestations/{w.ids['attestation']}",
        subject=lambda w: Subject("attestation", w.ids["attestation"], public=True),
    ),
    Case(
        "GET",
        "/api/v1/attestations/{attestation_id}/report",
        lambda w, a: f"/api/v1/attestations/{w.ids['attestation']}/report",
        subject=lambda w: Subject("attestation", w.ids["attestation"], public=True),
    ),
    Case(
        "POST",
        "/api/v1/attestations/verify",
        fixed("/api/v1/attestations/verify"),
        request=lambda w, a: {"json": {"attestation": w.ids["document"]}},
    ),
    Case(
        "GET",
        "/api/v1/contributors/{address}/impact",
        lambda w, a: f"/api/v1/contributors/{w.actors['walletA'].wallet.address}/impact",  # type: ignore[union-attr]
        subject=impact_subject,
    ),
    Case(
        "GET",
        "/api/v1/permissions",
        fixed("/api/v1/permissions?resource_type=registered_model&resource_id=m1"),
        subject=permission_subject,
    ),
    Case(
        "PUT",
        "/api/v1/permissions",
        fixed("/api/v1/permissions"),
        request=lambda w, a: {
            "json": {
                "resource_type": "registered_model",
                "resource_id": "m1",
                "address": Account.create().address,
                "permission": "READ",
            }
        },
        subject=permission_subject,
    ),
    Case(
        "DELETE",
        "/api/v1/permissions",
        lambda w, a: (
            f"/api/v1/permissions?resource_type=registered_model&resource_id=m1"
            f"&principal_id={permission_grantee(w)}"
        ),
        subject=permission_subject,
        ok=frozenset({204}),
        before=regrant_permission,
    ),
    Case(
        "POST",
        "/api/v1/webhooks",
        fixed("/api/v1/webhooks"),
        ok=frozenset({201}),
        request=lambda w, a: {"json": {"url": f"{CLOSED}?{a}"}},
    ),
    Case("GET", "/api/v1/webhooks", fixed("/api/v1/webhooks")),
    Case(
        "DELETE",
        "/api/v1/webhooks/{webhook_id}",
        lambda w, a: f"/api/v1/webhooks/{ensure(w, 'webhook', make_webhook)}",
        subject=webhook_subject("webhook"),
    ),  # owner1 deletes it, the admin's second delete is idempotent
    Case(
        "GET",
        "/api/v1/webhooks/{webhook_id}/deliveries",
        lambda w, a: f"/api/v1/webhooks/{ensure(w, 'webhook_log', make_webhook)}/deliveries",
        subject=webhook_subject("webhook_log"),
    ),
    *(
        Case(method, "/mlflow", fixed("/mlflow"), ok=frozenset({307}))
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
    ),
    # proxied MLflow: owner1's experiment, run, artifacts, logged model and registered model m1
    Case(
        "GET",
        "MLFLOW experiments/get",
        lambda w, a: f"{E}/experiments/get?experiment_id={w.ids['experiment']}",
        mlflow="read",
        managers=owners("owner1"),
    ),
    Case(
        "POST",
        "MLFLOW runs/search",
        fixed(f"{E}/runs/search"),
        mlflow="read",
        managers=owners("owner1"),
        request=lambda w, a: {"json": {"experiment_ids": [w.ids["experiment"]]}},
    ),
    Case(
        "GET",
        "MLFLOW runs/get",
        lambda w, a: f"{E}/runs/get?run_id={w.ids['mlflow_run']}",
        mlflow="read",
        managers=owners("owner1"),
    ),
    Case(
        "POST",
        "MLFLOW runs/log-metric",
        fixed(f"{E}/runs/log-metric"),
        mlflow="update",
        managers=owners("owner1"),
        request=lambda w, a: {
            "json": {"run_id": w.ids["mlflow_run"], "key": "m", "value": 1.0, "timestamp": 1, "step": 0}
        },
    ),
    Case(
        "PUT",
        "MLFLOW artifact upload",
        lambda w, a: (
            f"/mlflow/api/2.0/mlflow-artifacts/artifacts/{w.ids['experiment']}/{w.ids['mlflow_run']}"
            f"/artifacts/matrix-{a}.txt"
        ),
        request=lambda w, a: {"content": b"written by " + a.encode()},
        mlflow="update",
        managers=owners("owner1"),
    ),
    Case(
        "GET",
        "MLFLOW artifact download",
        lambda w, a: (
            f"/mlflow/api/2.0/mlflow-artifacts/artifacts/{w.ids['experiment']}/{w.ids['mlflow_run']}"
            "/artifacts/notes.txt"
        ),
        mlflow="read",
        managers=owners("owner1"),
    ),
    Case(
        "GET",
        "MLFLOW logged-models/get",
        lambda w, a: f"{E}/logged-models/{w.ids['logged_model']}",
        mlflow="read",
        managers=owners("owner1"),
    ),
    Case(
        "PATCH",
        "MLFLOW registered-models/update",
        fixed(f"{E}/registered-models/update"),
        mlflow="update",
        managers=owners("owner1"),
        request=lambda w, a: {"json": {"name": "m1", "description": f"by {a}"}},
    ),
    Case(
        "POST",
        "MLFLOW model-versions/create",
        fixed(f"{E}/model-versions/create"),
        mlflow="update",
        managers=owners("owner1"),
        request=lambda w, a: {
            "json": {
                "name": "m1",
                "source": f"runs:/{w.ids['mlflow_run']}/model",
                "run_id": w.ids["mlflow_run"],
            }
        },
    ),
    Case(
        "POST",
        "MLFLOW registered-models/create",
        fixed(f"{E}/registered-models/create"),
        mlflow="update",
        request=lambda w, a: {"json": {"name": f"reg-{a}"}},
    ),
    Case(
        "POST",
        "MLFLOW experiments/search (ajax)",
        fixed("/mlflow/ajax-api/2.0/mlflow/experiments/search"),
        mlflow="read",
        request=lambda w, a: {"json": {"max_results": 100}},
    ),
    Case("GET", "MLFLOW registered-models/search", fixed(f"{E}/registered-models/search"), mlflow="read"),
    Case(
        "POST",
        "MLFLOW graphql getRun",
        fixed("/mlflow/graphql"),
        mlflow="read",
        managers=owners("owner1"),
        request=lambda w, a: {"json": {"query": graphql_get_run(w.ids["mlflow_run"])}},
    ),
    Case(
        "POST",
        "MLFLOW traces/search v3",
        fixed("/mlflow/api/3.0/mlflow/traces/search"),
        mlflow="read",
        managers=owners("owner1"),
        request=lambda w, a: {
            "json": {
                "locations": [
                    {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": w.ids["experiment"]}}
                ]
            }
        },
    ),
    Case(
        "POST",
        "MLFLOW gateway secrets (not allowlisted)",
        fixed("/mlflow/api/3.0/mlflow/gateway/secrets/create"),
        mlflow="admin",
        ok=None,
        request=lambda w, a: {"json": {}},
    ),
    Case("GET", "MLFLOW the UI", fixed("/mlflow/"), mlflow="read"),
    # the results pages: each checked as the JSON endpoint whose object it shows
    Case("GET", "/ui/", fixed("/ui/")),
    Case("POST", "/ui/sign-in", fixed("/ui/sign-in"), request=ui_sign_in, ok=frozenset({303})),
    Case("POST", "/ui/sign-out", fixed("/ui/sign-out"), ok=frozenset({303})),  # a header credential: no CSRF
    Case("GET", "/ui/static/{name}", fixed("/ui/static/style.css")),
    Case("GET", "/ui/models", fixed("/ui/models")),
    Case("GET", "/ui/models/{name}", fixed("/ui/models/m1"), subject=model_subject),
    Case("GET", "/ui/runs/{run_id}", lambda w, a: f"/ui/runs/{w.ids['run']}", subject=run_subject),
    Case(
        "GET", "/ui/runs/{run_id}/state", lambda w, a: f"/ui/runs/{w.ids['run']}/state", subject=run_subject
    ),
    Case(
        "GET",
        "/ui/runs/{run_id}/plots/{name}",
        lambda w, a: f"/ui/runs/{w.ids['run']}/plots/metric_deltas.png",
        subject=run_subject,
    ),
    *(
        Case(
            "GET",
            f"/ui/attestations/{{attestation_id}}{suffix}",
            lambda w, a, suffix=suffix: f"/ui/attestations/{w.ids['attestation']}{suffix}",
            subject=lambda w: Subject("attestation", w.ids["attestation"], public=True),
        )
        for suffix in ("", "/attestation.json", "/report.json", "/verify")
    ),
    Case(
        "GET",
        "/ui/contributors/{address}",
        lambda w, a: f"/ui/contributors/{w.actors['walletA'].wallet.address}",  # type: ignore[union-attr]
        subject=impact_subject,
    ),
]


def expected(world: World, case: Case, actor: str) -> tuple[frozenset[int] | None, str | None]:
    """What the policy table says ``actor`` gets from ``case``: the allowed statuses, or a refusal."""
    if actor in case.business:
        status, code = case.business[actor]
        return frozenset({status}), code
    principal = world.actors[actor].principal
    try:
        if case.mlflow is not None:
            action = {"read": "mlflow.read", "admin": "mlflow.admin"}.get(case.mlflow, "mlflow.write")
            policy.check_caller(principal, policy.RULES[action])
            assert principal is not None
            if case.managers is not None:
                held = (
                    MlflowLevel.MANAGE if principal.id in case.managers(world) else MlflowLevel.NO_PERMISSIONS
                )
                needed = policy.mlflow_level_needed(case.mlflow)  # type: ignore[arg-type]
                if not policy.mlflow_allows(principal, held, needed):
                    return frozenset({403}), "mlflow_permission_denied"
            return case.ok, None
        rule = policy.rule_for(case.method, case.template)
        action = policy.ENDPOINTS[(case.method, case.template)]
        if rule.access is Access.WORKER:
            return frozenset({401}), "run_token_invalid"
        if rule.access is Access.PROXY:
            return (frozenset({401}), "credentials_missing") if principal is None else (case.ok, None)
        if case.subject is None:
            policy.check_caller(principal, rule)
        else:
            policy.require(principal, action, case.subject(world))
    except Unauthorized as exc:
        return frozenset({401}), exc.code
    except (Forbidden, NotFound) as exc:
        return frozenset({exc.status_code}), exc.code
    return case.ok, None


def _prepare(world: World) -> None:
    if "document" not in world.ids:
        with world.http("admin") as admin:
            world.ids["document"] = admin.get(f"/api/v1/attestations/{world.ids['attestation']}").json()


MATRIX = [(case, actor) for case in CASES for actor in ACTORS]


@pytest.mark.parametrize(("case", "actor"), MATRIX, ids=[f"{c.label}-{a}" for c, a in MATRIX])
def test_every_principal_gets_what_the_policy_table_says(world: World, case: Case, actor: str) -> None:
    _prepare(world)
    if case.before is not None and actor in ("owner1", "admin"):
        case.before(world, actor)
    path = case.path(world, actor)  # first: it may create the object the case is about
    statuses, code = expected(world, case, actor)
    request = case.request(world, actor)
    headers = {**world.actors[actor].headers, **request.pop("headers", {})}
    with httpx.Client(base_url=world.url, timeout=120) as client:
        response = client.request(case.method, path, headers=headers, **request)
    if code is not None:  # a refusal: exactly that status and code, in the one error shape
        assert response.status_code in statuses, (response.status_code, response.text[:300])
        assert response.json()["error"]["code"] == code, response.text[:300]
    elif statuses is None:
        assert response.status_code not in (401, 403), response.text[:300]
    else:
        assert response.status_code in statuses, (response.status_code, response.text[:300])


def test_every_endpoint_has_a_policy_row_and_every_row_a_case_in_the_matrix(tmp_path: Path) -> None:
    app = create_app(mlflow_settings(tmp_path / "state"))
    endpoints = {
        ("GET" if method == "HEAD" else method, route.path)
        for route in iter_route_contexts(app.routes)
        for method in (route.methods or ())
    }
    assert endpoints <= set(policy.ENDPOINTS), (
        f"endpoints without a policy row: {endpoints - set(policy.ENDPOINTS)}"
    )
    covered = {(case.method, case.template) for case in CASES if case.mlflow is None}
    assert set(policy.ENDPOINTS) == covered, f"rows without a matrix case: {set(policy.ENDPOINTS) - covered}"
    assert set(policy.ENDPOINTS.values()) <= set(policy.RULES)
