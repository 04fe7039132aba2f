"""The attestation JSON Schema (zk_output_schema.json, v1) and validation against it.

The source of truth is ``../shared/schemas/`` beside the repository; the package ships a copy
(kept equal by a test) so an installed package validates without the repository around it.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SCHEMA_NAME = "zk_output_schema.json"
SCHEMA_VERSION = "1.0"
SHARED_SCHEMA = Path(__file__).resolve().parents[3] / ".." / "shared" / "schemas" / SCHEMA_NAME


def packaged_schema_text() -> str:
    """The copy shipped inside the package."""
    return resources.files("hokusai.attestation").joinpath(SCHEMA_NAME).read_text(encoding="utf-8")


@cache
def load_schema() -> dict[str, Any]:
    """The shared schema when the repository's ``../shared`` is present, else the packaged copy."""
    text = SHARED_SCHEMA.read_text(encoding="utf-8") if SHARED_SCHEMA.is_file() else packaged_schema_text()
    return json.loads(text)


def schema_errors(document: Any, limit: int = 5) -> list[str]:
    """Up to ``limit`` readable violations (``path: message``), sorted by path; empty when valid."""
    validator = Draft202012Validator(load_schema())
    errors = sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{'/'.join(map(str, e.absolute_path)) or '(document)'}: {e.message}" for e in errors[:limit]]
