"""Static checks of the infrastructure files: checkov, hadolint, shellcheck, yamllint, JSON schemas.

No Docker engine runs on these machines, so the images are not built here: the Dockerfiles are
checked statically (hadolint, checkov) and the compose file against the compose specification.
The workflow is checked against GitHub's workflow schema (check-jsonschema's vendored copy), the
stand-in for actionlint, which downloads a binary and so cannot be installed here.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra.terraform import INFRA, ROOT

CHECKOV_ENV = "HOKUSAI_CHECKOV"
SKIPS_FILE = INFRA / "checkov-skips.yaml"
DOCKERFILES = [ROOT / "docker/api.Dockerfile", ROOT / "docker/mlflow.Dockerfile"]
WORKFLOW = ROOT / ".github/workflows/deploy.yml"
COMPOSE = ROOT / "docker/compose.yaml"
SCRIPTS = sorted((INFRA / "scripts").glob("*.sh"))
BIN = Path(sys.executable).parent

# What checkov scans: (framework, arguments).
CHECKOV_TARGETS = (
    ("terraform", ["-d", str(INFRA / "terraform")]),
    ("dockerfile", [arg for path in DOCKERFILES for arg in ("-f", str(path))]),
    ("github_actions", ["-f", str(WORKFLOW)]),
)


# checkov stays offline: no guideline download (--skip-download), no PyPI update check.
CHECKOV_OFFLINE = {"CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "TRUE"}


def run(
    *command: str, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(command), cwd=cwd, capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})}
    )


def checkov_binary() -> str:
    path = os.environ.get(CHECKOV_ENV)
    if not path or not Path(path).exists():
        pytest.skip(
            f"checkov not available: run `make test` (installs it in .venv-checkov, sets {CHECKOV_ENV})"
        )
    return path


def json_documents(text: str) -> list[dict[str, Any]]:
    """checkov prints one JSON document (object or list) per framework it ran."""
    decoder, index, found = json.JSONDecoder(), 0, []
    while index < len(text):
        if text[index].isspace():
            index += 1
            continue
        document, index = decoder.raw_decode(text, index)
        found.extend(document if isinstance(document, list) else [document])
    return found


@pytest.fixture(scope="module")
def checkov_reports() -> dict[str, dict[str, Any]]:
    """checkov with no skips on each target (concurrently): framework -> report."""
    checkov = checkov_binary()

    def scan(target: tuple[str, list[str]]) -> dict[str, Any]:
        framework, args = target
        result = run(
            checkov,
            *args,
            "--framework",
            framework,
            "--skip-download",
            "--quiet",
            "-o",
            "json",
            env=CHECKOV_OFFLINE,
        )
        assert result.returncode in (0, 1), result.stderr[-2000:]
        reports = [r for r in json_documents(result.stdout) if r.get("check_type") == framework]
        assert len(reports) == 1, result.stdout[-2000:]
        return reports[0]

    with ThreadPoolExecutor(max_workers=len(CHECKOV_TARGETS)) as pool:
        return {
            target[0]: report
            for target, report in zip(CHECKOV_TARGETS, pool.map(scan, CHECKOV_TARGETS), strict=True)
        }


@pytest.fixture(scope="module")
def skips() -> list[dict[str, Any]]:
    return yaml.safe_load(SKIPS_FILE.read_text())["skips"]


def accepted(failure: dict[str, Any], skips: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The skip entry covering a failed check, if any."""
    for entry in skips:
        if entry["id"] == failure["check_id"] and any(
            fnmatch.fnmatchcase(failure["resource"], pattern) for pattern in entry.get("resources", ["*"])
        ):
            return entry
    return None


def test_checkov_finds_nothing_beyond_the_written_skip_list(
    checkov_reports: dict[str, Any], skips: list[dict[str, Any]]
) -> None:
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    unaccepted = []
    for framework, report in checkov_reports.items():
        assert report["summary"]["parsing_errors"] == 0, framework
        totals["passed"] += report["summary"]["passed"]
        for failure in report["results"]["failed_checks"]:
            if accepted(failure, skips):
                totals["skipped"] += 1
            else:
                totals["failed"] += 1
                unaccepted.append(f"{failure['check_id']} {failure['resource']}: {failure['check_name']}")
    print(f"checkov totals: {totals}")  # recorded in the operator guide
    assert not unaccepted, "\n".join(unaccepted)
    assert checkov_reports["terraform"]["summary"]["resource_count"] >= 80
    assert checkov_reports["dockerfile"]["summary"]["passed"] > 0
    assert checkov_reports["github_actions"]["summary"]["passed"] > 0


def test_every_checkov_skip_has_a_reason_and_still_applies(
    checkov_reports: dict[str, Any], skips: list[dict[str, Any]]
) -> None:
    failures = [f for report in checkov_reports.values() for f in report["results"]["failed_checks"]]
    for entry in skips:
        assert len(entry.get("reason", "").split()) >= 8, f"{entry['id']} needs a written reason"
        assert any(accepted(f, [entry]) for f in failures), f"{entry['id']} no longer fails: remove the skip"


def test_terraform_formatting_is_canonical(terraform_bin: str) -> None:
    result = run(terraform_bin, "fmt", "-check", "-recursive", "-diff", cwd=INFRA / "terraform")
    assert result.returncode == 0, result.stdout


def test_dockerfiles_are_hadolint_clean() -> None:
    result = run(str(BIN / "hadolint"), *map(str, DOCKERFILES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfiles_run_as_a_non_root_user_with_a_healthcheck() -> None:
    for dockerfile in DOCKERFILES:
        text = dockerfile.read_text()
        assert re.search(r"^USER (?!root|0\b)\S+", text, flags=re.M), dockerfile.name
        assert "HEALTHCHECK" in text and "slim" in text.split("\nFROM ")[-1].split("\n")[0], dockerfile.name


def test_images_pin_the_versions_the_tests_ran_with() -> None:
    constraints = dict(
        line.split("==", 1)
        for line in (ROOT / "docker/constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    normal = {re.sub(r"[-_.]+", "-", name).lower(): pin for name, pin in constraints.items()}
    runtime = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    unpinned = [
        dep
        for dep in runtime
        if re.sub(r"[-_.]+", "-", re.split(r"[\[<>=!~; ]", dep)[0]).lower() not in normal
    ]
    assert not unpinned, "add them to docker/constraints.txt (make docker-constraints)"
    mlflow_image = (ROOT / "docker/mlflow.Dockerfile").read_text()
    for package in ("mlflow", "boto3"):
        assert normal[package] == version(package)
        assert f'"{package}=={version(package)}"' in mlflow_image


def test_scripts_are_shellcheck_clean_and_stop_on_errors() -> None:
    result = run(str(BIN / "shellcheck"), "-x", *map(str, SCRIPTS))  # from the root, as CI runs it
    assert result.returncode == 0, result.stdout
    for script in SCRIPTS:
        if script.name != "common.sh":  # sourced by the others
            assert "set -euo pipefail" in script.read_text(), script.name
            assert os.access(script, os.X_OK), script.name


@pytest.mark.parametrize("script", ["deploy.sh", "validate.sh", "destroy.sh"])
def test_scripts_refuse_a_missing_environment_with_one_line(script: str) -> None:
    env = {key: value for key, value in os.environ.items() if key not in ("ENVIRONMENT", "AWS_REGION")}
    env["AWS_REGION"] = "us-east-1"
    result = subprocess.run(
        [str(INFRA / "scripts" / script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: ENVIRONMENT is not set (see infrastructure/README.md, 'Prerequisites')"
    ]


def test_yaml_files_are_yamllint_clean() -> None:
    result = run(str(BIN / "yamllint"), "--strict", str(WORKFLOW), str(COMPOSE), str(SKIPS_FILE))
    assert result.returncode == 0, result.stdout


def test_the_workflow_matches_githubs_workflow_schema() -> None:
    result = run(str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_file_matches_the_compose_specification() -> None:
    result = run(str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_workflow_deploys_main_with_oidc_and_gates_on_validate() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    text = WORKFLOW.read_text()
    assert "|| true" not in text and "continue-on-error" not in text
    assert workflow["permissions"] == {"contents": "read"}
    deploy = workflow["jobs"]["deploy"]
    assert deploy["permissions"]["id-token"] == "write"
    assert "refs/heads/main" in deploy["if"] and set(deploy["needs"]) == {"tests", "static"}
    runs = [step.get("run", "") for step in deploy["steps"]]
    assert runs[-1].strip() == "infrastructure/scripts/validate.sh"
    assert any("deploy.sh --yes" in command for command in runs)
    for secret in ("AWS_DEPLOY_ROLE_ARN", "TERRAFORM_STATE_BUCKET", "DATABASE_PASSWORD", "API_SECRET_KEY"):
        assert f"secrets.{secret}" in text
    static = " ".join(step.get("run", "") for step in workflow["jobs"]["static"]["steps"])
    for tool in ("fmt -check", "validate", "checkov", "hadolint", "shellcheck"):
        assert tool in static
