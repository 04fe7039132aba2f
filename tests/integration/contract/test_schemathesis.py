"""schemathesis against the served ``/openapi.json``: generated requests (valid and invalid) to every
operation give no server error, every answer fits its documented schema, every status code is documented.

It runs against a platform of its own (real uvicorn, real MLflow) with a key of its own, an owner's (so the
fuzzer cannot revoke the suite's keys, nor an admin's), bounded in examples per operation and in time. The
owner has a dataset and a model, so the fuzzer (which reuses ids from answers) reaches past the 404s. The
key endpoints that revoke or rotate are left out: the fuzzer would revoke its own key and test nothing but
401 afterwards (they are covered by the authorization matrix and the key tests). Registering a webhook is
left out too: it resolves the URL's host, and generated host names would send DNS queries off loopback
(tests/integration/resources/test_webhooks.py covers it, and the checks of a URL are unit-tested).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hokusai.pipeline.demo import TARGET, prepare_demo
from tests.support.mlflow import mlflow_settings
from tests.support.platform import serve_platform

pytestmark = pytest.mark.realparts
CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance"
MAX_EXAMPLES = 25
MAX_SECONDS = 150


def test_the_api_keeps_its_openapi_contract_under_generated_requests(
    tmp_path: Path,
    mlflow_server,  # type: ignore[no-untyped-def]
) -> None:
    settings = mlflow_settings(
        tmp_path / "state", mlflow_url=mlflow_server.url, rate_limit_per_minute=1_000_000
    )
    demo = prepare_demo(tmp_path / "demo")
    with serve_platform(settings) as platform, platform.client() as admin:
        key = admin.keys.create("schemathesis", ["read", "write"], principal_name="fuzzer").key
        with platform.client(api_key=key) as owner:
            owner.models.register("fuzzed", target=TARGET, train=demo.train, benchmark=demo.benchmark,
                                  archive=Path(demo.baseline))  # fmt: skip
        report = tmp_path / "report.json"
        command = [
            str(Path(sys.executable).with_name("st")), "run", f"{platform.url}/openapi.json",
            "--header", f"Authorization: Bearer {key}", "--checks", CHECKS,
            "--max-examples", str(MAX_EXAMPLES), "--max-time", str(MAX_SECONDS), "--seed", "1",
            "--workers", "2", "--phases", "examples,coverage,fuzzing", "--no-color",
            "--generation-database", "none", "--exclude-path-regex", "^/api/v1/keys/",
            "--exclude-name", "POST /api/v1/webhooks",
            "--request-timeout", "30", "--report", "json", "--report-json-path", str(report),
        ]  # fmt: skip
        finished = subprocess.run(command, capture_output=True, text=True, timeout=MAX_SECONDS + 180)
    summary = finished.stdout[-6000:]
    assert finished.returncode == 0, summary + finished.stderr[-2000:]
    assert report.is_file() and json.loads(report.read_text()), summary
