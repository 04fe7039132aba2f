"""What a deployed environment consists of, read from Terraform's outputs."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hokusai.errors import InvalidInput

# Outputs of infrastructure/terraform that the checks need.
REQUIRED_OUTPUTS = (
    "api_endpoint",
    "aws_region",
    "ecs_cluster_name",
    "api_service_name",
    "mlflow_service_name",
    "mlflow_artifacts_bucket",
    "pipeline_data_bucket",
    "db_instance_identifier",
    "alarm_names",
)


@dataclass(frozen=True)
class Deployment:
    """The parts of one environment that `hokusai infra validate` checks."""

    api_url: str
    region: str
    cluster: str
    services: tuple[str, ...]
    buckets: tuple[str, ...]
    db_instance: str
    alarms: tuple[str, ...]

    def with_api_url(self, api_url: str | None) -> Deployment:
        """The same deployment reached at another API URL (e.g. a stand-in for the load balancer)."""
        if not api_url:
            return self
        if not api_url.startswith(("http://", "https://")):
            raise InvalidInput(f"--api-url {api_url!r} must be an http:// or https:// URL")
        return replace(self, api_url=api_url.rstrip("/"))


def terraform_outputs(directory: Path, terraform: str = "terraform") -> dict[str, Any]:
    """``terraform output -json`` in ``directory`` (initialised, with state)."""
    if not directory.is_dir():
        raise InvalidInput(f"--terraform-dir {directory} is not a directory")
    binary = shutil.which(terraform)
    if binary is None:
        raise InvalidInput(f"`{terraform}` is not on PATH: install Terraform or pass --outputs FILE")
    result = subprocess.run(  # -no-color: the error is quoted in one line, never a terminal's escapes
        [binary, "output", "-json", "-no-color"], cwd=directory, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        reason = next((line for line in result.stderr.splitlines() if "Error" in line), result.stderr.strip())
        raise InvalidInput(f"`terraform output -json` failed in {directory}: {reason.strip(' │')}")
    return _parse(result.stdout, f"`terraform output -json` in {directory}")


def outputs_file(path: Path) -> dict[str, Any]:
    """A file holding what ``terraform output -json`` printed."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise InvalidInput(f"--outputs {path}: {exc.strerror or exc}") from None
    return _parse(text, str(path))


def _parse(text: str, where: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{where} is not JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{where} is not a JSON object of Terraform outputs")
    return data


def deployment_from_outputs(outputs: dict[str, Any]) -> Deployment:
    """Map Terraform outputs (``{"name": {"value": ...}}`` or ``{"name": value}``) to a ``Deployment``."""
    values = {
        name: item["value"] if isinstance(item, dict) and "value" in item else item
        for name, item in outputs.items()
    }
    missing = [name for name in REQUIRED_OUTPUTS if values.get(name) in (None, "", [])]
    if missing:
        raise InvalidInput(
            f"Terraform outputs lack {', '.join(missing)}: "
            "point at infrastructure/terraform of an applied environment"
        )
    return Deployment(
        api_url=str(values["api_endpoint"]).rstrip("/"),
        region=str(values["aws_region"]),
        cluster=str(values["ecs_cluster_name"]),
        services=(str(values["api_service_name"]), str(values["mlflow_service_name"])),
        buckets=(str(values["mlflow_artifacts_bucket"]), str(values["pipeline_data_bucket"])),
        db_instance=str(values["db_instance_identifier"]),
        alarms=tuple(str(name) for name in values["alarm_names"]),
    )
