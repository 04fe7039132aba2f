"""Differential test of the MLflow proxy: what MLflow acts on is what the proxy checked.

One real ``hokusai up``; owners A and B each own an experiment, a run, a registered model (version 1,
alias), a logged model, a trace and artifacts, made through the proxy. For every allowlisted MLflow
endpoint that names an object (generated from MLflow's endpoint table and ``ROUTES``, so a new route is
covered), requests put B's id in the query, the body, a double-encoded body, an alias, a duplicate key and
camelCase (with A's id as the decoy where the proxy might look), sent by A (a non-owner of B's objects),
A's read-only key and, last, B itself. After each, B's objects are read back from MLflow directly (not
through the proxy): if anything of B's changed after A's or the read-only key's request, or an answer
to them carries B's secret, MLflow acted on an object the policy did not allow. B's own plain request
must change (or read) its object: the control that the request was one MLflow acts on.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from hokusai.api_keys import generate_key
from hokusai.server.mlflow_access import ROUTES, match
from hokusai.server.mlflow_messages import ALIASES, endpoints
from tests.support.stack import UpProcess, up_env

pytestmark = pytest.mark.realparts
SECRET = "bsecret"  # in B's tags, params, descriptions and files; never in A's
V = "2.0/mlflow/"


@dataclass
class Owner:
    """An owner's key and what it made."""

    headers: dict[str, str]
    ids: dict[str, str] = field(default_factory=dict)


@dataclass
class World:
    api: str
    mlflow: str  # MLflow itself, for reading back
    a: Owner
    b: Owner
    a_read: dict[str, str]


def _key(root: httpx.Client, name: str, scopes: list[str], principal: dict[str, str]) -> str:
    answer = root.post("/api/v1/keys", json={"name": name, "scopes": scopes, **principal})
    answer.raise_for_status()
    return str(answer.json()["key"])


def _seed(api: httpx.Client, who: str, secret: str) -> dict[str, str]:
    """An owner's objects, made through the proxy (so the owner holds MANAGE on them)."""

    def call(method: str, path: str, body: Any = None, **kw: Any) -> dict[str, Any]:
        answer = api.request(method, f"/mlflow/api/{path}", json=body, **kw)
        assert answer.status_code == 200, (path, answer.text)
        return answer.json() if answer.content else {}

    exp = call("POST", V + "experiments/create", {"name": f"{who}-exp"})["experiment_id"]
    call("POST", V + "experiments/set-experiment-tag", {"experiment_id": exp, "key": "bt", "value": secret})
    run = call("POST", V + "runs/create", {"experiment_id": exp, "start_time": 1})["run"]["info"]
    run_id = run["run_id"]
    call("POST", V + "runs/log-parameter", {"run_id": run_id, "key": "secret", "value": secret})
    call("POST", V + "runs/set-tag", {"run_id": run_id, "key": "bt", "value": secret})
    call("POST", V + "runs/log-metric", {"run_id": run_id, "key": f"{secret}m", "value": 1, "timestamp": 1})
    root = run["artifact_uri"].removeprefix("mlflow-artifacts:/")
    stored = api.put(f"/mlflow/api/2.0/mlflow-artifacts/artifacts/{root}/model/{secret}.txt", content=secret)
    assert stored.status_code == 200, stored.text
    model = f"{who}-model"
    call("POST", V + "registered-models/create",
         {"name": model, "description": secret, "tags": [{"key": "bt", "value": secret}]})  # fmt: skip
    call(
        "POST",
        V + "model-versions/create",
        {"name": model, "source": f"runs:/{run_id}/model", "run_id": run_id},
    )
    call("POST", V + "registered-models/alias", {"name": model, "alias": "ba", "version": "1"})
    call("POST", V + "model-versions/set-tag", {"name": model, "version": "1", "key": "bt", "value": secret})
    logged = call("POST", V + "logged-models",
                  {"experiment_id": exp, "name": "lm", "tags": [{"key": "bt", "value": secret}]})  # fmt: skip
    trace = call("POST", V + "traces",
                 {"experiment_id": exp, "timestamp_ms": 1,
                  "tags": [{"key": "bt", "value": secret}]})  # fmt: skip
    return {
        "experiment_id": exp, "run_id": run_id, "name": model,
        "model_id": logged["model"]["info"]["model_id"],
        "request_id": trace["trace_info"]["request_id"], "artifact_root": root,
    }  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    workdir = tmp_path_factory.mktemp("differential")
    admin = generate_key(live=False)
    env = up_env(
        workdir, HOKUSAI_ENVIRONMENT="test", HOKUSAI_JOB_WORKERS="1",
        HOKUSAI_BOOTSTRAP_ADMIN_KEY_HASH=f"{admin.key_id}:{admin.key_hash}",
        HOKUSAI_RATE_LIMIT_PER_MINUTE="100000", HOKUSAI_AUTH_CACHE_SECONDS="0",
    )  # fmt: skip
    mlflow_port = int(env["HOKUSAI_MLFLOW_PORT"])
    up = UpProcess(workdir / "up", env)
    try:
        up.wait_ready(180)
        with httpx.Client(base_url=up.api_url, headers={"Authorization": f"Bearer {admin.key}"}) as root:
            keys = {
                who: _key(root, who, ["read", "write"], {"principal_name": who})
                for who in ("ownerA", "ownerB")
            }
            me = httpx.get(f"{up.api_url}/api/v1/me", headers={"Authorization": f"Bearer {keys['ownerA']}"})
            a_read = _key(root, "A reader", ["read"], {"principal_id": me.json()["id"]})
        owners = {}
        for who, secret in (("ownerA", "asecret"), ("ownerB", SECRET)):
            headers = {"Authorization": f"Bearer {keys[who]}"}
            with httpx.Client(base_url=up.api_url, headers=headers, timeout=60) as api:
                owners[who] = Owner(headers, _seed(api, who, secret))
        yield World(up.api_url, f"http://127.0.0.1:{mlflow_port}", owners["ownerA"], owners["ownerB"],
                    {"Authorization": f"Bearer {a_read}"})  # fmt: skip
    finally:
        up.kill()


# --- what each endpoint needs beside its id, and whether B's plain request shows ----------------------

# template -> (extra fields, "write" | "read" | "none": what the owner's control shows, phase)
# A write's control changes B's objects; a read's answer carries B's secret; "none": nothing to see
# (the test still checks that A's requests change and leak nothing). Later phases destroy.
EXTRA: dict[str, tuple[dict[str, Any], str, int]] = {
    V + "experiments/get": ({}, "read", 0),
    V + "experiments/update": ({"new_name": "renamed-{n}"}, "write", 0),
    V + "experiments/set-experiment-tag": ({"key": "t", "value": "v{n}"}, "write", 0),
    V + "experiments/delete-experiment-tag": ({"key": "bt"}, "write", 1),
    V + "experiments/search-datasets": ({}, "none", 0),
    V + "runs/create": ({"start_time": 1}, "write", 0),
    V + "runs/get": ({}, "read", 0),
    V + "runs/search": ({}, "read", 0),
    V + "runs/update": ({"run_name": "r{n}"}, "write", 0),
    V + "runs/log-metric": ({"key": "m", "value": 1.0, "timestamp": 1, "step": "{n}"}, "write", 0),
    V + "runs/log-batch": ({"params": [{"key": "p{n}", "value": "v"}]}, "write", 0),
    V + "runs/log-parameter": ({"key": "q{n}", "value": "v"}, "write", 0),
    V + "runs/set-tag": ({"key": "t", "value": "v{n}"}, "write", 0),
    V + "runs/delete-tag": ({"key": "bt"}, "write", 1),
    V + "runs/log-model": (
        {
            "model_json": json.dumps(
                {
                    "artifact_path": "m{n}",
                    "flavors": {},
                    "run_id": "{run_id}",
                    "utc_time_created": "2024-01-01 00:00:00.000000",
                }
            )
        },
        "write",
        0,
    ),
    V + "runs/log-inputs": (
        {"datasets": [{"dataset": {"name": "d{n}", "digest": "x", "source_type": "local", "source": "s"}}]},
        "write",
        0,
    ),
    V + "runs/outputs": ({"models": [{"model_id": "{b_model_id}", "step": "{n}"}]}, "write", 0),
    V + "runs/delete": ({}, "write", 2),
    V + "runs/restore": ({}, "write", 3),
    V + "metrics/get-history": ({"metric_key": f"{SECRET}m"}, "read", 0),
    V + "metrics/get-history-bulk": ({"metric_key": f"{SECRET}m"}, "read", 0),
    V + "metrics/get-history-bulk-interval": ({"metric_key": f"{SECRET}m"}, "none", 0),
    V + "artifacts/list": ({"path": "model"}, "read", 0),
    "get-artifact": ({"path": f"model/{SECRET}.txt"}, "read", 0),
    V + "upload-artifact": ({"path": "up{n}.txt"}, "none", 0),
    V + "registered-models/get": ({}, "read", 0),
    V + "registered-models/get-latest-versions": ({}, "none", 0),
    V + "registered-models/update": ({"description": "d{n}"}, "write", 0),
    V + "registered-models/set-tag": ({"key": "t", "value": "v{n}"}, "write", 0),
    V + "registered-models/delete-tag": ({"key": "bt"}, "write", 1),
    V + "registered-models/alias": ({"alias": "a{n}", "version": "1"}, "write", 0),
    V + "model-versions/create": ({"source": "runs:/{run_id}/model", "run_id": "{run_id}"}, "write", 0),
    V + "model-versions/get": ({"version": "1"}, "read", 0),
    V + "model-versions/get-download-uri": ({"version": "1"}, "none", 0),
    "model-versions/get-artifact": ({"version": "1", "path": f"{SECRET}.txt"}, "none", 0),
    V + "model-versions/update": ({"version": "1", "description": "d{n}"}, "write", 0),
    V + "model-versions/set-tag": ({"version": "1", "key": "t", "value": "v{n}"}, "write", 0),
    V + "model-versions/transition-stage": (
        {"version": "1", "stage": "Staging", "archive_existing_versions": False},
        "write",
        0,
    ),
    V + "model-versions/delete-tag": ({"version": "1", "key": "bt"}, "write", 1),
    V + "model-versions/delete": ({"version": "1"}, "write", 4),
    V + "registered-models/delete": ({}, "write", 5),
    V + "registered-models/rename": ({"new_name": "renamed-model"}, "none", 6),  # B's model is gone by now
    "GET " + V + "traces": ({}, "read", 0),
    "GET " + V + "registered-models/alias": ({"alias": "ba"}, "read", 0),
    "DELETE " + V + "registered-models/alias": ({"alias": "ba"}, "write", 1),
    "GET " + V + "logged-models/{model_id}": ({}, "read", 0),
    "DELETE " + V + "logged-models/{model_id}": ({}, "write", 4),
    V + "logged-models": ({"name": "lm{n}"}, "write", 0),
    V + "logged-models/search": ({}, "read", 0),
    V + "logged-models/{model_id}": ({"status": "LOGGED_MODEL_READY"}, "write", 0),
    V + "logged-models/{model_id}/tags": ({"tags": [{"key": "t", "value": "v{n}"}]}, "write", 0),
    V + "logged-models/{model_id}/params": ({"params": [{"key": "p{n}", "value": "v"}]}, "write", 0),
    V + "logged-models/{model_id}/tags/{tag_key}": ({"tag_key": "bt"}, "write", 1),
    V + "logged-models/{model_id}/artifacts/directories": ({}, "none", 0),
    V + "logged-models/{model_id}/artifacts/files": ({"artifact_file_path": "x"}, "none", 0),
    V + "traces": ({"timestamp_ms": 1}, "write", 0),
    V + "traces/{request_id}": ({"timestamp_ms": 2, "status": "OK"}, "write", 0),
    V + "traces/{request_id}/info": ({}, "read", 0),
    V + "traces/{request_id}/tags": ({"key": "t", "value": "v{n}"}, "write", 0),
    "DELETE " + V + "traces/{request_id}/tags": ({"key": "bt"}, "none", 1),
    "DELETE 3.0/mlflow/traces/{trace_id}/tags": ({"key": "bt"}, "none", 1),
    "DELETE 2.0/mlflow-artifacts/artifacts/<path:artifact_path>": ({}, "none", 1),
    V + "traces/delete-traces": ({"max_timestamp_millis": 4102444800000, "max_traces": 10}, "none", 8),
    V + "get-trace-artifact": ({}, "none", 0),
    "3.0/mlflow/traces/{trace_id}": ({}, "read", 0),
    "3.0/mlflow/traces/{trace_id}/tags": ({"key": "t", "value": "v{n}"}, "write", 0),
    "3.0/mlflow/traces/get": ({}, "none", 0),
    "3.0/mlflow/traces/search": ({}, "read", 0),
    "3.0/mlflow/traces/metrics": (
        {
            "metric_name": "trace_count",
            "view_type": "TRACES",
            "aggregations": [{"aggregation_type": "COUNT"}],
        },
        "none",
        0,
    ),
    "3.0/mlflow/traces/delete-traces": (
        {"max_timestamp_millis": 4102444800000, "max_traces": 10},
        "write",
        7,
    ),
    "3.0/mlflow/get-trace-artifact": ({}, "none", 0),
    "3.0/mlflow/traces": (
        {
            "trace": {
                "trace_info": {
                    "trace_id": "tr-{n}",
                    "request_time": "2024-01-01T00:00:00Z",
                    "state": "OK",
                    "trace_location": {"type": "MLFLOW_EXPERIMENT"},
                }
            }
        },
        "write",
        0,
    ),
    V + "experiments/delete": ({}, "write", 9),
    V + "experiments/restore": ({}, "write", 10),
    "2.0/mlflow-artifacts/artifacts": ({}, "read", 0),
    "2.0/mlflow-artifacts/artifacts/<path:artifact_path>": ({}, "read", 0),
}
# An id's kind -> the owner's id it names (by field name as in the route).
KIND_ID = {"experiment": "experiment_id", "run": "run_id", "registered_model": "name",
           "create_model_version": "name", "logged_model": "model_id", "trace": "request_id"}  # fmt: skip


@dataclass(frozen=True)
class Case:
    method: str
    template: str
    id_field: str  # where the id goes (a field, a dotted path, or "#" for the path)
    kind: str
    show: str
    phase: int
    extra: dict[str, Any]
    fields: frozenset[str]  # what MLflow reads (message fields and query arguments)

    @property
    def label(self) -> str:
        return f"{self.method} {self.template}"


def _camel(name: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m[1].upper(), name)


def cases() -> list[Case]:
    """Every allowlisted MLflow endpoint that names an object (from MLflow's table and ROUTES)."""
    found = []
    for endpoint in endpoints():
        sample = re.sub(r"\{(\w+)\}|<path:(\w+)>", "x1", endpoint.template)
        if endpoint.method == "PUT" or "/mpu/" in endpoint.template:
            continue  # artifact uploads stream (ids in the path: the traversal tests); MPU is not served
        route = match(endpoint.method, "api/" + sample) or match(endpoint.method, sample)
        if route is None or not route[0].field or route[0].kind == "create_registered_model":
            continue
        key = f"{endpoint.method} {endpoint.template}"
        if key not in EXTRA and endpoint.template not in EXTRA:
            continue
        spec = route[0].field
        kind = "artifact" if route[0].kind == "artifact" else route[0].kind
        first = spec.split("|")[0]
        extra, show, phase = EXTRA.get(key) or EXTRA[endpoint.template]
        names = set(endpoint.query) | set(
            endpoint.message.DESCRIPTOR.fields_by_name if endpoint.message else ()
        )
        found.append(Case(endpoint.method, endpoint.template, "#" if first.startswith("#") else first,
                          kind, show, phase, extra, frozenset(names)))  # fmt: skip
    return sorted(found, key=lambda c: c.phase)


def test_every_allowlisted_endpoint_with_an_id_is_covered() -> None:
    """A route added to ROUTES (or an endpoint MLflow adds under one) needs an entry in EXTRA."""
    missing = []
    for endpoint in endpoints():
        sample = re.sub(r"\{(\w+)\}|<path:(\w+)>", "x1", endpoint.template)
        route = match(endpoint.method, "api/" + sample) or match(endpoint.method, sample)
        wanted = route and route[0].field and route[0].kind != "create_registered_model"
        skipped = endpoint.method == "PUT" or "/mpu/" in endpoint.template or "batchGet" in endpoint.template
        if (
            wanted
            and not skipped
            and not {endpoint.template, f"{endpoint.method} {endpoint.template}"} & set(EXTRA)
        ):
            missing.append(f"{endpoint.method} {endpoint.template}")
    assert not missing
    assert len({route.path.pattern for route in ROUTES}) > 50


# --- requests -----------------------------------------------------------------------------------------


def _ids(owner: Owner, case: Case) -> tuple[str, str]:
    """The URL path for ``owner``'s objects and the id the case names."""
    ids = owner.ids
    if case.kind == "artifact":
        value = f"{ids['artifact_root']}/model"
    elif case.template.startswith("3.0/") and case.kind == "trace":
        value = ids["request_id"]
    else:
        value = ids[KIND_ID.get(case.kind, "experiment_id")]
    path = case.template
    for name in ("model_id", "request_id", "trace_id", "tag_key"):
        path = path.replace(
            "{" + name + "}", ids["request_id"] if name == "trace_id" else ids.get(name, "bt")
        )
    path = path.replace(
        "<path:artifact_path>",
        f"{ids['artifact_root']}/model/"
        + ("bsecret.txt" if owner.ids["name"] == "ownerB-model" else "asecret.txt"),
    )
    return path, value


def _fill(extra: dict[str, Any], n: int, owner: Owner, b: Owner) -> dict[str, Any]:
    text = json.dumps(extra).replace("{n}", str(n)).replace("{b_model_id}", b.ids["model_id"])
    return json.loads(text.replace("{run_id}", owner.ids["run_id"]))


def _put(document: dict[str, Any], dotted: str, value: str, camel: bool = False) -> None:
    """Set ``value`` at a dotted path (``a[].b``: a one-element list), in proto or camelCase spelling."""
    parts = dotted.split(".")
    node = document
    for part in parts[:-1]:
        name = _camel(part.removesuffix("[]")) if camel else part.removesuffix("[]")
        if part.endswith("[]"):
            node[name] = [{}]
            node = node[name][0]
        else:
            node = node.setdefault(name, {})
    last = _camel(parts[-1]) if camel else parts[-1]
    node[last] = [value] if last.endswith("ids") or last.endswith("Ids") else value


def placements(
    case: Case, target: str, decoy: str, extra: dict[str, Any]
) -> list[tuple[str, str, bytes | None]]:
    """(placement, query, body) requests that name ``target`` (and ``decoy`` where a check might look)."""
    field_ = case.id_field
    path_param = field_ == "#"
    params = re.findall(r"\{(\w+)\}", case.template)
    name = (params[0] if params else "path") if path_param else field_.split(".")[-1].removesuffix("[]")
    alias = next((b if a == name else a for a, b in ALIASES if name in (a, b)), name)
    top = "." not in field_
    if case.method == "GET":
        args = list(extra.items())
        q = lambda *pairs: httpx.QueryParams([*pairs, *args]).__str__()  # noqa: E731
        return [
            ("query", q((name, target)), None),
            ("body", q() if args else "", json.dumps({name: target, **extra}).encode()),
            ("double", "", json.dumps(json.dumps({name: target, **extra})).encode()),
            ("duplicate", q((name, decoy), (name, target)), None),
            ("alias", q((alias, decoy), (name, target)), None),
            ("camel", q((_camel(name), target), (name, decoy)), None),
        ]
    plain: dict[str, Any] = copy.deepcopy(extra)
    if not path_param or name in case.fields:
        _put(plain, field_ if not path_param else name, target)
    decoy_query = f"{name}={decoy}" if top else ""
    camel: dict[str, Any] = copy.deepcopy(extra)
    _put(camel, field_ if not path_param else name, target, camel=True)
    both = copy.deepcopy(extra)
    _put(both, field_ if not path_param else alias, decoy)
    _put(both, field_ if not path_param else name, target, camel=True)
    head = json.dumps(extra)[1:-1]
    duplicate = "{" + (head + ", " if head else "") + f'"{name}": "{decoy}", "{name}": "{target}"' + "}"
    return [
        ("query", decoy_query, json.dumps(plain).encode()),
        ("body", "", json.dumps(plain).encode()),
        ("double", decoy_query, json.dumps(json.dumps(plain)).encode()),
        ("alias", "", json.dumps(both).encode()),
        ("duplicate", "", duplicate.encode() if top or path_param else json.dumps(plain).encode()),
        ("camel", decoy_query, json.dumps(camel).encode()),
    ]


# --- reading B back from MLflow itself ----------------------------------------------------------------


def snapshot(world: World) -> str:
    """B's objects as MLflow has them (direct, not through the proxy)."""
    ids = world.b.ids
    out: list[Any] = []
    with httpx.Client(base_url=f"{world.mlflow}/api/", timeout=30) as direct:

        def get(where: str, **params: Any) -> Any:
            return direct.get(where, params=params).json()

        def post(path: str, body: Any) -> Any:
            return direct.post(path, json=body).json()

        out.append(get(V + "experiments/get", experiment_id=ids["experiment_id"]))
        out.append(
            post(V + "runs/search", {"experiment_ids": [ids["experiment_id"]], "run_view_type": "ALL"})
        )
        out.append(get(V + "registered-models/search", max_results=100))
        out.append(get(V + "model-versions/search", max_results=100))
        out.append(post(V + "logged-models/search", {"experiment_ids": [ids["experiment_id"]]}))
        out.append(
            post(
                "3.0/mlflow/traces/search",
                {
                    "locations": [
                        {
                            "type": "MLFLOW_EXPERIMENT",
                            "mlflow_experiment": {"experiment_id": ids["experiment_id"]},
                        }
                    ]
                },
            )
        )
        out.append(get("2.0/mlflow-artifacts/artifacts", path=f"{ids['artifact_root']}/model"))
        out.append(get("2.0/mlflow-artifacts/artifacts", path=ids["artifact_root"]))
    return json.dumps(out, sort_keys=True)


def test_mlflow_acts_only_on_what_the_proxy_allowed(world: World) -> None:
    a, b = world.a, world.b
    principals = [("non-owner", a.headers), ("read-only", world.a_read), ("owner", b.headers)]
    problems: list[str] = []
    size = {"endpoints": 0, "requests": 0}
    n = 0
    with httpx.Client(base_url=world.api, timeout=15) as client:
        before = snapshot(world)
        for case in cases():
            size["endpoints"] += 1
            control_seen = case.show == "none"
            for who, headers in principals:
                owner = b if who == "owner" else a
                decoy_path, decoy = _ids(a if who != "owner" else b, case)
                _, target = _ids(b, case)
                path = decoy_path if case.id_field == "#" or case.kind == "artifact" else case.template
                for placement, query, body in placements(case, target, decoy, _fill(case.extra, n, owner, b)):
                    n += 1
                    size["requests"] += 1
                    prefix = (
                        ""
                        if case.template in ("get-artifact", "model-versions/get-artifact")
                        else "ajax-api/"
                    )
                    url = f"/mlflow/{prefix}{path}" + (f"?{query}" if query else "")
                    sent = {**headers, **({"Content-Type": "application/json"} if body is not None else {})}
                    try:
                        answer = client.request(case.method, url, content=body, headers=sent)
                    except httpx.TimeoutException:
                        problems.append(f"no answer: {who} {case.label} [{placement}]")
                        continue
                    refused = answer.status_code >= 400 and '"error":{' in answer.text  # by the proxy
                    after = before if refused else snapshot(world)
                    changed = after != before
                    leaked = SECRET in answer.text
                    where = f"{who} {case.label} [{placement}] -> {answer.status_code} {answer.text[:160]}"
                    if who != "owner" and changed:
                        problems.append(f"MLflow changed B's objects: {where}")
                    if who != "owner" and leaked:
                        problems.append(f"B's data in the answer: {where}")
                    if who == "owner":
                        control_seen = control_seen or (changed if case.show == "write" else leaked)
                    before = after
            if not control_seen:
                problems.append(f"control: B's own requests did nothing visible: {case.label}")
    print(f"differential size: {size['endpoints']} endpoints x 6 placements x {len(principals)} principals"
          f" = {size['requests']} requests")  # fmt: skip
    assert not problems, "\n".join(problems)


def test_a_refusal_does_not_tell_whether_or_where_an_object_exists(world: World) -> None:
    """Someone else's run and no run at all get the same answer, naming neither experiment nor existence."""
    b = world.b.ids
    missing = "0" * 32
    with httpx.Client(base_url=world.api, headers=world.a.headers, timeout=30) as client:
        answers = {}
        for label, run_id in (("theirs", b["run_id"]), ("missing", missing)):
            answer = client.get("/mlflow/api/2.0/mlflow/runs/get", params={"run_id": run_id})
            answers[label] = (answer.status_code, answer.json()["error"]["message"].replace(run_id, "<id>"))
            assert b["experiment_id"] not in answer.text.replace(run_id, "")
        assert answers["theirs"] == answers["missing"] and answers["theirs"][0] == 403
        by_name = {}
        for label, name in (("theirs", "ownerB-exp"), ("missing", "no-such-experiment")):
            answer = client.get(
                "/mlflow/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": name}
            )
            by_name[label] = (answer.status_code, answer.json()["error"]["message"].replace(name, "<name>"))
        # MLflow's own "does not exist" for both (a stock client's set_experiment then creates its own)
        assert by_name["theirs"] == by_name["missing"] and by_name["theirs"][0] == 404
