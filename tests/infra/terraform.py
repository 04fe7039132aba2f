"""Terraform in tests: find the binary and the provider mirror, copy the configuration, point it at moto.

Terraform talks to the moto server through an override file (``emulator_override.tf``) written
into a temporary copy of ``infrastructure/``: every AWS endpoint the configuration uses, fake
credentials, no credential/metadata checks, path-style S3. The copy is what gets planned/applied;
the repository's own folder is never touched.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infrastructure"
TERRAFORM_DIR = INFRA / "terraform"
PLUGIN_DIR_ENV = "HOKUSAI_TF_PLUGIN_DIR"
PLUGIN_DIR_CANDIDATES = (
    Path("/opt/tf-plugins"),
    Path("/usr/share/terraform/plugins"),
    Path("/usr/local/share/terraform/plugins"),
    Path.home() / ".terraform.d/plugins",
    Path.home() / ".local/share/terraform/plugins",
)
SEARCH_ROOTS = (Path("/opt"), Path("/usr/local/share"), Path("/usr/share"), Path.home())
SEARCH_DEPTH = 3

# Every service endpoint the configuration calls (provider endpoint keys).
ENDPOINT_KEYS = (
    "appautoscaling",
    "cloudwatch",
    "ec2",
    "ecr",
    "ecs",
    "elbv2",
    "iam",
    "kms",
    "logs",
    "rds",
    "s3",
    "secretsmanager",
    "servicediscovery",
    "sns",
    "sts",
)

# The environments planned, with the variables each plan is made with.
ENVIRONMENTS = ("development", "staging", "production")
CERTIFICATE_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/0f3c1d2e-0000-4000-8000-000000000001"
PLAN_VARIABLES: dict[str, dict[str, Any]] = {
    "development": {"single_nat_gateway": True, "api_desired_count": 1, "mlflow_desired_count": 1},
    "staging": {"alarm_email": "oncall@example.org"},
    "production": {
        "az_count": 3,
        "api_desired_count": 3,
        "certificate_arn": CERTIFICATE_ARN,
        "domain_name": "hokusai.example.org",
        "alarm_email": "oncall@example.org",
    },
}

# Test-only secrets: they must never show up where they do not belong.
DB_PASSWORD = "Emulated-db-Passw0rd-4-tests"
API_SECRET_KEY = "hk_live_k3yid0001abc_S3cretS3cretS3cretS3cretS3cretS3cret0123"


def _platform_dir() -> str:
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
    return f"{platform.system().lower()}_{arch}"


def _holds_aws_provider(directory: Path) -> bool:
    pattern = f"registry.terraform.io/hashicorp/aws/*/{_platform_dir()}/terraform-provider-aws*"
    return any(directory.glob(pattern))


def find_plugin_dir() -> Path | None:
    """The folder mirroring ``registry.terraform.io/hashicorp/aws`` for this platform, if any."""
    configured = os.environ.get(PLUGIN_DIR_ENV)
    if configured:
        return Path(configured) if _holds_aws_provider(Path(configured)) else None
    for candidate in PLUGIN_DIR_CANDIDATES:
        if candidate.is_dir() and _holds_aws_provider(candidate):
            return candidate
    for root in SEARCH_ROOTS:  # a bounded walk for a mirror somewhere else
        for current, dirs, _files in os.walk(root):
            depth = len(Path(current).relative_to(root).parts)
            if "registry.terraform.io" in dirs and _holds_aws_provider(Path(current)):
                return Path(current)
            if depth >= SEARCH_DEPTH:
                dirs.clear()
            dirs[:] = [d for d in dirs if not d.startswith(".") or d == ".terraform.d"]
    return None


def override_hcl(endpoint: str, local_backend: bool) -> str:
    """The override file pointing the AWS provider (and, for plans, a local backend) at ``endpoint``."""
    endpoints = "\n".join(f'    {key} = "{endpoint}"' for key in ENDPOINT_KEYS)
    backend = 'terraform {\n  backend "local" {}\n}\n\n' if local_backend else ""
    return (
        f"# Written by tests/infra: the emulated AWS (moto) at {endpoint}.\n"
        f"{backend}"
        'provider "aws" {\n'
        '  access_key                  = "testing"\n'
        '  secret_key                  = "testing"\n'
        "  skip_credentials_validation = true\n"
        "  skip_metadata_api_check     = true\n"
        "  skip_region_validation      = true\n"
        "  s3_use_path_style           = true\n\n"
        f"  endpoints {{\n{endpoints}\n  }}\n"
        "}\n"
    )


def backend_hcl(endpoint: str) -> str:
    """Extra S3 backend settings (TF_BACKEND_CONFIG) that keep the state in the emulated S3."""
    return (
        f'endpoints                   = {{ s3 = "{endpoint}" }}\n'
        "use_path_style              = true\n"
        'access_key                  = "testing"\n'
        'secret_key                  = "testing"\n'
        "skip_credentials_validation = true\n"
        "skip_requesting_account_id  = true\n"
        "skip_metadata_api_check     = true\n"
        "skip_region_validation      = true\n"
    )


@dataclass
class Workspace:
    """A copy of ``infrastructure/`` whose Terraform talks to the emulator."""

    root: Path
    terraform: str
    plugin_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def tf_dir(self) -> Path:
        return self.root / "terraform"

    @property
    def scripts(self) -> Path:
        return self.root / "scripts"

    def run(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """``terraform <args>`` in the copy's Terraform folder."""
        result = subprocess.run(
            [self.terraform, *args],
            cwd=self.tf_dir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"terraform {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result

    def script(self, name: str, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        """One of ``infrastructure/scripts`` (the copy), as an operator runs it."""
        return subprocess.run(
            [str(self.scripts / name), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def init(self) -> None:
        self.run("init", "-input=false", f"-plugin-dir={self.plugin_dir}")

    def plan_json(self, *var_args: str) -> dict[str, Any]:
        """``plan -out`` then ``show -json`` of that plan."""
        self.run("plan", "-input=false", "-lock=false", "-out=plan.bin", *var_args)
        return json.loads(self.run("show", "-json", "plan.bin").stdout)

    def write_tfvars(self, environment: str, values: dict[str, Any]) -> None:
        """``<env>.tfvars`` as an operator keeps one (deploy.sh passes it when present)."""
        lines = [f"{key} = {json.dumps(value)}" for key, value in values.items()]
        (self.tf_dir / f"{environment}.tfvars").write_text("\n".join(lines) + "\n")
        self.run("fmt", f"{environment}.tfvars")  # deploy.sh checks formatting


def make_workspace(
    tmp: Path, terraform: str, plugin_dir: Path, endpoint: str | None, local_backend: bool = True
) -> Workspace:
    """Copy ``infrastructure/`` to ``tmp`` (without local state or caches) and add the override."""
    root = tmp / "infrastructure"
    shutil.copytree(
        INFRA,
        root,
        ignore=shutil.ignore_patterns(
            ".terraform", "*.tfstate*", "*.tfvars", "tfplan", ".terraform.lock.hcl"
        ),
    )
    cli_config = tmp / "terraformrc"
    cli_config.write_text("")  # no user CLI configuration leaks in
    env = {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(cli_config),
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "CHECKPOINT_DISABLE": "1",
        "NO_COLOR": "1",
        "TF_VAR_db_password": DB_PASSWORD,
        "TF_VAR_api_secret_key": API_SECRET_KEY,
    }
    workspace = Workspace(root, terraform, plugin_dir, env)
    if endpoint is not None:
        (workspace.tf_dir / "emulator_override.tf").write_text(override_hcl(endpoint, local_backend))
        workspace.run("fmt", "emulator_override.tf")
    return workspace


def main(argv: list[str]) -> int:
    """``python -m tests.infra.terraform ENDPOINT FOLDER``: what a deploy to a local moto needs.

    Writes ``FOLDER/terraform/emulator_override.tf`` (into a copy of infrastructure/terraform that
    ``TF_DIR`` then names) and ``FOLDER/backend.hcl`` (for ``TF_BACKEND_CONFIG``): the steps of
    "Try the deployment locally" in infrastructure/README.md.
    """
    if len(argv) != 2 or not argv[0].startswith("http://"):
        print("usage: python -m tests.infra.terraform http://127.0.0.1:PORT FOLDER", file=sys.stderr)
        return 2
    endpoint, folder = argv[0], Path(argv[1])
    if not (folder / "terraform" / "main.tf").is_file():
        print(f"error: {folder}/terraform is not a copy of infrastructure/terraform", file=sys.stderr)
        return 2
    override = folder / "terraform" / "emulator_override.tf"
    override.write_text(override_hcl(endpoint, local_backend=False))
    subprocess.run(["terraform", "fmt", str(override)], check=True, capture_output=True)  # deploy.sh checks
    (folder / "backend.hcl").write_text(backend_hcl(endpoint))
    print(f"wrote {folder}/terraform/emulator_override.tf and {folder}/backend.hcl")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
