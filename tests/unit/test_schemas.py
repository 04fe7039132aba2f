"""The shared request/response models (``hokusai.schemas``) write the JSON the API always wrote, and the SDK
gets them without the server's frameworks."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

from hokusai import schemas
from hokusai.server import policy

AT = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def test_view_timestamps_are_written_as_isoformat_with_the_utc_offset() -> None:
    dataset = schemas.Dataset(
        id="d", sha256="0" * 64, size_bytes=1, format="csv", row_count=1, columns=["a"], manifest={},
        created_at=AT,
    )  # fmt: skip
    assert (
        dataset.model_dump(mode="json")["created_at"] == AT.isoformat() == "2025-01-02T03:04:05.678901+00:00"
    )


def test_a_timestamp_from_json_reads_back_as_the_same_aware_datetime() -> None:
    answer = {"id": "w", "url": "https://x.test/", "model": None, "events": ["deltaone.accepted"],
              "active": True, "owner_id": "o", "created_at": AT.isoformat()}  # fmt: skip
    assert schemas.Webhook.model_validate(answer).created_at == AT


def test_a_sparse_body_leaves_out_the_keys_it_was_not_given_and_keeps_a_null_it_was() -> None:
    assert schemas.RunProgress(step="starting").model_dump(mode="json") == {"step": "starting"}
    progress = schemas.RunProgress.model_validate({"step": "valuation", "index": 3, "total": 9, "done": None})
    assert progress.model_dump(mode="json") == {"step": "valuation", "index": 3, "total": 9, "done": None}


def test_an_open_body_keeps_the_fields_it_does_not_type() -> None:
    result = schemas.RunResult.model_validate({"outcome": "accepted", "tracking_uri": "http://127.0.0.1:1"})
    assert result.outcome == "accepted"
    assert result.model_dump(mode="json") == {"outcome": "accepted", "tracking_uri": "http://127.0.0.1:1"}


def test_the_open_bodies_still_describe_their_typed_fields_in_the_json_schema() -> None:
    schema = schemas.RunProgress.model_json_schema(mode="serialization")
    assert schema["required"] == ["step"] and set(schema["properties"]) >= {"step", "index", "total"}


def test_a_webhook_carries_its_secret_only_when_it_was_given_one() -> None:
    fields = {"id": "w", "url": "https://x.test/", "model": None, "events": [], "active": True,
              "owner_id": "o", "created_at": AT}  # fmt: skip
    assert "secret" not in schemas.Webhook(**fields).model_dump(mode="json")
    assert schemas.Webhook(**fields, secret="whsec_x").model_dump(mode="json")["secret"] == "whsec_x"


def test_the_vocabulary_the_schemas_document_is_the_one_the_policy_enforces() -> None:
    assert set(schemas.GRANTABLE_ROLES) <= set(policy.ROLES)
    assert policy.GRANTABLE_ROLES is schemas.GRANTABLE_ROLES
    assert policy.MLFLOW_RESOURCE_TYPES is schemas.MLFLOW_RESOURCE_TYPES


def test_the_sdk_and_its_models_import_without_fastapi_sqlalchemy_or_the_server() -> None:
    probe = (
        "import sys, hokusai.client; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('fastapi', 'sqlalchemy', 'starlette') "
        "or m.startswith('hokusai.server')))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_the_sdk_names_are_the_shared_models() -> None:
    from hokusai import client

    assert client.Run is schemas.Run and client.Model is schemas.Model and client.ApiKey is schemas.KeyInfo
    assert client.Webhook is schemas.Webhook and client.Verdict is schemas.Verdict
