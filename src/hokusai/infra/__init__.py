"""Checks of a deployed Hokusai environment (boto3 + HTTP): what `hokusai infra validate` runs."""

from hokusai.infra.checks import CheckResult, run_checks
from hokusai.infra.outputs import Deployment, deployment_from_outputs, outputs_file, terraform_outputs

__all__ = [
    "CheckResult",
    "Deployment",
    "deployment_from_outputs",
    "outputs_file",
    "run_checks",
    "terraform_outputs",
]
