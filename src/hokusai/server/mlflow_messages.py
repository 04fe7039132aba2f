"""What MLflow reads from a proxied request, parsed strictly, and the canonical request the proxy forwards.

MLflow reads each REST request into its own protobuf request type (its service descriptors give path,
method and type of every endpoint): a GET's query arguments (repeated fields as lists, booleans
``true``/``false``), or the JSON body of other methods, leniently: a body that is a JSON *string* is decoded
a second time, unknown fields are ignored, a duplicate key keeps its last value, ``run_id or run_uuid``.
A check that reads the client's bytes differently from MLflow can be walked around, so the proxy parses
the same way but strictly (``Bound.parse``): a body that is not a JSON object, a duplicate key, an unknown
field, both spellings of a field (``run_id``/``runId``), two aliases of one id with different values
(``run_id``/``run_uuid``), a body id that differs from the path's, or a query string beside a body are
each a 400 ``mlflow_bad_request``. The ids are then read from the parsed message and the proxy forwards
a re-serialisation of it (proto field names: a JSON body, or a rebuilt query string), never the client's
bytes, so MLflow acts on exactly what was checked.

The few allowlisted handlers that are not protobuf endpoints (artifact downloads, bulk metric history,
trace attachments, the UI's upload and GraphQL) have their query arguments listed here (``_EXTRA``). The
endpoint table is built once per process, on first use (importing MLflow's protobuf modules takes about
1.5 s, so the API does not pay it before its first MLflow call).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

from hokusai.errors import InvalidInput

Body = Literal["message", "stream", "graphql", "none"]
# Two fields MLflow reads as one id (``request_message.run_id or request_message.run_uuid``).
ALIASES = (("run_id", "run_uuid"), ("request_id", "trace_id"))
_PREFIX = re.compile(r"^(?:ajax-api|api)/")
_PARAM = re.compile(r"\{(?:\w+\.)?(\w+)\}|<path:(\w+)>|<(\w+)>")
_GRAPHQL_KEYS = ("query", "variables", "operationName")


def canonical(path: str) -> str:
    """The proxied path without ``api/`` or ``ajax-api/`` (both reach the same MLflow handlers)."""
    return _PREFIX.sub("", path.strip("/"))


def bad_request(message: str, **details: Any) -> InvalidInput:
    """A request MLflow could read differently from the proxy (400 ``mlflow_bad_request``)."""
    return InvalidInput(message, code="mlflow_bad_request", details=details or None)


@dataclass(frozen=True)
class Endpoint:
    """One MLflow endpoint: its path (canonical, with named groups for path parameters), the request
    message MLflow parses (None for handlers that read query arguments themselves), the query arguments
    it reads beside the message (name -> repeated), and how its body is read."""

    method: str
    template: str
    pattern: re.Pattern[str]
    message: Any = None
    query: Mapping[str, bool] = field(default_factory=dict)
    body: Body = "none"

    @property
    def reads_body(self) -> bool:
        """Whether the proxy reads (and re-serialises) this endpoint's body before the check."""
        return self.body in ("message", "graphql")


@dataclass(frozen=True)
class Parsed:
    """What MLflow will read (``fields``: proto field names; path parameters in ``path``) and what to
    forward: ``query`` (the rebuilt query string) and ``body`` (the canonical JSON body, or None: no body,
    or the client's body streamed on when ``stream``)."""

    fields: dict[str, Any]
    path: dict[str, str] = field(default_factory=dict)
    query: str = ""
    body: bytes | None = None
    stream: bool = False


@dataclass(frozen=True)
class Bound:
    """An endpoint with the path parameters of one request."""

    endpoint: Endpoint
    path: dict[str, str]

    def parse(self, query: str, body: bytes | None) -> Parsed:
        """The request as MLflow reads it, refused (400) wherever MLflow could read something else."""
        endpoint = self.endpoint
        if endpoint.method == "GET" or endpoint.body == "stream":
            arguments = _query_arguments(query)
            fields: dict[str, Any] = {}
            if endpoint.message is not None:
                fields = _message_fields(endpoint.message, _query_to_json(endpoint.message, arguments))
            fields |= _extra_arguments(endpoint, arguments)
            _check_aliases(fields, self.path)
            return Parsed(fields, self.path, query=_encode_query(fields), stream=endpoint.body == "stream")
        if query:
            raise bad_request(
                "this MLflow endpoint reads its ids from the JSON body; leave the query string out",
                query=query[:200],
            )
        document = _json_object(body or b"")
        if endpoint.body == "graphql":
            fields = _graphql_fields(document)
        else:
            fields = _message_fields(endpoint.message, document)
            _check_aliases(fields, self.path)
        return Parsed(fields, self.path, body=json.dumps(fields, separators=(",", ":")).encode())


def find(method: str, path: str) -> Bound | None:
    """The MLflow endpoint a request reaches (Flask's precedence: literal paths before parameters)."""
    method = "GET" if method in ("HEAD", "OPTIONS") else method
    target = canonical(path)
    literal, parametrised = _table()
    if (endpoint := literal.get((method, target))) is not None:
        return Bound(endpoint, {})
    for endpoint in parametrised.get(method, ()):
        if found := endpoint.pattern.fullmatch(target):
            return Bound(endpoint, found.groupdict())
    return None


def endpoints() -> list[Endpoint]:
    """Every endpoint the table knows (MLflow's protobuf services, then the handlers listed here)."""
    literal, parametrised = _table()
    return [*literal.values(), *(e for group in parametrised.values() for e in group)]


# --- the table ---------------------------------------------------------------------------------------


def _endpoint(method: str, template: str, message: Any = None, **options: Any) -> Endpoint:
    pieces, last = [], 0
    for found in _PARAM.finditer(template):
        pieces.append(re.escape(template[last : found.start()]))
        name = found[1] or found[2] or found[3]
        pieces.append(f"(?P<{name}>.+)" if found[2] else f"(?P<{name}>[^/]+)")
        last = found.end()
    pieces.append(re.escape(template[last:]))
    return Endpoint(method, template, re.compile("".join(pieces)), message, **options)


def _extra() -> list[Endpoint]:
    """Allowlisted handlers outside MLflow's protobuf services (and protobuf ones read differently)."""
    from mlflow.protos.service_pb2 import SearchDatasets

    one, many = False, True
    return [
        _endpoint("GET", "get-artifact", query={"run_id": one, "run_uuid": one, "path": one}),
        _endpoint("GET", "model-versions/get-artifact", query={"name": one, "version": one, "path": one}),
        _endpoint("GET", "2.0/mlflow/metrics/get-history-bulk",
                  query={"run_id": many, "metric_key": one, "max_results": one}),
        _endpoint("GET", "2.0/mlflow/get-trace-artifact", query={"request_id": one, "path": one}),
        _endpoint("GET", "3.0/mlflow/get-trace-artifact", query={"request_id": one, "path": one}),
        _endpoint("GET", "2.0/mlflow/logged-models/{model_id}/artifacts/files",
                  query={"artifact_file_path": one}),
        _endpoint("POST", "2.0/mlflow/upload-artifact", query={"run_uuid": one, "path": one}, body="stream"),
        _endpoint("POST", "2.0/mlflow/experiments/search-datasets", SearchDatasets, body="message"),
        _endpoint("PUT", "2.0/mlflow-artifacts/artifacts/<path:artifact_path>", body="stream"),
        _endpoint("POST", "graphql", body="graphql"),
        _endpoint("GET", "3.0/mlflow/server-info"),  # answered with presigned URLs off (mlflow_access)
    ]  # fmt: skip


# Query arguments a protobuf handler reads itself, beside its message.
_EXTRA_QUERY = {"GetLoggedModel": {"allow_deleted": False}}


@functools.cache
def _table() -> tuple[dict[tuple[str, str], Endpoint], dict[str, list[Endpoint]]]:
    from mlflow.protos import databricks_pb2
    from mlflow.protos.mlflow_artifacts_pb2 import MlflowArtifactsService
    from mlflow.protos.model_registry_pb2 import ModelRegistryService
    from mlflow.protos.service_pb2 import MlflowService

    found: dict[tuple[str, str], Endpoint] = {}
    for extra in _extra():  # these win over a descriptor's entry for the same method and path
        found[(extra.method, extra.template)] = extra
    for service in (MlflowService, ModelRegistryService, MlflowArtifactsService):
        for rpc in service.DESCRIPTOR.methods:
            message = service().GetRequestClass(rpc)
            for option in rpc.GetOptions().Extensions[databricks_pb2.rpc].endpoints:
                template = f"{option.since.major}.0{option.path}".replace("//", "/")
                key = (option.method, template.lstrip("/"))
                if key not in found:
                    found[key] = _endpoint(
                        option.method, key[1], message,
                        query=_EXTRA_QUERY.get(message.DESCRIPTOR.name, {}),
                        body="none" if option.method == "GET" else "message",
                    )  # fmt: skip
    literal: dict[tuple[str, str], Endpoint] = {}
    parametrised: dict[str, list[Endpoint]] = {}
    for (method, template), endpoint in found.items():
        if _PARAM.search(template):
            parametrised.setdefault(method, []).append(endpoint)
        else:
            literal[(method, template)] = endpoint
    for group in parametrised.values():  # fewer parameters first, as Flask prefers literal segments
        group.sort(key=lambda e: (len(_PARAM.findall(e.template)), -len(e.template)))
    return literal, parametrised


# --- parsing -----------------------------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise bad_request(f"the JSON body names {key!r} twice", field=key)
        document[key] = value
    return document


def _json_object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        document = json.loads(raw, object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError):
        raise bad_request("the request body is not JSON") from None
    if not isinstance(document, dict):
        raise bad_request(
            f"the request body must be a JSON object, not a JSON {type(document).__name__} "
            "(MLflow would decode a JSON string a second time)"
        )
    return document


def _message_fields(message_class: Any, document: dict[str, Any]) -> dict[str, Any]:
    """``document`` parsed into MLflow's message strictly, back as JSON with proto field names."""
    from google.protobuf.json_format import MessageToDict, ParseDict, ParseError

    message = message_class()
    _one_spelling(document, message.DESCRIPTOR)
    try:
        ParseDict(document, message, ignore_unknown_fields=False)
    except ParseError as exc:
        raise bad_request(
            f"the request does not parse as MLflow's {message.DESCRIPTOR.name}: {str(exc).splitlines()[0]}"
        ) from None
    return MessageToDict(message, preserving_proto_field_name=True)


def _one_spelling(document: Any, descriptor: Any) -> None:
    """Refuse a field spelt both ways (``run_id`` and ``runId``) at any depth: protobuf's parser takes
    whichever comes last, so a check of one spelling would not be what MLflow reads."""
    if not isinstance(document, dict):
        return
    for described in descriptor.fields:
        name, json_name = described.name, described.json_name
        if name != json_name and name in document and json_name in document:
            raise bad_request(f"the request spells one field twice: {name!r} and {json_name!r}", field=name)
        nested = described.message_type
        if nested is None or nested.GetOptions().map_entry or nested.full_name.startswith("google.protobuf."):
            continue
        value = document.get(name, document.get(json_name))
        for item in value if isinstance(value, list) else [value]:
            _one_spelling(item, nested)


def _query_arguments(query: str) -> dict[str, list[str]]:
    arguments: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        arguments.setdefault(name, []).append(value)
    return arguments


def _query_to_json(message_class: Any, arguments: dict[str, list[str]]) -> dict[str, Any]:
    """Query arguments into a message's JSON the way MLflow's ``_get_request_message`` does for a GET
    (repeated fields as lists, booleans ``true``/``false``), refusing what it would skip or pick from."""
    fields = message_class.DESCRIPTOR.fields_by_name
    document: dict[str, Any] = {}
    for name, values in arguments.items():
        described = fields.get(name)
        if described is None:
            continue  # an extra argument, or unknown (``_extra_arguments``)
        if described.is_repeated:
            document[name] = values
            continue
        if len(values) > 1:
            raise bad_request(f"the query argument {name!r} is given {len(values)} times", field=name)
        value: Any = values[0]
        if described.type == described.TYPE_BOOL:
            if value.lower() not in ("true", "false"):
                raise bad_request(f"invalid boolean value {value!r} for {name!r}", field=name)
            value = value.lower() == "true"
        document[name] = value
    return document


def _extra_arguments(endpoint: Endpoint, arguments: dict[str, list[str]]) -> dict[str, Any]:
    known = set(endpoint.message.DESCRIPTOR.fields_by_name) if endpoint.message is not None else set()
    extra: dict[str, Any] = {}
    for name, values in arguments.items():
        if name in known:
            continue
        repeated = endpoint.query.get(name)
        if repeated is None:
            raise bad_request(f"MLflow's endpoint does not take the query argument {name!r}", field=name)
        if not repeated and len(values) > 1:
            raise bad_request(f"the query argument {name!r} is given {len(values)} times", field=name)
        extra[name] = values if repeated else values[0]
    return extra


def _check_aliases(fields: dict[str, Any], path: dict[str, str]) -> None:
    """Two spellings MLflow reads as one id must agree, with each other and with the path's."""
    for name, value in path.items():
        for alias in (name, *(b if a == name else a for a, b in ALIASES if name in (a, b))):
            if alias in fields and fields[alias] != value:
                raise bad_request(f"the body's {alias!r} differs from the {name!r} in the path", field=alias)
    for first, second in ALIASES:
        if first in fields and second in fields and fields[first] != fields[second]:
            raise bad_request(
                f"{first!r} and {second!r} name one id; they differ (give one of them)", field=second
            )


def _encode_query(fields: dict[str, Any]) -> str:
    pairs = []
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append((name, ("true" if item else "false") if isinstance(item, bool) else str(item)))
    return urlencode(pairs)


def _graphql_fields(document: dict[str, Any]) -> dict[str, Any]:
    """GraphQL's three keys (MLflow reads no others), typed; refused otherwise."""
    if unknown := sorted(set(document) - set(_GRAPHQL_KEYS)):
        raise bad_request(f"a GraphQL request has only {', '.join(_GRAPHQL_KEYS)}; not {unknown}")
    query, variables, operation = (document.get(key) for key in _GRAPHQL_KEYS)
    if not isinstance(query, str):
        raise bad_request("a GraphQL request needs 'query' as a string")
    if variables is not None and not isinstance(variables, dict):
        raise bad_request("GraphQL 'variables' must be an object")
    if operation is not None and not isinstance(operation, str):
        raise bad_request("GraphQL 'operationName' must be a string")
    return {key: document[key] for key in _GRAPHQL_KEYS if document.get(key) is not None}


def loaded() -> bool:
    """Whether the endpoint table is built (its first build imports MLflow's protobuf modules)."""
    return _table.cache_info().currsize > 0
