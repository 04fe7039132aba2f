"""Checks of a deployed environment: HTTP on the API (and MLflow through its proxy), AWS via boto3.

Every check returns a ``CheckResult``; none raises for a failing or unreachable part, so one
run reports every problem at once. HTTP redirects are never followed: a 301 is not healthy.
boto3 honours ``AWS_ENDPOINT_URL`` (and the ``AWS_ENDPOINT_URL_<SERVICE>`` variables) itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import httpx
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from hokusai.infra.outputs import Deployment

MLFLOW_PROXY_UI = "/mlflow/"
MLFLOW_PROXY_API = "/mlflow/api/2.0/mlflow/experiments/search?max_results=1"
_DETAIL_LIMIT = 160


@dataclass(frozen=True)
class CheckResult:
    """One check: its name (what an operator looks for), verdict and what was seen."""

    name: str
    ok: bool
    detail: str


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 1] + "…"


def _error_message(response: httpx.Response) -> str:
    """The message of the API's JSON error shape, else the start of the body."""
    try:
        body = response.json()
        return str(body["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text


def check_get(
    client: httpx.Client,
    name: str,
    url: str,
    headers: dict[str, str] | None = None,
    expect_json: bool = False,
) -> CheckResult:
    """``GET url`` must answer 200 itself (no redirect followed), with a JSON body if ``expect_json``."""
    try:
        response = client.get(url, headers=headers, follow_redirects=False)
    except httpx.HTTPError as exc:
        return CheckResult(name, False, _short(f"GET {url}: unreachable ({type(exc).__name__}: {exc})"))
    if response.is_redirect:
        location = response.headers.get("location", "?")
        return CheckResult(name, False, f"GET {url} answered {response.status_code} redirect to {location}")
    if response.status_code != 200:
        detail = f"GET {url} answered {response.status_code}: {_error_message(response)}"
        return CheckResult(name, False, _short(detail))
    if expect_json:
        try:
            response.json()
        except ValueError:
            return CheckResult(name, False, f"GET {url} answered 200 but not JSON")
    return CheckResult(name, True, f"GET {url} answered 200")


def check_api(client: httpx.Client, api_url: str) -> list[CheckResult]:
    """Liveness and readiness (database and MLflow) of the API."""
    return [
        check_get(client, "api health", f"{api_url}/health"),
        check_get(client, "api ready", f"{api_url}/ready"),
    ]


def check_mlflow_proxy(client: httpx.Client, api_url: str, api_key: str | None) -> list[CheckResult]:
    """MLflow's UI and REST API through the API's authenticated proxy."""
    names = ("mlflow ui via proxy", "mlflow api via proxy")
    if not api_key:
        reason = "no API key: pass --api-key or set HOKUSAI_API_KEY (validate.sh passes API_SECRET_KEY)"
        return [CheckResult(name, False, reason) for name in names]
    headers = {"Authorization": f"Bearer {api_key}"}
    return [
        check_get(client, names[0], f"{api_url}{MLFLOW_PROXY_UI}", headers),
        check_get(client, names[1], f"{api_url}{MLFLOW_PROXY_API}", headers, expect_json=True),
    ]


def _aws_check(name: str, probe: Callable[[], tuple[bool, str]]) -> CheckResult:
    """Run one AWS probe; an AWS error is a failed check that says what AWS answered."""
    try:
        ok, detail = probe()
    except ClientError as exc:
        error = exc.response.get("Error", {})
        detail = f"{error.get('Code', 'error')}: {error.get('Message', '')}".strip(": ")
        return CheckResult(name, False, _short(detail))
    except BotoCoreError as exc:
        return CheckResult(name, False, _short(f"{type(exc).__name__}: {exc}"))
    return CheckResult(name, ok, _short(detail))


def check_bucket(s3: Any, bucket: str) -> CheckResult:
    """The bucket exists and these credentials may use it."""

    def probe() -> tuple[bool, str]:
        s3.head_bucket(Bucket=bucket)
        return True, "reachable"

    return _aws_check(f"bucket {bucket}", probe)


def check_database(rds: Any, identifier: str) -> CheckResult:
    """The RDS instance, looked up by identifier, is ``available``."""

    def probe() -> tuple[bool, str]:
        instance = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
        status = instance.get("DBInstanceStatus", "unknown")
        return status == "available", f"status {status}"

    return _aws_check(f"database {identifier}", probe)


def check_services(ecs: Any, cluster: str, services: tuple[str, ...]) -> list[CheckResult]:
    """Every ECS service is active and runs as many tasks as it wants."""
    results: dict[str, CheckResult] = {}

    def probe() -> tuple[bool, str]:
        answer = ecs.describe_services(cluster=cluster, services=list(services))
        for found in answer.get("services", []):
            running, desired = found.get("runningCount", 0), found.get("desiredCount", 0)
            status = found.get("status", "UNKNOWN")
            ok = status == "ACTIVE" and desired > 0 and running == desired
            detail = f"{running} of {desired} tasks running ({status.lower()})"
            results[found["serviceName"]] = CheckResult(f"service {found['serviceName']}", ok, detail)
        for failure in answer.get("failures", []):
            service = failure.get("arn", "").rsplit("/", 1)[-1]
            detail = f"{failure.get('reason', 'not found')} in cluster {cluster}"
            results[service] = CheckResult(f"service {service}", False, detail)
        return True, ""

    whole = _aws_check("services", probe)
    if not whole.ok:
        return [CheckResult(f"service {service}", False, whole.detail) for service in services]
    return [
        results.get(service, CheckResult(f"service {service}", False, f"not found in cluster {cluster}"))
        for service in services
    ]


def check_alarms(cloudwatch: Any, names: tuple[str, ...]) -> CheckResult:
    """Every alarm Terraform created exists (its state is reported, not judged)."""

    def probe() -> tuple[bool, str]:
        found = {
            alarm["AlarmName"]: alarm.get("StateValue", "?")
            for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmNames=list(names))
            for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", [])
        }
        missing = [name for name in names if name not in found]
        if missing:
            return False, f"missing: {', '.join(missing)}"
        firing = sorted(name for name, state in found.items() if state == "ALARM")
        states = f"; in ALARM: {', '.join(firing)}" if firing else ""
        return True, f"{len(found)} alarms exist{states}"

    return _aws_check("alarms", probe)


def run_checks(deployment: Deployment, api_key: str | None, *, timeout: float = 10.0) -> list[CheckResult]:
    """Every check of ``deployment``, in the order an operator reads them."""
    with httpx.Client(timeout=timeout) as client:
        results = check_api(client, deployment.api_url)
        results += check_mlflow_proxy(client, deployment.api_url, api_key)
    session = boto3.session.Session(region_name=deployment.region)
    config = Config(
        connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 2, "mode": "standard"}
    )
    s3 = session.client("s3", config=config)
    results += [check_bucket(s3, bucket) for bucket in deployment.buckets]
    results.append(check_database(session.client("rds", config=config), deployment.db_instance))
    results += check_services(session.client("ecs", config=config), deployment.cluster, deployment.services)
    results.append(check_alarms(session.client("cloudwatch", config=config), deployment.alarms))
    return results


def results_json(results: list[CheckResult]) -> str:
    """The results as JSON (for scripts)."""
    return json.dumps([{"name": r.name, "ok": r.ok, "detail": r.detail} for r in results], indent=2)
