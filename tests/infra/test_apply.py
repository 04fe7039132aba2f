"""Deploy the development environment to the emulated AWS with the operator's scripts, run it in containers,
check it, destroy it.

``deploy.sh`` runs as an operator runs it, with podman for docker and a local OCI registry
(Debian's ``docker-registry`` on loopback) standing in for ECR: it builds both images from the
repository's Dockerfiles, tags them by git commit, pushes them, applies Terraform (state in the
emulated S3 bucket ``hokusai-terraform-state-development`` locked by a lock file, ``fmt -check``,
``validate``, ``plan``, ``apply``) with the pushed image digests, and forces a new deployment of both
ECS services. moto cannot run Fargate tasks, so the test then does what ECS would: it pulls the images
the registered task definitions name (by digest, from the stand-in registry) and runs them as
containers with the task definitions' commands, plain environment, secrets from Secrets Manager,
read-only root and ``/tmp`` mount, on loopback ports of the host network, with a local PostgreSQL for
RDS and moto for S3. ``validate.sh`` checks that stack plus every emulated AWS resource, fails while
the MLflow container is stopped and passes once it is started again. The tests run in file order:
deploy, inspect, validate, break, heal, destroy.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
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
from tests.infra.conftest import EMULATED_RUNNING_TASKS
from tests.infra.policies import allowing_statements, allows, principals
from tests.infra.terraform import (
    API_SECRET_KEY,
    DB_PASSWORD,
    ROOT,
    Workspace,
    backend_hcl,
    make_workspace,
)
from tests.support.containers import CONTAINERS_CONF, podman, podman_env
from tests.support.moto import FAKE_AWS_ENV, MotoServer
from tests.support.net import free_port, wait_http
from tests.support.postgres import PostgresCluster
from tests.support.registry import BINARY as REGISTRY_BINARY
from tests.support.registry import OciRegistry

# The first test's setup builds (or reuses) both images, pushes them and applies ~100 resources.
pytestmark = [pytest.mark.realparts, pytest.mark.containers, pytest.mark.timeout(1500)]

ENVIRONMENT = "development"
CLUSTER = f"hokusai-{ENVIRONMENT}"
STATE_BUCKET = f"hokusai-terraform-state-{ENVIRONMENT}"
BUCKETS = (f"hokusai-mlflow-artifacts-{ENVIRONMENT}", f"hokusai-pipeline-data-{ENVIRONMENT}")
FAMILIES = {task: f"hokusai-{task}-{ENVIRONMENT}" for task in ("api", "mlflow", "pipeline")}
PROXY_CHECKS = {"mlflow ui via proxy", "mlflow api via proxy"}
REPOSITORIES = {task: f"hokusai-{task}-{ENVIRONMENT}" for task in ("api", "mlflow")}
BIN = Path(sys.executable).parent
TIMINGS: dict[str, float] = {}


@dataclass
class Deployment:
    """The applied environment: the workspace its scripts run in, and AWS clients on the emulator."""

    workspace: Workspace
    endpoint: str
    registry: OciRegistry
    image_tag: str
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
def oci_registry() -> Iterator[OciRegistry]:
    """The stand-in for ECR that deploy.sh pushes to (``IMAGE_REGISTRY``)."""
    if shutil.which(REGISTRY_BINARY) is None:
        pytest.skip(f"{REGISTRY_BINARY} is not installed (apt-get install docker-registry)")
    registry = OciRegistry().start()
    yield registry
    registry.stop()


@pytest.fixture(scope="module")
def deployment(
    plan_jobs: dict[str, Any],  # started first: the plans of every environment run during the apply
    container_images: dict[
        str, float
    ],  # the stand-in base and the images' layers: deploy.sh's build is a cache hit
    oci_registry: OciRegistry,
    infra_tmp: Path,
    terraform_bin: str,
    plugin_dir: Path,
    aws_emulator: MotoServer,
) -> Iterator[Deployment]:
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
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    deployed = Deployment(workspace, aws_emulator.endpoint, oci_registry, commit)
    deployed.client("s3").create_bucket(Bucket=STATE_BUCKET)  # the one-time bootstrap of the guide
    workspace.env.update(
        {
            **FAKE_AWS_ENV,
            "AWS_ENDPOINT_URL": aws_emulator.endpoint,  # the aws CLI and `hokusai infra validate` (boto3)
            "ENVIRONMENT": ENVIRONMENT,
            "DATABASE_PASSWORD": DB_PASSWORD,
            "API_SECRET_KEY": API_SECRET_KEY,
            "TF_BACKEND_CONFIG": str(backend),
            "TF_CLI_ARGS_init": f"-plugin-dir={plugin_dir}",
            "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
            # podman for docker, the local registry for ECR's host, this checkout as the source
            "CONTAINER_CLI": "podman",
            "CONTAINERS_CONF": str(CONTAINERS_CONF),
            "REGISTRY_AUTH_FILE": str(tmp / "auth.json"),  # podman login writes here, not to /run
            "IMAGE_REGISTRY": oci_registry.host,
            "HOKUSAI_SOURCE_DIR": str(ROOT),
        }
    )
    workspace.env.pop("IMAGE_TAG", None)  # deploy.sh tags by the git commit
    started = time.monotonic()
    result = workspace.script("deploy.sh", "--yes", "--skip-validate")
    timed("deploy.sh (init, fmt, validate, build, push, plan, apply, rollout)", started)
    assert result.returncode == 0, script_failure(result)
    yield deployed
    for repository in REPOSITORIES.values():  # the tags deploy.sh made in podman's store (layers stay)
        podman("rmi", f"{oci_registry.host}/{repository}:{commit}", check=False)


@dataclass
class Task:
    """One task definition's container, run with podman as ECS would run it."""

    name: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_healthy(self, path: str, timeout: float = 180.0) -> None:
        try:
            wait_http(f"{self.url}{path}", timeout)
        except TimeoutError:
            logs = podman("logs", "--tail", "40", self.name, check=False)
            raise AssertionError(f"{self.name} not healthy:\n{logs.stdout}{logs.stderr}") from None


@dataclass
class StandIn:
    """The API and MLflow of the task definitions, running as containers."""

    api: Task
    mlflow: Task
    database_url: str

    @property
    def api_url(self) -> str:
        return self.api.url

    def remove(self) -> None:
        for task in (self.api, self.mlflow):
            podman("rm", "--force", "--time", "5", task.name, check=False)


def localize(command: list[str], values: dict[str, str]) -> list[str]:
    """``command`` with the value after each flag in ``values`` replaced."""
    result = list(command)
    for flag, value in values.items():
        result[result.index(flag) + 1] = value
    return result


def run_task(deployment: Deployment, container: dict[str, Any], env: dict[str, str], port: int) -> Task:
    """Pull the container's image by digest from the stand-in registry and start it as ECS would.

    The root filesystem is read-only and ``/tmp`` the one writable mount (as the task definition says);
    the variables reach podman through its environment (``--env NAME``), never on its command line.
    The host network stands in for the task's awsvpc interface: moto and PostgreSQL are on loopback.
    """
    repository_url, digest = container["image"].split("@")
    image = f"{deployment.registry.host}/{repository_url.split('/', 1)[1]}@{digest}"
    podman("pull", "--tls-verify=false", "--quiet", image)
    assert container["readonlyRootFilesystem"] is True
    (mount,) = container["mountPoints"]
    task = Task(f"hokusai-deploy-{container['name']}-{os.getpid()}", port)
    podman("rm", "--force", task.name, check=False)
    command = localize(container["command"], {"--host": "127.0.0.1", "--port": str(port)})
    options = ["--network", "host", "--read-only", "--tmpfs", f"{mount['containerPath']}:rw,mode=1777"]
    options += ["--stop-timeout", str(container["stopTimeout"])]
    subprocess.run(
        ["podman", "run", "--detach", "--name", task.name, *options]
        + [arg for name in sorted(env) for arg in ("--env", name)]
        + [image, *command],
        env=podman_env(**env),
        check=True,
        capture_output=True,
        timeout=300,
    )
    return task


@pytest.fixture(scope="module")
def stand_in(deployment: Deployment, postgres: PostgresCluster) -> Iterator[StandIn]:
    """MLflow then the API, as containers of their registered task definitions, on loopback ports."""
    database_url = normalize_sql_url(postgres.create_database("standin"))  # the shape of the secret
    local_secrets = {"HOKUSAI_DATABASE_URL": database_url, "MLFLOW_BACKEND_STORE_URI": database_url}

    def environment(container: dict[str, Any]) -> dict[str, str]:
        env = {item["name"]: item["value"] for item in container.get("environment", [])}
        for secret in container.get("secrets", []):  # RDS is emulated: the database URL is local
            env[secret["name"]] = local_secrets.get(secret["name"]) or deployment.secret_value(
                secret["valueFrom"]
            )
        # Any AWS call the services make (S3, ECS RunTask) goes to the emulator.
        return {**env, **FAKE_AWS_ENV, "AWS_ENDPOINT_URL": deployment.endpoint}

    mlflow_def, api_def = deployment.container("mlflow"), deployment.container("api")
    mlflow_env = environment(mlflow_def) | {"MLFLOW_S3_ENDPOINT_URL": deployment.endpoint}
    mlflow = run_task(deployment, mlflow_def, mlflow_env, free_port())
    api_port = free_port()
    api_env = environment(api_def) | {
        "HOKUSAI_API_HOST": "127.0.0.1",
        "HOKUSAI_API_PORT": str(api_port),
        "HOKUSAI_MLFLOW_URL": mlflow.url,
        "HOKUSAI_S3_ENDPOINT_URL": deployment.endpoint,
    }
    assert api_def["command"][:2] == ["hokusai", "serve"]
    stack = StandIn(run_task(deployment, api_def, api_env, api_port), mlflow, database_url)
    try:
        started = time.monotonic()
        mlflow.wait_healthy("/health")
        stack.api.wait_healthy("/ready")
        timed("containers to /ready", started)
        yield stack
    finally:
        stack.remove()


def validate(deployment: Deployment, stand_in: StandIn) -> tuple[Any, list[dict[str, Any]]]:
    """``validate.sh --json`` against the deployment, with the containers as the API endpoint."""
    deployment.workspace.env["HOKUSAI_URL"] = stand_in.api_url
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


def test_deploy_pushed_both_images_by_commit_and_the_task_definitions_name_their_digests(
    deployment: Deployment,
) -> None:
    outputs = deployment.outputs()
    images = {task: deployment.container(task)["image"] for task in FAMILIES}
    for task, repository in REPOSITORIES.items():
        pushed = deployment.registry.digest(repository, deployment.image_tag)  # tagged by git commit
        assert images[task] == f"{outputs[f'{task}_repository_url']}@{pushed}"
    assert images["pipeline"] == images["api"]  # runs use the API image, the very same one
    ecs = deployment.client("ecs")
    services = ecs.describe_services(cluster=CLUSTER, services=["hokusai-api", "hokusai-mlflow"])["services"]
    for service in services:  # the services run the task definitions that name those digests
        definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
        assert definition["containerDefinitions"][0]["image"] in images.values()


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


def test_validate_fails_naming_mlflow_when_its_container_stops(
    deployment: Deployment, stand_in: StandIn
) -> None:
    podman("stop", "--time", "5", stand_in.mlflow.name)  # MLflow outlasts SIGTERM: killed after 5 s
    result, checks = validate(deployment, stand_in)
    assert result.returncode == 1
    failing = {check["name"]: check["detail"] for check in checks if not check["ok"]}
    assert "api ready" in failing and "mlflow" in failing["api ready"]
    assert set(failing) == {"api ready", *PROXY_CHECKS}  # MLflow behind the proxy is down too


def test_validate_passes_again_when_the_mlflow_container_starts_again(
    deployment: Deployment, stand_in: StandIn
) -> None:
    podman("start", stand_in.mlflow.name)
    stand_in.mlflow.wait_healthy("/health")
    result, checks = validate(deployment, stand_in)
    assert [check for check in checks if not check["ok"]] == []
    assert result.returncode == 0


def test_destroy_removes_every_resource(deployment: Deployment, stand_in: StandIn) -> None:
    started = time.monotonic()
    result = deployment.workspace.script("destroy.sh", "--yes")
    timed("destroy.sh", started)
    assert result.returncode == 0, script_failure(result)
    stand_in.remove()  # what ECS would stop with the services
    names = podman("ps", "--all", "--format", "{{.Names}}").stdout.split()
    assert {stand_in.api.name, stand_in.mlflow.name}.isdisjoint(names)
    assert not deployment.client("ecr").describe_repositories()["repositories"]
    assert deployment.workspace.run("state", "list").stdout.strip() == ""
    s3, rds = deployment.client("s3"), deployment.client("rds")
    assert {b["Name"] for b in s3.list_buckets()["Buckets"]} & set(BUCKETS) == set()
    with pytest.raises(ClientError, match="DBInstanceNotFound"):
        rds.describe_db_instances(DBInstanceIdentifier=CLUSTER)
    clusters = deployment.client("ecs").describe_clusters(clusters=[CLUSTER])["clusters"]
    assert all(c["status"] == "INACTIVE" for c in clusters)
    assert not deployment.client("secretsmanager").list_secrets()["SecretList"]
    assert STATE_BUCKET in {b["Name"] for b in s3.list_buckets()["Buckets"]}  # the state bucket stays
