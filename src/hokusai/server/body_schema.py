"""Every JSON request body is checked against the JSON Schema its operation publishes in the OpenAPI
document, before the route's model reads it: what the document says is what the server accepts.

pydantic alone is laxer than the schema it publishes (``0`` for a boolean, ``"5"`` for an integer), so a
client reading the document and the server would disagree; one check at the root closes the gap for every
route. The schema is the route's own body model's (``TypeAdapter(...).json_schema()``, the one the document
shows), compiled once per route. Rules JSON Schema cannot state (a label that must be one of the listed
columns, an address's EIP-55 checksum) stay in the models and services and are listed in docs/api.md.
"""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from jsonschema import Draft202012Validator
from pydantic import TypeAdapter
from starlette.requests import Request

_VALIDATORS: dict[int, Draft202012Validator | None] = {}
_MAX_REPORTED = 5
# The integers every JSON reader holds exactly, ±(2^53 - 1): what the platform stores is hashed as RFC 8785
# canonical JSON, which refuses any other (and JavaScript clients would round them).
SAFE_INTEGER = 2**53 - 1


def bound_integers(schema: Any) -> Any:
    """``schema`` (in place) with every integer kept within ±``SAFE_INTEGER`` unless it states a tighter
    bound: one rule for every body, published in the document and enforced by the body check alike."""
    if isinstance(schema, dict):
        kind = schema.get("type")
        if kind == "integer" or (isinstance(kind, list) and "integer" in kind):
            schema["maximum"] = min(schema.get("maximum", SAFE_INTEGER), SAFE_INTEGER)
            schema["minimum"] = max(schema.get("minimum", -SAFE_INTEGER), -SAFE_INTEGER)
        for value in schema.values():
            bound_integers(value)
    elif isinstance(schema, list):
        for item in schema:
            bound_integers(item)
    return schema


def compile_schema(schema: dict[str, Any]) -> Draft202012Validator:
    """A validator for one body schema (checked to be a valid schema once)."""
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _validator(route: APIRoute) -> Draft202012Validator | None:
    key = id(route)
    if key not in _VALIDATORS:
        annotation = route.body_field.field_info.annotation if route.body_field is not None else None
        schema = None if annotation is None else bound_integers(TypeAdapter(annotation).json_schema())
        _VALIDATORS[key] = None if schema is None else compile_schema(schema)
    return _VALIDATORS[key]


def check_document(validator: Draft202012Validator, document: Any) -> None:
    """422 ``validation_error`` (the one error shape, each failure's location and reason) unless
    ``document`` fits the schema."""
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        raise RequestValidationError(
            [
                {"loc": ("body", *error.absolute_path), "msg": error.message[:300], "type": error.validator}
                for error in errors[:_MAX_REPORTED]
            ]
        )


async def check_body(request: Request) -> None:
    """Check the request's JSON body against its route's schema (nothing to do without one; a body that
    is not JSON is FastAPI's to refuse)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or route.body_field is None:
        return
    validator = _validator(route)
    if validator is None or not await request.body():
        return
    try:
        document = await request.json()  # parsed once: FastAPI has already read it into the request
    except ValueError:
        return
    check_document(validator, document)


def semantic_rules(*rules: tuple[str, str]) -> dict[str, Any]:
    """``openapi_extra`` naming the rules of an operation that JSON Schema cannot state, each as the error
    code a schema-valid request that breaks it gets (``(code, rule)``); the schemathesis test holds the
    server to them: a schema-valid request is accepted, or refused with one of these codes."""
    return {RULES_KEY: [{"code": code, "rule": rule} for code, rule in rules]}


RULES_KEY = "x-hokusai-rules"
CHECKSUM = ("bad_checksum", "a mixed-case address carries its EIP-55 checksum")
METRIC_FOR_TASK = (
    "bad_metric",
    "every metric named applies to the model's task (e.g. no rmse for a classifier)",
)
SPEC_RULES = (
    METRIC_FOR_TASK,
    ("validation_error", "the contribution schema's label is one of its columns, and is the target column"),
    ("bad_options", "the merged spec is consistent (its rules across fields hold)"),
)
DATA_RULES = (
    ("unreadable_data", "the file is CSV, TSV, JSON, JSONL or Parquet (by its name) and parses"),
    ("validation_failed", "the data passes validation (schema, PII, duplicates, size)"),
)
MODEL_RULES = (
    *SPEC_RULES,
    ("target_missing", "the target column is a column of the training and benchmark data"),
    ("bad_archive", "the archive is a .tar.gz, .tgz, .tar or .zip of one MLflow model directory"),
    ("bad_model_file", "the model file is a skops file (or a trusted owner's pickle) that reads"),
    ("model_untrusted_types", "the model file holds only allowed types"),
)
