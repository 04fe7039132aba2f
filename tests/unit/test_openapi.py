"""The OpenAPI document is one a reader can render: every reference resolves inside it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hokusai.config import Settings
from hokusai.server.app import create_app


def test_every_reference_in_the_openapi_document_resolves_in_it(tmp_path: Path) -> None:
    document = create_app(Settings(data_dir=tmp_path)).openapi()
    text = json.dumps(document)
    assert "#/$defs/" not in text  # a model's local $defs break ReDoc ("Invalid reference token")
    components = document.get("components", {}).get("schemas", {})
    for name in re.findall(r'"#/components/schemas/([^"]+)"', text):
        assert name in components, name
