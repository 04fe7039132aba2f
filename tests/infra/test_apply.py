"""Deploy the development environment to the emulated AWS with the operator's scripts, check it, destroy it.

``deploy.sh`` runs as an operator runs it — state in the (emulated) S3 bucket
``hokusai-terraform-state-development`` locked by a lock file, ``fmt -check``, ``validate``, ``plan``,
``apply`` — with ``--skip-images --skip-rollout``: no Docker engine runs here, and rolling ECS
services needs real Fargate. moto cannot run the containers either, so the API and MLflow are then
started locally from the task definitions Terraform registered (same commands, same plain
environment, the same secrets from Secrets Manager), with loopback addresses for the load balancer
and service discovery and a local PostgreSQL for RDS. ``validate.sh`` checks that stand-in plus every
emulated AWS resource. The tests run in file order: deploy, inspect, validate, break, destroy.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from botocore.exceptions import ClientError

from hokusai.config import normalize_sql_url
from hokusai.stack import Child, wait_for_health
from tests.infra.conftest import EMULATED_RUNNING_TASKS
from tests.infra.policies import allowing_statements, allows, principals
from tests.infra.terraform import API_SECRET_KEY, DB_PASSWORD, Workspace, backend_hcl, make_workspace
from tests.support.moto import FAKE_AWS_ENV, MotoServer
from tests.support.net import free_port
from tests.support.postgres import PostgresCluster
from tests.support.stack import UpProcess

pytestmark = pytest.mark.realparts

ENVIRONMENT = "development"
CLUSTER = f"hokusai-{ENVIRONMENT}"
STATE_BUCKET = f"hokusai-terraform-state-{ENVIRONMENT}"
BUCKETS = (f"hokusai-mlflow-artifacts-{ENVIRONMENT}", f"hokusai-pipeline-data-{ENVIRONMENT}")
FAMILIES = {task: f"hokusai-{task}-{ENVIRONMENT}" for task in ("api", "mlflow", "pipeline")}
PROXY_CHECKS = {"mlflow ui via proxy", "mlflow api via proxy"}
BIN = Path(sys.executable).parent
TIMINGS: dict[str, float] = {}


@dataclass
class Deployment:
    """The applied environment: the workspace its scripts run in, and AWS clients on the emulator."""

    workspace: Workspace
    endpoint: str
    clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = boto3.client(
                service,
                endpoint_url=self.endpoint,
                region_name=FAKE_AWS_ENV["AWS_REGION"],
                aws_access_key_id=FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=FAKE_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
            )
        return self.clients[service]

    def outputs(self) -> dict[str, Any]:
        raw = json.loads(self.workspace.run("output", "-json").stdout)
        return {name: item["value"] for name, item in raw.items()}

    def container(self, task: str) -> dict[str, Any]:
        definition = self.client("ecs").describe_task_definition(taskDefinition=FAMILIES[task])
        return definition["taskDefinition"]["containerDefinitions"][0]

    def secret_value(self, arn: str) -> str:
        return self.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]


def timed(name: str, started: float) -> None:
    TIMINGS[name] = round(time.monotonic() - started, 1)
    print(f"\n{name}: {TIMINGS[name]} s; all timings so far: {TIMINGS}")


def script_failure(result: Any) -> str:
    out, err = result.stdout[-4000:], result.stderr[-3000:]
    return f"exit {result.returncode}\n--- stdout ---\n{out}\n--- stderr ---\n{err}"


@pytest.fixture(scope="module")
def deployment(
    plan_jobs: dict[str, Any],  # started first: the plans of every environment run during the apply
    infra_tmp: Path,
    terraform_bin: str,
    plugin_dir: Path,
    aws_emulator: MotoServer,
) -> Deployment:
    tmp = infra_tmp / "apply"
    tmp.mkdir()
    workspace = make_workspace(tmp, terraform_bin, plugin_dir, aws_emulator.endpoint, local_backend=False)
    workspace.write_tfvars(
        ENVIRONMENT,
        {
            "single_nat_gateway": True,
            "api_desired_count": EMULATED_RUNNING_TASKS,
            "mlflow_desired_count": EMULATED_RUNNING_TASKS,
            "mlflow_workers": 1,
        },
    )
    backend = tmp / "backend.hcl"
    backend.write_text(backend_hcl(aws_emulator.endpoint))
    deployed = Deployment(workspace, aws_emulator.endpoint)
    deployed.client("s3").create_bucket(Bucket=STATE_BUCKET)  # the one-time bootstrap of the guide
    workspace.env.update(
        {
            **FAKE_AWS_ENV,
            "AWS_ENDPOINT_URL": aws_emulator.endpoint,  # for `hokusai infra validate` (boto3)
            "ENVIRONMENT": ENVIRONMENT,
            "DATABASE_PASSWORD": DB_PASSWORD,
            "API_SECRET_KEY": API_SECRET_KEY,
            "TF_BACKEND_CONFIG": str(backend),
            "TF_CLI_ARGS_init": f"-plugin-dir={plugin_dir}",
            "IMAGE_TAG": "test-0001",
            "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        }
    )
    started = time.monotonic()
    result = workspace.script("deploy.sh", "--yes", "--skip-images", "--skip-rollout", "--skip-validate")
    timed("deploy.sh (init, fmt, validate, plan, apply)", started)
    assert result.returncode == 0, script_failure(result)
    return deployed


@dataclass
class StandIn:
    """The API and MLflow of the task definitions, running locally."""

    api: UpProcess
    mlflow: Child
    database_url: str


def localize(command: list[str], values: dict[str, str]) -> list[str]:
    """``command`` with the value after each flag in ``values`` replaced."""
    result = list(command)
    for flag, value in values.items():
        result[result.index(flag) + 1] = value
    return result


@pytest.fixture(scope="module")
def stand_in(deployment: Deployment, postgres: PostgresCluster, infra_tmp: Path) -> Iterator[StandIn]:
    """MLflow then the API, from their registered task definitions, on loopback ports."""
    tmp = infra_tmp / "stand-in"
    database_url = normalize_sql_url(postgres.create_database("standin"))  # the shape of the secret
    local_secrets = {"HOKUSAI_DATABASE_URL": database_url, "MLFLOW_BACKEND_STORE_URI": database_url}

    def environment(container: dict[str, Any]) -> dict[str, str]:
        env = {item["name"]: item["value"] for item in container.get("environment", [])}
        for secret in container.get("secrets", []):  # RDS is emulated: the database URL is local
            env[secret["name"]] = local_secrets.get(secret["name"]) or deployment.secret_value(
                secret["valueFrom"]
            )
        # Any AWS call the services make (S3, ECS RunTask) goes to the emulator.
        return {**os.environ, **FAKE_AWS_ENV, "AWS_ENDPOINT_URL": deployment.endpoint, **env}

    mlflow_def, api_def = deployment.container("mlflow"), deployment.container("api")
    mlflow_port, api_port = free_port(), free_port()
    mlflow_env = environment(mlflow_def) | {"MLFLOW_S3_ENDPOINT_URL": deployment.endpoint}
    mlflow_command = localize(mlflow_def["command"], {"--host": "127.0.0.1", "--port": str(mlflow_port)})
    mlflow = Child("mlflow", [str(BIN / "mlflow"), *mlflow_command[1:]], mlflow_env, tmp / "mlflow.log")
    wait_for_health(f"http://127.0.0.1:{mlflow_port}/health", mlflow, 120)

    api_env = environment(api_def) | {
        "HOKUSAI_API_HOST": "127.0.0.1",
        "HOKUSAI_API_PORT": str(api_port),
        "HOKUSAI_MLFLOW_URL": f"http://127.0.0.1:{mlflow_port}",
        "HOKUSAI_DATA_DIR": str(tmp / "data"),
        "HOKUSAI_S3_ENDPOINT_URL": deployment.endpoint,
    }
    api_command = localize(api_def["command"], {"--host": "127.0.0.1", "--port": str(api_port)})
    assert api_command[:2] == ["hokusai", "serve"]
    api = UpProcess(tmp / "api", api_env, tuple(api_command[2:]), command="serve")
    try:
        api.wait_ready()
        yield StandIn(api, mlflow, database_url)
    finally:
        api.kill()
        mlflow.stop()


def validate(deployment: Deployment, stand_in: StandIn) -> tuple[Any, list[dict[str, Any]]]:
    """``validate.sh --json`` against the deployment, with the stand-in as the API endpoint."""
    deployment.workspace.env["HOKUSAI_URL"] = stand_in.api.api_url
    started = time.monotonic()
    result = deployment.workspace.script("validate.sh", "--json")
    timed("validate.sh", started)
    assert result.returncode in (0, 1), script_failure(result)
    return result, json.loads(result.stdout)


def test_deploy_keeps_the_state_in_the_state_bucket_with_a_lock_file(deployment: Deployment) -> None:
    keys = [
        o["Key"] for o in deployment.client("s3").list_objects_v2(Bucket=STATE_BUCKET).get("Contents", [])
    ]
    assert f"hokusai/{ENVIRONMENT}.tfstate" in keys
    assert not [key for key in keys if key.endswith(".tflock")]  # released after the apply
    backend = json.loads((deployment.workspace.tf_dir / ".terraform/terraform.tfstate").read_text())[
        "backend"
    ]
    assert backend["type"] == "s3" and backend["config"]["use_lockfile"] is True


def test_the_outputs_name_what_operators_type(deployment: Deployment) -> None:
    outputs = deployment.outputs()
    assert outputs["ecs_cluster_name"] == CLUSTER
    assert (outputs["api_service_name"], outputs["mlflow_service_name"]) == ("hokusai-api", "hokusai-mlflow")
    assert (outputs["mlflow_artifacts_bucket"], outputs["pipeline_data_bucket"]) == BUCKETS
    assert outputs["api_log_group"] == f"/ecs/hokusai/api/{ENVIRONMENT}"
    assert outputs["mlflow_log_group"] == f"/ecs/hokusai/mlflow/{ENVIRONMENT}"
    assert outputs["db_instance_identifier"] == CLUSTER
    assert outputs["api_endpoint"] == f"http://{outputs['load_balancer_dns_name']}"
    assert outputs["mlflow_endpoint"] == f"{outputs['api_endpoint']}/mlflow"
    assert outputs["api_repository_url"].endswith(f"/hokusai-api-{ENVIRONMENT}")


def test_both_services_run_on_fargate_and_the_api_sits_behind_the_listener_rules(
    deployment: Deployment,
) -> None:
    ecs, elbv2 = deployment.client("ecs"), deployment.client("elbv2")
    services = {
        s["serviceName"]: s
        for s in ecs.describe_services(cluster=CLUSTER, services=["hokusai-api", "hokusai-mlflow"])[
            "services"
        ]
    }
    assert {name: (s["status"], s["launchType"]) for name, s in services.items()} == {
        "hokusai-api": ("ACTIVE", "FARGATE"),
        "hokusai-mlflow": ("ACTIVE", "FARGATE"),
    }
    assert not services["hokusai-mlflow"]["loadBalancers"]  # MLflow is never behind the public ALB
    target_group = services["hokusai-api"]["loadBalancers"][0]["targetGroupArn"]
    (balancer,) = elbv2.describe_load_balancers(Names=[CLUSTER])["LoadBalancers"]
    (listener,) = elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
    rules = [
        r for r in elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"] if not r["IsDefault"]
    ]
    forwarded = {
        path: action["TargetGroupArn"]
        for rule in rules
        for action in rule["Actions"]
        for condition in rule["Conditions"]
        for path in condition.get("PathPatternConfig", {}).get("Values", condition.get("Values", []))
    }
    assert {"/mlflow", "/mlflow/*", "/api/*", "/health", "/ready"} <= set(forwarded)
    assert set(forwarded.values()) == {target_group}
    assert listener["DefaultActions"][0]["Type"] == "fixed-response"


def test_buckets_are_versioned_encrypted_private_and_tls_only(deployment: Deployment) -> None:
    s3 = deployment.client("s3")
    for bucket in BUCKETS:
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values())
        (statement,) = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
        assert (
            statement["Effect"] == "Deny" and statement["Condition"]["Bool"]["aws:SecureTransport"] == "false"
        )
        assert all(
            r.get("Filter") is not None for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        )


def test_tasks_get_every_secret_from_secrets_manager_through_the_execution_role(
    deployment: Deployment,
) -> None:
    iam, kms = deployment.client("iam"), deployment.client("kms")
    execution_role = "hokusai-development-ecs-execution"
    policy = iam.get_role_policy(RoleName=execution_role, PolicyName="read-task-secrets")["PolicyDocument"]
    role_arn = iam.get_role(RoleName=execution_role)["Role"]["Arn"]
    key_id = kms.describe_key(KeyId="alias/hokusai-development")["KeyMetadata"]["KeyId"]
    key_policy = kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
    for task in FAMILIES:
        container = deployment.container(task)
        assert container["secrets"], task
        for secret in container["secrets"]:
            described = deployment.client("secretsmanager").describe_secret(SecretId=secret["valueFrom"])
            assert described["ARN"] == secret["valueFrom"]
            assert allows(policy, "secretsmanager:GetSecretValue", secret["valueFrom"]), secret["name"]
            grants = allowing_statements(key_policy, "kms:Decrypt", described["KmsKeyId"])
            assert any(role_arn in principals(s) for s in grants), "the key lets the execution role decrypt"


def test_no_task_definition_holds_a_secret_value(deployment: Deployment) -> None:
    containers = {task: deployment.container(task) for task in FAMILIES}
    values = {
        deployment.secret_value(secret["valueFrom"]) for c in containers.values() for secret in c["secrets"]
    }
    # database URL, bootstrap key hash, webhook key, session key, and the signer key without KMS attesters
    assert len(values) == 5
    for task, container in containers.items():
        text = json.dumps(container)
        for secret in (*values, DB_PASSWORD, API_SECRET_KEY):
            assert secret not in text, f"{task} holds a secret in plain text"


def test_the_secrets_hold_what_the_application_expects(deployment: Deployment) -> None:
    api = {s["name"]: deployment.secret_value(s["valueFrom"]) for s in deployment.container("api")["secrets"]}
    key_id = API_SECRET_KEY.split("_")[2]
    assert (
        api["HOKUSAI_BOOTSTRAP_ADMIN_KEY_HASH"]
        == f"{key_id}:{hashlib.sha256(API_SECRET_KEY.encode()).hexdigest()}"
    )
    assert re.fullmatch(r"[0-9a-f]{64}", api["HOKUSAI_SIGNER_KEY"])
    address = deployment.client("rds").describe_db_instances(DBInstanceIdentifier=CLUSTER)["DBInstances"][0]
    assert api["HOKUSAI_DATABASE_URL"] == (
        f"postgresql+psycopg://hokusai:{DB_PASSWORD}@{address['Endpoint']['Address']}:5432/hokusai?sslmode=require"
    )
    mlflow = {s["name"]: s["valueFrom"] for s in deployment.container("mlflow")["secrets"]}
    assert deployment.secret_value(mlflow["MLFLOW_BACKEND_STORE_URI"]) == api["HOKUSAI_DATABASE_URL"]


def test_mlflow_keeps_its_runs_in_the_database_named_by_MLFLOW_BACKEND_STORE_URI(stand_in: StandIn) -> None:
    with psycopg.connect(stand_in.database_url.replace("+psycopg", "")) as connection:
        tables = {
            row[0]
            for row in connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
    assert {
        "experiments",
        "runs",
        "hk_alembic_version",
    } <= tables  # MLflow's and the platform's, one database


def test_validate_passes_every_check_against_the_deployment(
    deployment: Deployment, stand_in: StandIn
) -> None:
    result, checks = validate(deployment, stand_in)
    by_name = {check["name"]: check for check in checks}
    expected = {
        "api health",
        "api ready",
        *PROXY_CHECKS,
        *(f"bucket {bucket}" for bucket in BUCKETS),
        f"database {CLUSTER}",
        "service hokusai-api",
        "service hokusai-mlflow",
        "alarms",
    }
    assert set(by_name) == expected
    failing = {name for name, check in by_name.items() if not check["ok"]}
    assert not failing, [by_name[name] for name in failing]
    assert result.returncode == 0
    assert by_name["service hokusai-api"]["detail"].startswith(
        f"{EMULATED_RUNNING_TASKS} of {EMULATED_RUNNING_TASKS}"
    )
    assert by_name["alarms"]["detail"].startswith("5 alarms exist")


def test_validate_fails_naming_the_ready_check_when_mlflow_stops(
    deployment: Deployment, stand_in: StandIn
) -> None:
    stand_in.mlflow.stop()
    result, checks = validate(deployment, stand_in)
    assert result.returncode == 1
    failing = {check["name"]: check["detail"] for check in checks if not check["ok"]}
    assert "api ready" in failing and "mlflow" in failing["api ready"]
    assert set(failing) == {"api ready", *PROXY_CHECKS}  # MLflow behind the proxy is down too


def test_destroy_removes_every_resource(deployment: Deployment) -> None:
    started = time.monotonic()
    result = deployment.workspace.script("destroy.sh", "--yes")
    timed("destroy.sh", started)
    assert result.returncode == 0, script_failure(result)
    assert deployment.workspace.run("state", "list").stdout.strip() == ""
    s3, rds = deployment.client("s3"), deployment.client("rds")
    assert {b["Name"] for b in s3.list_buckets()["Buckets"]} & set(BUCKETS) == set()
    with pytest.raises(ClientError, match="DBInstanceNotFound"):
        rds.describe_db_instances(DBInstanceIdentifier=CLUSTER)
    clusters = deployment.client("ecs").describe_clusters(clusters=[CLUSTER])["clusters"]
    assert all(c["status"] == "INACTIVE" for c in clusters)
    assert not deployment.client("secretsmanager").list_secrets()["SecretList"]
    assert STATE_BUCKET in {b["Name"] for b in s3.list_buckets()["Buckets"]}  # the state bucket stays
