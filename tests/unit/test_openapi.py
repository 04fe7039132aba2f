"""The OpenAPI document is one a reader can render: every reference resolves inside it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from hokusai.config import Settings
from hokusai.server.app import create_app


def test_every_reference_in_the_openapi_document_resolves_in_it(tmp_path: Path) -> None:
    document = create_app(Settings(data_dir=tmp_path)).openapi()
    text = json.dumps(document)
    assert "#/$defs/" not in text  # a model's local $defs break ReDoc ("Invalid reference token")
    components = document.get("components", {}).get("schemas", {})
    for name in re.findall(r'"#/components/schemas/([^"]+)"', text):
        assert name in components, name


# Operations whose 2xx answer is not a JSON body, and why. Everything else must declare a typed schema.
NOT_JSON = {
    ("get", "/metrics"): "Prometheus text exposition format",
    ("get", "/api/v1/me/export"): "a zip archive (streamed)",
}
# Served outside the document on purpose (include_in_schema=False or a mounted ASGI app): the MLflow proxy,
# the offline API reference pages, the HTML results pages.
UNDOCUMENTED_PREFIXES = ("/mlflow", "/docs", "/redoc", "/ui")


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].removeprefix("#/components/schemas/")]
    return schema


def _untyped(document: dict[str, Any], schema: dict[str, Any]) -> str | None:
    """Why a body schema says nothing about the body (None when it is typed)."""
    schema = _resolve(document, schema)
    branches = schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf")
    if branches:
        return next((why for b in branches if (why := _untyped(document, b))), None)
    if not schema:
        return "the empty schema {}"
    if schema.get("type") == "array":
        return _untyped(document, schema.get("items") or {})
    if schema.get("type", "object") == "object" and not schema.get("properties"):
        return "an object with no properties"
    return None


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, ops in document["paths"].items() for method, op in ops.items()]


def test_every_2xx_answer_of_every_operation_has_a_typed_json_schema(tmp_path: Path) -> None:
    document = create_app(Settings(data_dir=tmp_path)).openapi()
    untyped = []
    for method, path, operation in _operations(document):
        for status, response in operation["responses"].items():
            if not status.startswith("2") or (method, path) in NOT_JSON:
                continue
            if status == "204":
                assert "content" not in response, (method, path)  # no content: no body to describe
                continue
            schema = response.get("content", {}).get("application/json", {}).get("schema")
            why = "no JSON schema" if schema is None else _untyped(document, schema)
            if why:
                untyped.append(f"{method.upper()} {path} {status}: {why}")
    assert untyped == []


def test_the_operations_left_out_of_the_typed_answer_rule_exist_and_the_undocumented_paths_stay_out(
    tmp_path: Path,
) -> None:
    document = create_app(Settings(data_dir=tmp_path)).openapi()
    operations = {(method, path) for method, path, _ in _operations(document)}
    assert set(NOT_JSON) <= operations  # a stale exception would hide nothing but itself
    assert [p for p in document["paths"] if p.startswith(UNDOCUMENTED_PREFIXES)] == []


def test_an_untyped_answer_is_caught_by_the_walk() -> None:
    document: dict[str, Any] = {"components": {"schemas": {"Bare": {"type": "object"}}}}
    assert _untyped(document, {}) == "the empty schema {}"
    assert _untyped(document, {"$ref": "#/components/schemas/Bare"}) == "an object with no properties"
    assert _untyped(document, {"type": "array", "items": {}}) == "the empty schema {}"
    assert _untyped(document, {"type": "object", "properties": {"id": {"type": "string"}}}) is None


def _integers(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every integer schema under ``node`` with where it sits."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        kind = node.get("type")
        if kind == "integer" or (isinstance(kind, list) and "integer" in kind):
            found.append((path, node))
        for key, value in node.items():
            found += _integers(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found += _integers(item, f"{path}/{index}")
    return found


def test_every_integer_the_api_takes_is_one_canonical_json_can_hash(tmp_path: Path) -> None:
    """What the platform stores is hashed as RFC 8785 JSON, which refuses integers beyond ±(2^53 - 1): one
    rule bounds every integer of the document (schemathesis once stored 28881133995382669312 as a spec's
    ``max_label_classes``, and every model listing then answered 500), and the body check enforces it."""
    from hokusai.hashing import canonical_hash
    from hokusai.server.body_schema import SAFE_INTEGER

    document = create_app(Settings(data_dir=tmp_path)).openapi()
    integers = _integers(document)
    assert integers, "the document declares no integer"
    loose = [path for path, schema in integers if not schema.get("minimum", -(2**64)) >= -SAFE_INTEGER]
    loose += [path for path, schema in integers if not schema.get("maximum", 2**64) <= SAFE_INTEGER]
    assert not loose, f"integers without the safe bound: {loose[:5]}"
    canonical_hash({"largest": SAFE_INTEGER, "smallest": -SAFE_INTEGER})  # the bound itself hashes
