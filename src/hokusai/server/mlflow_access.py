"""MLflow permissions at the proxy: every proxied request is resolved to the resources it touches and
checked against the caller's permission levels on them (``policy.MlflowLevel``).

``ROUTES`` is the allowlist: the MLflow REST, ajax and artifact endpoints the MLflow client and UI need,
each with the operation it is (read / update / delete), the kind of resource it names and where the id is
(query, JSON body or path). A run, logged model or trace is resolved to its experiment (one MLflow call,
then cached: a run never changes experiment); an artifact path to the experiment whose storage it is in.
Anything outside the allowlist (assistant, gateway, jobs, workspaces, GraphQL mutations, ...) is for
admins only. Searches are filtered to what the caller may read (``filter_response``); creating an
experiment or registered model makes the caller its MANAGE holder (``after_response``).

The ids are read from the request as MLflow reads it (``mlflow_messages``: parsed strictly, forwarded
re-serialised), so what is checked is what MLflow acts on. Other objects a message names are checked too:
a logged model a metric or an output is written to (EDIT), a run or logged model a model version or a
logged model is made from (READ). A refusal names the object as the caller named it and reads the same
whether the object is someone else's or does not exist.

A non-admin may not choose an experiment's artifact location (it could point into another experiment's
storage), and a model version's source must be something the caller may read.

No FastAPI here: ``MlflowAccess`` needs an aiohttp session (for the look-ups) and database sessions.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from hokusai.errors import Forbidden, InvalidInput, NotFound
from hokusai.server import policy
from hokusai.server.mlflow_messages import canonical
from hokusai.server.policy import ADMIN_ROLE, MlflowLevel
from hokusai.server.principal import Principal
from hokusai.server.services import mlflow_permissions

Op = Literal["read", "update", "delete"]
LOOKUP_TIMEOUT = aiohttp.ClientTimeout(total=10)
MAX_CACHED = 100_000


@dataclass(frozen=True)
class Route:
    """One allowlisted MLflow endpoint; ``kind`` says what ``field`` names (``MlflowAccess.resources``)."""

    method: str
    path: re.Pattern[str]
    op: Op
    kind: str
    field: str = ""


def _r(method: str, path: str, op: Op, kind: str, field: str = "") -> Route:
    return Route(method, re.compile(path + "$"), op, kind, field)


M = "2.0/mlflow/"
ROUTES: tuple[Route, ...] = (
    # the UI's shell and what it reads about the server
    _r("GET", r"", "read", "open"),
    _r("GET", r"static-files/.+", "read", "open"),
    _r("GET", r"(?:favicon\.ico|version|health)", "read", "open"),
    _r("GET", r"3\.0/mlflow/server-info", "read", "server_info"),
    _r("GET", r"3\.0/mlflow/ui-telemetry", "read", "open"),
    # experiments
    _r("POST", M + r"experiments/create", "update", "create_experiment"),
    _r("GET", M + r"experiments/get", "read", "experiment", "experiment_id"),
    _r("GET", M + r"experiments/get-by-name", "read", "experiment_by_name"),
    _r("GET", M + r"experiments/search", "read", "search_experiments"),
    _r("POST", M + r"experiments/search", "read", "search_experiments"),
    _r("POST", M + r"experiments/(?:update|set-experiment-tag|delete-experiment-tag)", "update", "experiment",
       "experiment_id"),
    _r("POST", M + r"experiments/(?:delete|restore)", "delete", "experiment", "experiment_id"),
    _r("POST", M + r"experiments/search-datasets", "read", "experiment", "experiment_ids"),
    # runs, metrics, run artifacts
    _r("POST", M + r"runs/create", "update", "experiment", "experiment_id"),
    _r("GET", M + r"runs/get", "read", "run", "run_id|run_uuid"),
    _r("POST", M + r"runs/search", "read", "experiment", "experiment_ids"),
    _r("POST", M + r"runs/(?:update|log-metric|log-batch|log-parameter|set-tag|delete-tag|log-model"
                   r"|log-inputs|outputs)", "update", "run", "run_id|run_uuid"),
    _r("POST", M + r"runs/(?:delete|restore)", "delete", "run", "run_id"),
    _r("GET", M + r"metrics/get-history", "read", "run", "run_id|run_uuid"),
    _r("GET", M + r"metrics/get-history-bulk(?:-interval)?", "read", "run", "run_id|run_ids"),
    _r("GET", M + r"artifacts/list", "read", "run", "run_id|run_uuid"),
    _r("GET", r"get-artifact", "read", "run", "run_id|run_uuid"),
    _r("POST", M + r"upload-artifact", "update", "run", "run_uuid|run_id"),
    # registered models and versions
    _r("POST", M + r"registered-models/create", "update", "create_registered_model", "name"),
    _r("GET", M + r"registered-models/(?:get|get-latest-versions)", "read", "registered_model", "name"),
    _r("POST", M + r"registered-models/get-latest-versions", "read", "registered_model", "name"),
    _r("GET", M + r"registered-models/search", "read", "search_registered_models"),
    _r("PATCH", M + r"registered-models/update", "update", "registered_model", "name"),
    _r("POST", M + r"registered-models/(?:rename|set-tag|alias)", "update", "registered_model", "name"),
    _r("DELETE", M + r"registered-models/(?:delete-tag|alias)", "update", "registered_model", "name"),
    _r("GET", M + r"registered-models/alias", "read", "registered_model", "name"),
    _r("DELETE", M + r"registered-models/delete", "delete", "registered_model", "name"),
    _r("POST", M + r"model-versions/create", "update", "create_model_version", "name"),
    _r("GET", M + r"model-versions/(?:get|get-download-uri)", "read", "registered_model", "name"),
    _r("GET", r"model-versions/get-artifact", "read", "registered_model", "name"),
    _r("GET", M + r"model-versions/search", "read", "search_model_versions"),
    _r("PATCH", M + r"model-versions/update", "update", "registered_model", "name"),
    _r("POST", M + r"model-versions/(?:set-tag|transition-stage)", "update", "registered_model", "name"),
    _r("DELETE", M + r"model-versions/delete-tag", "update", "registered_model", "name"),
    _r("DELETE", M + r"model-versions/delete", "delete", "registered_model", "name"),
    # logged models (MLflow 3)
    _r("POST", M + r"logged-models", "update", "experiment", "experiment_id"),
    _r("POST", M + r"logged-models/search", "read", "experiment", "experiment_ids"),
    _r("GET", M + r"logged-models/([^/]+)", "read", "logged_model", "#1"),
    _r("GET", M + r"logged-models/([^/]+)/artifacts/(?:directories|files)", "read", "logged_model", "#1"),
    _r("PATCH", M + r"logged-models/([^/]+)(?:/tags)?", "update", "logged_model", "#1"),
    _r("POST", M + r"logged-models/([^/]+)/params", "update", "logged_model", "#1"),
    _r("DELETE", M + r"logged-models/([^/]+)/tags/[^/]+", "update", "logged_model", "#1"),
    _r("DELETE", M + r"logged-models/([^/]+)", "delete", "logged_model", "#1"),
    # traces (v2 and v3)
    _r("POST", M + r"traces", "update", "experiment", "experiment_id"),
    _r("GET", M + r"traces", "read", "experiment", "experiment_ids"),
    _r("GET", M + r"traces/([^/]+)/info", "read", "trace", "#1"),
    _r("PATCH", M + r"traces/([^/]+)(?:/tags)?", "update", "trace", "#1"),
    _r("DELETE", M + r"traces/([^/]+)/tags", "update", "trace", "#1"),
    _r("POST", M + r"traces/delete-traces", "delete", "experiment", "experiment_id"),
    _r("POST", r"3\.0/mlflow/traces", "update", "experiment",
       "trace.trace_info.trace_location.mlflow_experiment.experiment_id"),
    _r("POST", r"3\.0/mlflow/traces/(?:search|metrics)", "read", "experiment",
       "locations[].mlflow_experiment.experiment_id|experiment_ids"),
    _r("GET", r"3\.0/mlflow/traces/get", "read", "trace", "trace_id"),
    _r("GET", r"3\.0/mlflow/traces/([^/]+)", "read", "trace", "#1"),
    _r("PATCH", r"3\.0/mlflow/traces/([^/]+)/tags", "update", "trace", "#1"),
    _r("DELETE", r"3\.0/mlflow/traces/([^/]+)/tags", "update", "trace", "#1"),
    _r("POST", r"3\.0/mlflow/traces/delete-traces", "delete", "experiment", "experiment_id"),
    _r("GET", r"(?:2|3)\.0/mlflow/get-trace-artifact", "read", "trace", "request_id|trace_id"),
    # the artifact store (served by MLflow)
    _r("GET", r"2\.0/mlflow-artifacts/artifacts", "read", "artifact", "path"),
    _r("GET", r"2\.0/mlflow-artifacts/artifacts/(.+)", "read", "artifact", "#1"),
    _r("PUT", r"2\.0/mlflow-artifacts/artifacts/(.+)", "update", "artifact", "#1"),
    _r("DELETE", r"2\.0/mlflow-artifacts/artifacts/(.+)", "delete", "artifact", "#1"),
    _r("POST", r"2\.0/mlflow-artifacts/mpu/(?:create|complete|abort)/(.+)", "update", "artifact", "#1"),
    # the UI's GraphQL queries (mutations are refused)
    _r("POST", r"graphql", "read", "graphql"),
)  # fmt: skip

# GraphQL root fields the UI reads, with the input field naming the resource.
GRAPHQL_FIELDS = {
    "mlflowGetExperiment": ("experiment", "experimentId"),
    "mlflowGetRun": ("run", "runId"),
    "mlflowListArtifacts": ("run", "runId"),
    "mlflowGetMetricHistoryBulkInterval": ("run", "runIds"),
    "mlflowSearchRuns": ("experiment", "experimentIds"),
    "mlflowSearchDatasets": ("experiment", "experimentIds"),
    "test": ("none", ""),
    "__typename": ("none", ""),
}
# Other objects a write's message names that MLflow writes to: (where in the message, kind).
_WRITTEN_LINKS = (
    ("model_id", "logged_model"),  # runs/log-metric: the metric is also the logged model's
    ("metrics[].model_id", "logged_model"),
    ("models[].model_id", "logged_model"),  # runs/log-inputs, runs/outputs
)
_RUN_SOURCE = re.compile(r"^runs:/([0-9a-f]{1,64})/")
_LOGGED_SOURCE = re.compile(r"^models:/(m-[0-9a-f]+)$")
_ARTIFACT_SOURCE = re.compile(r"^mlflow-artifacts:/+(.+)$")


def match(method: str, path: str) -> tuple[Route, re.Match[str]] | None:
    """The allowlisted route a request is, or None."""
    method = "GET" if method in ("HEAD", "OPTIONS") else method
    target = canonical(path)
    for route in ROUTES:
        if route.method == method and (found := route.path.match(target)):
            return route, found
    return None


def values_at(document: Any, dotted: str) -> list[str]:
    """The strings at a dotted path of a JSON value (``a.b[].c``: every element of list ``b``)."""
    nodes = [document]
    for part in dotted.split("."):
        many = part.endswith("[]")
        key = part.removesuffix("[]")
        nodes = [node.get(key) for node in nodes if isinstance(node, dict)]
        if many:
            nodes = [item for node in nodes if isinstance(node, list) for item in node]
    found: list[str] = []
    for node in nodes:
        if isinstance(node, list):
            found += [str(item) for item in node if isinstance(item, str | int)]
        elif isinstance(node, str | int) and not isinstance(node, bool):
            found.append(str(node))
    return found


def _label(kind: str, value: str) -> str:
    """An object as the caller named it (the words of a refusal)."""
    return value if kind == "denied" else f"{kind.replace('_', ' ')} {value[:200]}"


def _graphql_named(fields: dict[str, Any]) -> list[tuple[str, str]]:
    """The objects a GraphQL query reads, from the query MLflow will run (mutations and fields outside
    ``GRAPHQL_FIELDS`` are "denied")."""
    from graphql import GraphQLError, OperationType, parse
    from graphql.language import FieldNode, OperationDefinitionNode
    from graphql.utilities import value_from_ast_untyped

    variables = fields.get("variables") or {}
    try:
        document = parse(str(fields.get("query") or ""))
    except GraphQLError as exc:
        raise InvalidInput(f"the GraphQL query does not parse: {exc.message}", code="bad_graphql") from None
    found: list[tuple[str, str]] = []
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if definition.operation is not OperationType.QUERY:
            found.append(("denied", "GraphQL mutations and subscriptions"))
            continue
        for selection in definition.selection_set.selections:
            if not isinstance(selection, FieldNode) or selection.name.value not in GRAPHQL_FIELDS:
                found.append(("denied", "that GraphQL field"))
                continue
            kind, key = GRAPHQL_FIELDS[selection.name.value]
            if kind == "none":
                continue
            arguments = {
                a.name.value: value_from_ast_untyped(a.value, variables) for a in selection.arguments
            }
            ids = values_at(arguments.get("input") or {}, key)
            if not ids:
                found.append(("denied", f"{selection.name.value} without {key}"))
            found += [(kind, value) for value in ids]
    return found


@dataclass
class Request:
    """What the access check needs of one proxied request: ``fields`` is the request as MLflow reads it
    (``mlflow_messages.Parsed.fields``: the parsed message, query arguments included, proto field names)."""

    method: str
    path: str
    fields: dict[str, Any] = field(default_factory=dict)

    def ids(self, spec: str, found: re.Match[str] | None = None) -> list[str]:
        """The ids ``spec`` names, the first alternative (split by ``|``) that has one, as MLflow's
        ``run_id or run_uuid``: path groups (``#1``) or values at dotted paths of the parsed message."""
        for name in spec.split("|"):
            if name.startswith("#") and found is not None:
                return [found.group(int(name[1:]))]
            if values := [value for value in values_at(self.fields, name) if value]:
                return values
        return []


# Where a request gives an MLflow object a name (creating or renaming it): the platform keeps some names.
_NAMING = {
    "experiments/create": ("experiment", "name"),
    "experiments/update": ("experiment", "new_name"),
    "registered-models/create": ("registered_model", "name"),
    "registered-models/rename": ("registered_model", "new_name"),
}


def _names_given(route: Route, request: Request) -> list[tuple[str, str]]:
    """The (resource type, name) pairs the request gives MLflow objects."""
    target = canonical(request.path)
    for suffix, (resource_type, key) in _NAMING.items():
        if route.method == "POST" and target.endswith(suffix) and (name := request.fields.get(key)):
            return [(resource_type, str(name))]
    return []


@dataclass
class Decision:
    """What the proxy does with an allowed request: forward, and maybe look at the answer."""

    route: Route | None
    after: str | None = None  # "filter_experiments" | "filter_registered_models" | "filter_model_versions"
    # | "check_experiment" | "grant_experiment" | "grant_registered_model" | "proxied_artifacts" (server-info)
    resources: list[tuple[str, str]] = field(default_factory=list)
    named: list[tuple[str, str]] = field(default_factory=list)  # what MLflow acts on, as the request names it
    hidden: str = ""  # an answer of MLflow's "does not exist" is this refusal (a by-name look-up)
    deletes: tuple[str, str] | None = None  # a registered model whose grants go once MLflow deleted it

    @property
    def writes(self) -> bool:
        return self.route is None or self.route.op != "read"


def denied(what: str) -> Forbidden:
    """The refusal of an object the caller may not use: the same whether it is someone else's or does not
    exist (``what`` is the object as the caller named it, never what it resolved to)."""
    return Forbidden(
        f"you have no permission for this on {what} (or it does not exist); its owner can grant it with "
        "PUT /api/v1/permissions",
        code="mlflow_permission_denied",
    )


def unseen(what: str) -> NotFound:
    """A by-name look-up of an object the caller may not read: MLflow's own "does not exist", the same as
    for a missing one (a stock client's ``set_experiment`` then goes on to create its own, which MLflow
    refuses if the name is taken: names are one namespace, so their existence is no secret, their
    content is)."""
    return NotFound(f"{what} does not exist, or is not yours to read", code="mlflow_not_found")


class _Levels:
    """Permission levels per principal, cached for ``ttl`` seconds (forgotten on a grant change here)."""

    def __init__(self, sessions: sessionmaker[Session], ttl: float) -> None:
        self.sessions, self.ttl = sessions, ttl
        self._cache: dict[str, dict[tuple[str, str], tuple[MlflowLevel, float]]] = {}

    async def get(self, principal_id: str, resource_type: str, resource_id: str) -> MlflowLevel:
        entries = self._cache.setdefault(principal_id, {})
        hit = entries.get((resource_type, resource_id))
        now = time.monotonic()
        if hit is not None and hit[1] > now:
            return hit[0]

        def read() -> MlflowLevel:
            with self.sessions() as session:
                return mlflow_permissions.level_of(session, principal_id, resource_type, resource_id)

        level = await run_in_threadpool(read)
        if self.ttl > 0:
            entries[(resource_type, resource_id)] = (level, now + self.ttl)
        return level

    def put(self, principal_id: str, resource_type: str, resource_id: str, level: MlflowLevel) -> None:
        if self.ttl > 0:
            self._cache.setdefault(principal_id, {})[(resource_type, resource_id)] = (
                level,
                time.monotonic() + self.ttl,
            )

    def forget(self, principal_id: str) -> None:
        self._cache.pop(principal_id, None)


class MlflowAccess:
    """Resolves and checks proxied MLflow requests for one app."""

    def __init__(self, sessions: sessionmaker[Session], mlflow_url: str, cache_seconds: float) -> None:
        self.sessions = sessions
        self.mlflow_url = mlflow_url.rstrip("/")
        self.levels = _Levels(sessions, cache_seconds)
        self._experiment_of: dict[tuple[str, str], str | None] = {}  # (kind, id) -> experiment id
        self._locations: dict[str, str] = {}  # artifact location prefix -> experiment id
        self._locations_at = 0.0
        self.http: aiohttp.ClientSession | None = None

    def forget(self, principal_id: str) -> None:
        """A grant of ``principal_id`` changed: read its levels from the database again."""
        self.levels.forget(principal_id)

    async def check(self, principal: Principal, request: Request) -> Decision:
        """Allow (returning what to do with the answer) or raise 403 with the reason."""
        found = match(request.method, request.path)
        if found is None:
            policy.check_caller(principal, policy.RULES["mlflow.admin"])
            return Decision(None)
        route, matched = found
        policy.check_caller(principal, policy.RULES["mlflow.read" if route.op == "read" else "mlflow.write"])
        needed = policy.mlflow_level_needed(route.op)
        admin = principal.role == ADMIN_ROLE
        kind = route.kind
        if kind == "open":
            return Decision(route)
        if kind == "server_info":
            return Decision(route, after="proxied_artifacts")
        fields = request.fields
        for resource_type, name in _names_given(route, request):
            await self._name_allowed(principal, resource_type, name)
        if kind == "create_experiment":
            if not admin and fields.get("artifact_location"):
                raise Forbidden(
                    "only an admin chooses an experiment's artifact location; leave it out",
                    code="artifact_location_reserved",
                )
            return Decision(
                route, after="grant_experiment", named=[("experiment_name", str(fields.get("name")))]
            )
        if kind == "create_registered_model":
            return Decision(
                route, after="grant_registered_model", named=[("registered_model", str(fields.get("name")))]
            )
        if kind in ("search_experiments", "search_registered_models", "search_model_versions"):
            return Decision(route, after=None if admin else "filter_" + kind.removeprefix("search_"))
        if kind == "experiment_by_name":
            hidden = f"experiment {str(fields.get('experiment_name'))[:200]!r}"
            return Decision(
                route, after=None if admin else "check_experiment", hidden="" if admin else hidden
            )
        named = self.named(route, matched, request)
        if not named and not admin and kind != "graphql":
            raise denied("a resource this request does not name")
        linked: list[tuple[str, str, MlflowLevel]] = []
        if kind == "create_model_version":  # what a new model version is made from is only read
            linked += [(k, v, MlflowLevel.READ) for k, v in self._sources(fields)]
        elif route.op != "read" and kind in ("run", "experiment"):
            linked += [(k, v, MlflowLevel.EDIT) for where, k in _WRITTEN_LINKS for v in request.ids(where)]
            linked += [("run", v, MlflowLevel.READ) for v in request.ids("source_run_id")]
        resources = []
        for object_kind, object_id, level in [(k, v, needed) for k, v in named] + linked:
            resource = await self._resolve(object_kind, object_id)
            await self._require(principal, *resource, level, label=_label(object_kind, object_id))
            resources.append(resource)
        deletes = named[0] if canonical(request.path).endswith("registered-models/delete") and named else None
        return Decision(
            route, resources=resources, named=named + [(k, v) for k, v, _ in linked], deletes=deletes
        )

    async def _name_allowed(self, principal: Principal, resource_type: str, name: str) -> None:
        """403 ``mlflow_name_reserved`` for a name the platform keeps for its models' objects."""

        def check() -> None:
            with self.sessions() as session:
                mlflow_permissions.check_mlflow_name(session, principal, resource_type, name)

        await run_in_threadpool(check)

    async def deleted(self, principal: Principal, decision: Decision) -> None:
        """MLflow deleted what ``decision`` named: its grants go with it (a registered model's name can be
        made again by anyone; an experiment is only soft-deleted, and restorable, so it keeps them)."""
        if decision.deletes is None:
            return
        resource_type, resource_id = decision.deletes

        def forget() -> None:
            with self.sessions() as session:
                mlflow_permissions.forget_resource(
                    session, resource_type, resource_id, removed_by=principal.id
                )
                session.commit()

        await run_in_threadpool(forget)

    async def _require(
        self, principal: Principal, resource_type: str, resource_id: str, needed: MlflowLevel, label: str
    ) -> None:
        if principal.role == ADMIN_ROLE:
            return
        if resource_type == "denied":
            raise denied(label)
        held = await self.levels.get(principal.id, resource_type, resource_id)
        if not policy.mlflow_allows(principal, held, needed):
            raise denied(label)

    def named(self, route: Route, matched: re.Match[str], request: Request) -> list[tuple[str, str]]:
        """The objects the request names, as (kind, id) from the parsed message: what MLflow acts on."""
        kind = route.kind
        if kind == "graphql":
            return _graphql_named(request.fields)
        if kind == "create_model_version":
            kind = "registered_model"
        return [(kind, value) for value in request.ids(route.field, matched)]

    async def _resolve(self, kind: str, value: str) -> tuple[str, str]:
        """The (experiment | registered_model, id) whose permissions govern an object ("denied" when it
        cannot be resolved: unknown, or not an object at all)."""
        if kind in ("experiment", "registered_model", "denied"):
            return kind, value
        if kind == "artifact":
            return await self._artifact_experiment(value)
        experiment = await self._experiment_for(kind, value)
        return ("experiment", experiment) if experiment is not None else ("denied", f"{kind} {value}")

    @staticmethod
    def _sources(fields: dict[str, Any]) -> list[tuple[str, str]]:
        """What a new model version is made from (its run, logged model, source): the caller must be able
        to read each."""
        found: list[tuple[str, str]] = []
        if run_id := fields.get("run_id"):
            found.append(("run", str(run_id)))
        if model_id := fields.get("model_id"):
            found.append(("logged_model", str(model_id)))
        source = str(fields.get("source") or "")
        if match_ := _RUN_SOURCE.match(source):
            found.append(("run", match_[1]))
        elif match_ := _LOGGED_SOURCE.match(source):
            found.append(("logged_model", match_[1]))
        elif match_ := _ARTIFACT_SOURCE.match(source):
            found.append(("artifact", match_[1]))
        elif source:
            found.append(("denied", f"model version source {source[:80]!r}"))
        return found

    async def _artifact_experiment(self, path: str) -> tuple[str, str]:
        """The experiment whose storage an artifact path is in: ``<experiment id>/…`` for experiments the
        server placed, else the experiment whose artifact location is that prefix."""
        first = path.strip("/").split("/", 1)[0]
        if first.isdigit():
            return "experiment", first
        if time.monotonic() - self._locations_at > 30 or first not in self._locations:
            await self._load_locations()
        experiment = self._locations.get(first)
        return ("experiment", experiment) if experiment else ("denied", f"artifact path {first}/…")

    async def _load_locations(self) -> None:
        answer = await self._get(
            "api/2.0/mlflow/experiments/search", {"max_results": "50000", "view_type": "ALL"}
        )
        locations: dict[str, str] = {}
        for experiment in (answer or {}).get("experiments", []):
            location = str(experiment.get("artifact_location", ""))
            if location.startswith("mlflow-artifacts:"):
                prefix = location.removeprefix("mlflow-artifacts:").strip("/").split("/", 1)[0]
                locations.setdefault(prefix, str(experiment.get("experiment_id")))
        self._locations, self._locations_at = locations, time.monotonic()

    async def _experiment_for(self, kind: str, value: str) -> str | None:
        key = (kind, value)
        if key in self._experiment_of:
            return self._experiment_of[key]
        if kind == "run":
            answer = await self._get("api/2.0/mlflow/runs/get", {"run_id": value})
            experiment = ((answer or {}).get("run") or {}).get("info", {}).get("experiment_id")
        elif kind == "logged_model":
            answer = await self._get(f"api/2.0/mlflow/logged-models/{value}", {})
            experiment = ((answer or {}).get("model") or {}).get("info", {}).get("experiment_id")
        else:  # a trace
            answer = await self._get(f"api/3.0/mlflow/traces/{value}", {})
            info = ((answer or {}).get("trace") or {}).get("trace_info") or {}
            experiment = (info.get("trace_location") or {}).get("mlflow_experiment", {}).get("experiment_id")
        if experiment is not None:
            if len(self._experiment_of) >= MAX_CACHED:
                self._experiment_of.clear()
            self._experiment_of[key] = str(experiment)
        return None if experiment is None else str(experiment)

    async def _get(self, path: str, params: dict[str, str]) -> dict[str, Any] | None:
        assert self.http is not None
        try:
            async with self.http.get(
                f"{self.mlflow_url}/{path}", params=params, timeout=LOOKUP_TIMEOUT
            ) as answer:
                if answer.status != 200:
                    return None
                return await answer.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None

    # --- answers -----------------------------------------------------------------------------------

    async def after_response(self, principal: Principal, decision: Decision, body: bytes) -> bytes:
        """Filter a search answer to what the caller may read, check a by-name answer, or record the
        caller as MANAGE holder of what it created. Returns the body to send."""
        try:
            answer = json.loads(body or b"{}")
        except ValueError:
            return body
        after = decision.after
        if after == "grant_experiment" and (experiment_id := answer.get("experiment_id")):
            await self._grant_creator(principal, "experiment", str(experiment_id))
        elif after == "grant_registered_model":
            name = (answer.get("registered_model") or {}).get("name")
            if name:
                await self._grant_creator(principal, "registered_model", str(name))
        elif after == "check_experiment":
            experiment_id = (answer.get("experiment") or {}).get("experiment_id")
            if experiment_id is not None:
                try:
                    await self._require(
                        principal, "experiment", str(experiment_id), MlflowLevel.READ, label=decision.hidden
                    )
                except Forbidden:
                    raise unseen(decision.hidden) from None
        elif after == "proxied_artifacts":
            # Artifacts travel through this proxy, where they are checked: a client told that the store
            # offers presigned URLs asks for one per download (admins only here) and would then fetch from
            # the store's own address (an internal one: s3:9000 in the compose stack), past the proxy.
            answer.update(multipart_uploads_enabled=False, multipart_downloads_enabled=False)
            return json.dumps(answer).encode()
        elif after == "filter_experiments":
            answer["experiments"] = await self._readable(
                principal, "experiment", answer.get("experiments", []), lambda e: e.get("experiment_id")
            )
            return json.dumps(answer).encode()
        elif after == "filter_registered_models":
            answer["registered_models"] = await self._readable(
                principal, "registered_model", answer.get("registered_models", []), lambda m: m.get("name")
            )
            return json.dumps(answer).encode()
        elif after == "filter_model_versions":
            answer["model_versions"] = await self._readable(
                principal, "registered_model", answer.get("model_versions", []), lambda v: v.get("name")
            )
            return json.dumps(answer).encode()
        return body

    async def _readable(
        self, principal: Principal, resource_type: str, items: Iterable[Any], key: Callable[[Any], Any]
    ) -> list[Any]:
        def held() -> dict[str, MlflowLevel]:
            with self.sessions() as session:
                return mlflow_permissions.levels_of(session, principal.id, resource_type)

        levels = await run_in_threadpool(held)
        return [
            item
            for item in items
            if isinstance(item, dict)
            and policy.mlflow_allows(
                principal, levels.get(str(key(item)), MlflowLevel.NO_PERMISSIONS), MlflowLevel.READ
            )
        ]

    async def _grant_creator(self, principal: Principal, resource_type: str, resource_id: str) -> None:
        def grant() -> None:
            with self.sessions() as session:
                mlflow_permissions.grant_creator(
                    session, resource_type, resource_id, principal.id, granted_by=principal.id
                )
                session.commit()

        await run_in_threadpool(grant)
        self.levels.put(principal.id, resource_type, resource_id, MlflowLevel.MANAGE)
