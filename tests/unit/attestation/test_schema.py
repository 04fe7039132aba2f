"""The attestation schema: the packaged copy equals the shared one; built documents are valid."""

from __future__ import annotations

import json

from hokusai.attestation.schema import SHARED_SCHEMA, load_schema, packaged_schema_text, schema_errors


def test_packaged_schema_equals_the_shared_schema_file() -> None:
    assert SHARED_SCHEMA.is_file(), f"shared schema expected at {SHARED_SCHEMA}"
    assert json.loads(packaged_schema_text()) == json.loads(SHARED_SCHEMA.read_text())
    assert packaged_schema_text() == SHARED_SCHEMA.read_text()


def test_the_schema_in_use_is_v1() -> None:
    assert load_schema()["$id"].endswith("zk-output-v1.json")


def test_a_built_document_is_valid(sealed) -> None:  # type: ignore[no-untyped-def]
    assert schema_errors(sealed.document) == []


def test_schema_errors_name_the_path(sealed) -> None:  # type: ignore[no-untyped-def]
    document, _ = sealed.copy()
    document["evaluation_results"]["baseline_metrics"]["accuracy"] = 1.5
    errors = schema_errors(document)
    assert errors and errors[0].startswith("evaluation_results/baseline_metrics/accuracy:")
