"""`hokusai infra validate` on its own: bad input is exit 2 with one line; each broken part is named.

The AWS side is a real moto server (``AWS_ENDPOINT_URL`` points the CLI at it; its ECS services
report no running task, as moto does by default). The API side is a small real HTTP server whose
``/ready`` answers a redirect, which must count as a failure: the previous generation's script took
a 301 for healthy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from hokusai.cli import main
from tests.support.api import ServedApp
from tests.support.moto import FAKE_AWS_ENV, MotoServer

pytestmark = pytest.mark.realparts

HOKUSAI = str(Path(sys.executable).with_name("hokusai"))
OUTPUT_NAMES = {
    "aws_region": "us-east-1",
    "ecs_cluster_name": "hokusai-validate",
    "api_service_name": "hokusai-api",
    "mlflow_service_name": "hokusai-mlflow",
    "mlflow_artifacts_bucket": "hokusai-mlflow-artifacts-validate",
    "pipeline_data_bucket": "hokusai-pipeline-data-validate",
    "db_instance_identifier": "hokusai-validate",
    "alarm_names": ["hokusai-validate-api-5xx-rate", "hokusai-validate-rds-high-cpu"],
}


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    return int(exited.value.code or 0), capsys.readouterr().err


def write_outputs(path: Path, values: dict[str, Any]) -> Path:
    """A file shaped like `terraform output -json`."""
    path.write_text(
        json.dumps({name: {"value": value, "sensitive": False} for name, value in values.items()})
    )
    return path


@pytest.fixture
def api_redirecting_ready() -> Iterator[str]:
    app = FastAPI()
    app.get("/health")(lambda: {"status": "ok"})
    app.get("/ready")(lambda: RedirectResponse("https://elsewhere.example/ready", status_code=301))
    with ServedApp(app) as served:
        yield served.url


@pytest.fixture
def half_broken_outputs(tmp_path: Path, moto_server: MotoServer, api_redirecting_ready: str) -> Path:
    """Outputs of an environment with one bucket of two, the alarms but no database, ECS services
    wanting a task and running none, and an API whose /ready redirects."""
    clients = {
        name: boto3.client(name, endpoint_url=moto_server.endpoint, region_name="us-east-1")
        for name in ("s3", "ecs", "cloudwatch")
    }
    clients["s3"].create_bucket(Bucket=OUTPUT_NAMES["mlflow_artifacts_bucket"])
    clients["ecs"].create_cluster(clusterName=OUTPUT_NAMES["ecs_cluster_name"])
    for service in ("hokusai-api", "hokusai-mlflow"):
        clients["ecs"].create_service(
            cluster=OUTPUT_NAMES["ecs_cluster_name"],
            serviceName=service,
            desiredCount=1,
            launchType="FARGATE",
        )
    for alarm in OUTPUT_NAMES["alarm_names"]:
        clients["cloudwatch"].put_metric_alarm(
            AlarmName=alarm, MetricName="CPUUtilization", Namespace="AWS/RDS", Statistic="Average",
            Period=300, EvaluationPeriods=1, Threshold=80, ComparisonOperator="GreaterThanThreshold",
        )  # fmt: skip
    return write_outputs(tmp_path / "outputs.json", {**OUTPUT_NAMES, "api_endpoint": api_redirecting_ready})


def test_validate_without_an_outputs_source_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(["infra", "validate"], capsys)
    assert (code, err.strip().splitlines()) == (
        2,
        ["error: pass exactly one of --terraform-dir DIR or --outputs FILE"],
    )


def test_validate_with_outputs_lacking_names_exits_2_naming_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = write_outputs(
        tmp_path / "outputs.json", {"api_endpoint": "http://x", "aws_region": "us-east-1"}
    )
    code, err = run(["infra", "validate", "--outputs", str(outputs)], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "Terraform outputs lack ecs_cluster_name, api_service_name" in err


def test_validate_with_outputs_that_are_not_json_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "outputs.json"
    broken.write_text('{"api_endpoint": ')
    code, err = run(["infra", "validate", "--outputs", str(broken)], capsys)
    assert code == 2 and f"{broken} is not JSON" in err


def test_validate_with_an_api_url_that_is_not_http_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = write_outputs(tmp_path / "outputs.json", {**OUTPUT_NAMES, "api_endpoint": "http://x"})
    code, err = run(["infra", "validate", "--outputs", str(outputs), "--api-url", "ftp://x"], capsys)
    assert code == 2 and "--api-url 'ftp://x' must be an http:// or https:// URL" in err


def test_validate_on_an_uninitialised_terraform_folder_exits_2(
    tmp_path: Path, terraform_bin: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run(["infra", "validate", "--terraform-dir", str(tmp_path)], capsys)
    assert code == 2 and "Terraform outputs lack api_endpoint" in err


def test_validate_on_an_uninitialised_backend_names_it_without_terminal_escapes(
    tmp_path: Path, terraform_bin: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "versions.tf").write_text('terraform {\n  backend "s3" {}\n}\n')
    code, err = run(["infra", "validate", "--terraform-dir", str(tmp_path)], capsys)
    assert code == 2 and "Backend initialization required" in err
    assert "\x1b" not in err


def validate_cli(outputs: Path, moto_server: MotoServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **FAKE_AWS_ENV, "AWS_ENDPOINT_URL": moto_server.endpoint}
    env.pop("HOKUSAI_API_KEY", None)
    return subprocess.run(
        [HOKUSAI, "infra", "validate", "--outputs", str(outputs), "--timeout", "5", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_validate_names_every_broken_part_and_exits_1(
    moto_server: MotoServer, half_broken_outputs: Path, api_redirecting_ready: str
) -> None:
    result = validate_cli(half_broken_outputs, moto_server, "--json")
    assert result.returncode == 1, result.stderr
    checks = {check["name"]: check for check in json.loads(result.stdout)}
    passed = {name for name, check in checks.items() if check["ok"]}
    assert passed == {"api health", "bucket hokusai-mlflow-artifacts-validate", "alarms"}
    assert checks["api ready"]["detail"] == (
        f"GET {api_redirecting_ready}/ready answered 301 redirect to https://elsewhere.example/ready"
    )
    assert "404" in checks["bucket hokusai-pipeline-data-validate"]["detail"]
    assert checks["database hokusai-validate"]["detail"].startswith("DBInstanceNotFound")
    assert checks["service hokusai-api"]["detail"] == "0 of 1 tasks running (active)"
    assert checks["mlflow ui via proxy"]["detail"].startswith("no API key")


def test_validate_reports_missing_alarms_by_name(moto_server: MotoServer, half_broken_outputs: Path) -> None:
    values = json.loads(half_broken_outputs.read_text())
    values["alarm_names"]["value"].append("hokusai-validate-never-created")
    half_broken_outputs.write_text(json.dumps(values))
    result = validate_cli(half_broken_outputs, moto_server, "--json")
    alarms = next(check for check in json.loads(result.stdout) if check["name"] == "alarms")
    assert alarms == {"name": "alarms", "ok": False, "detail": "missing: hokusai-validate-never-created"}


def test_validate_prints_a_table_of_every_check_and_a_summary(
    moto_server: MotoServer, half_broken_outputs: Path
) -> None:
    result = validate_cli(half_broken_outputs, moto_server)
    assert result.returncode == 1
    assert "Hokusai deployment checks" in result.stdout
    for name in ("api ready", "service hokusai-mlflow", "database hokusai-validate"):
        assert name in result.stdout
    assert "3 of 10 checks passed; failed: api ready, mlflow ui via proxy" in result.stdout
    assert "Traceback" not in result.stderr
