"""schemathesis against the served ``/openapi.json`` with every check (``--checks all``): generated requests,
valid and invalid, to every operation give no server error, every answer fits its documented schema and
status codes, a schema-invalid request is refused, a schema-valid one is accepted or refused only by one of
the operation's documented rules (``x-hokusai-rules``: the ``st_rules`` check), ``OPTIONS`` answers 405 with
the documented methods in ``Allow``.

It runs against a platform of its own (real uvicorn, real MLflow) with keys of its own, an owner's (so the
fuzzer cannot revoke the suite's keys, nor an admin's), bounded in examples per operation and in time. The
owner has a dataset and a model, so the fuzzer (which reuses ids from answers) reaches past the 404s. The key
operations run in a second pass with a key of their own: the fuzzer revokes and rotates the key it holds,
after which it would test nothing but 401. Registering a webhook is left out: it resolves the URL's host, and
generated host names would send DNS queries off loopback (tests/integration/resources/test_webhooks.py
covers it, and the checks of a URL are unit-tested).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from hokusai.pipeline.demo import TARGET, prepare_demo
from tests.integration.contract.st_rules import RULES_KEY
from tests.support.mlflow import mlflow_settings
from tests.support.platform import Platform, serve_platform

pytestmark = pytest.mark.realparts
MAX_EXAMPLES = 25
MAX_SECONDS = 150
# What schemathesis expects of a schema-valid request by default, and 400/422 for documented rules.
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
EXPECTED_WITH_RULES = json.dumps([*ACCEPTED, "400", "422"])


def _config(platform: Platform, path: Path) -> Path:
    """A schemathesis config letting the operations that document rules answer 400/422 to valid data
    (the ``st_rules`` check then holds each such answer to a documented rule)."""
    document = httpx.get(f"{platform.url}/openapi.json").json()
    lines = []
    for route, operations in document["paths"].items():
        for method, operation in operations.items():
            if operation.get(RULES_KEY):
                lines += [
                    "[[operations]]",
                    f'include-name = "{method.upper()} {route}"',
                    f"checks.positive_data_acceptance.expected-statuses = {EXPECTED_WITH_RULES}",
                    "",
                ]
    path.write_text("\n".join(lines))
    return path


def _run(platform: Platform, key: str, config: Path, report: Path, *selection: str) -> tuple[int, str]:
    command = [
        str(Path(sys.executable).with_name("st")), "--config-file", str(config), "run",
        f"{platform.url}/openapi.json", "--header", f"Authorization: Bearer {key}", "--checks", "all",
        "--max-examples", str(MAX_EXAMPLES), "--max-time", str(MAX_SECONDS), "--seed", "1",
        "--workers", "2", "--phases", "examples,coverage,fuzzing,stateful", "--no-color",
        "--generation-database", "none", "--request-timeout", "30",
        "--report", "json", "--report-json-path", str(report), *selection,
    ]  # fmt: skip
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.integration.contract.st_rules"}
    root = Path(__file__).resolve().parents[3]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    finished = subprocess.run(
        command, capture_output=True, text=True, timeout=MAX_SECONDS + 240, env=env, cwd=root
    )
    assert report.is_file() and json.loads(report.read_text()), finished.stdout[-3000:]
    return finished.returncode, finished.stdout[-12000:] + finished.stderr[-2000:]


def test_the_api_keeps_its_openapi_contract_under_every_check(
    tmp_path: Path,
    mlflow_server,  # type: ignore[no-untyped-def]
) -> None:
    settings = mlflow_settings(
        tmp_path / "state", mlflow_url=mlflow_server.url, rate_limit_per_minute=1_000_000
    )
    demo = prepare_demo(tmp_path / "demo")
    with serve_platform(settings) as platform, platform.client() as admin:
        key = admin.keys.create("schemathesis", ["read", "write"], principal_name="fuzzer").key
        keys_key = admin.keys.create("schemathesis keys", ["read", "write"], principal_name="fuzzer2").key
        with platform.client(api_key=key) as owner:
            owner.models.register("fuzzed", target=TARGET, train=demo.train, benchmark=demo.benchmark,
                                  archive=Path(demo.baseline))  # fmt: skip
        config = _config(platform, tmp_path / "schemathesis.toml")
        code, output = _run(
            platform, key, config, tmp_path / "report.json",
            "--exclude-path-regex", "^/api/v1/keys", "--exclude-name", "POST /api/v1/webhooks",
        )  # fmt: skip
        assert code == 0, output
        code, output = _run(
            platform, keys_key, config, tmp_path / "keys-report.json", "--include-path-regex", "^/api/v1/keys"
        )
        assert code == 0, output
