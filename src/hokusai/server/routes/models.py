"""``/api/v1/models``: register a baseline, list and read models, and trace a model's lineage."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from hokusai import schemas
from hokusai.errors import InvalidInput
from hokusai.server.body_schema import MODEL_RULES, check_document, compile_schema, semantic_rules
from hokusai.server.deps import Caller, SessionDep, SettingsDep, StateDep
from hokusai.server.services.models import (
    SOURCE_URI_PATTERN,
    ModelRegistration,
    get_model,
    lineage,
    list_models,
    model_view,
    register_model,
    update_model,
)
from hokusai.server.uploads import Stored, Upload, answer_upload, multipart_body, receive_request_file

router = APIRouter(prefix="/api/v1/models", tags=["models"])


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema with its ``$defs`` references inlined: the OpenAPI document has no ``$defs``
    (a ``#/$defs/…`` reference there breaks ReDoc and code generators)."""
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"$ref"} and node["$ref"].startswith("#/$defs/"):
                return resolve(definitions[node["$ref"].removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)


_REGISTRATION = _inlined(ModelRegistration.model_json_schema())
_FORM_FIELDS = {k: v for k, v in _REGISTRATION["properties"].items() if k != "source_uri"}
# A JSON registration names its model by source_uri (a multipart one uploads it as `archive` instead).
_JSON_REGISTRATION = {
    **_REGISTRATION,
    "required": [*_REGISTRATION["required"], "source_uri"],
    "properties": {
        **_FORM_FIELDS,
        "source_uri": {
            **_REGISTRATION["properties"]["source_uri"]["anyOf"][0],
            "pattern": SOURCE_URI_PATTERN,
        },
    },
}
_JSON_REGISTRATION_CHECK = compile_schema(_JSON_REGISTRATION)
_REGISTRATION_BODY = multipart_body(
    "archive",
    "An MLflow model directory as .tar.gz or .zip",
    _FORM_FIELDS,
    required=tuple(_REGISTRATION["required"]),
    json_schema=_JSON_REGISTRATION,
)


def _registration(values: Any) -> ModelRegistration:
    if isinstance(values, dict) and isinstance(values.get("benchmark"), str):  # a multipart form field
        try:
            values = {**values, "benchmark": json.loads(values["benchmark"])}
        except ValueError:
            raise InvalidInput("the benchmark field is not JSON", code="bad_json") from None
    try:
        return ModelRegistration.model_validate(values)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None


@router.post(
    "",
    status_code=201,
    response_model=schemas.Model,
    summary="Register a baseline: JSON with source_uri, or multipart with the model directory `archive`",
    openapi_extra={
        **_REGISTRATION_BODY,
        **semantic_rules(*MODEL_RULES),
    },
)
async def register(request: Request, principal: Caller, state: StateDep) -> JSONResponse:
    """The model is checked without being loaded (a skops file of allowed types, of the registered kind),
    registered in MLflow, and recorded with its file's hash; 201. Its owner gets MANAGE on its MLflow
    registered model and experiment."""
    upload: Upload | None = None
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        upload = await receive_request_file(request, state.settings, file_field="archive")
        values: Any = upload.fields
    else:
        try:
            values = json.loads(await request.body() or b"null")
        except ValueError:
            raise InvalidInput(
                "the body is not JSON (or send multipart/form-data)", code="bad_json"
            ) from None
        check_document(_JSON_REGISTRATION_CHECK, values)

    def store() -> Stored:
        registration = _registration(values)
        with state.sessions() as session:
            model = register_model(
                session, state.settings, state.store, principal, registration,
                archive=upload.path if upload else None,
            )  # fmt: skip
            session.commit()
            return model_view(session, model), True

    return await answer_upload(upload, store, location=lambda body: f"/api/v1/models/{body.name}")


@router.get("", response_model=schemas.ModelList, summary="All models (the catalogue owners publish)")
def index(_principal: Caller, session: SessionDep) -> schemas.ModelList:
    return schemas.ModelList(models=[model_view(session, model) for model in list_models(session)])


@router.get("/{name}", response_model=schemas.Model, summary="One model")
def read(name: str, _principal: Caller, session: SessionDep) -> schemas.Model:
    return model_view(session, get_model(session, name))


@router.patch(
    "/{name}",
    response_model=schemas.Model,
    summary="Change whether a model accepts contributions, its on-chain id (admin or signed), its head",
)
def update(
    name: str, body: schemas.ModelUpdate, principal: Caller, session: SessionDep, settings: SettingsDep
) -> schemas.Model:
    """The model's owner (or an admin) only. ``onchain_id`` is set by an admin, or with
    ``onchain_signature`` (the EIP-712 ModelBinding signed by the wallet that owns the model on-chain);
    it names one model per chain and verifying contract (409 ``onchain_id_taken``)."""
    model = update_model(session, settings, principal, get_model(session, name), body)
    session.commit()
    return model_view(session, model)


@router.get(
    "/{name}/lineage",
    response_model=schemas.Lineage,
    summary="Every version of the model, baseline first, with what produced it",
)
def read_lineage(name: str, principal: Caller, session: SessionDep, settings: SettingsDep) -> schemas.Lineage:
    """Owners see every version; others the baseline and the accepted improvements."""
    return lineage(session, settings, get_model(session, name), principal)
