"""Terraform validate and plan of every environment against the emulated AWS, then the plans checked.

The plans are made once per session (all three at once) and read from ``terraform show -json``.
Values AWS assigns (ARNs, ids, DNS names) are unknown in a plan; what these tests check is known at
plan time by design: names, listener rules, the exact IAM policies, the tasks' commands, their plain
environment and which secret feeds which variable (the ``task_containers`` output).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.infra.policies import allows
from tests.infra.terraform import (
    API_SECRET_KEY,
    CERTIFICATE_ARN,
    DB_PASSWORD,
    ENVIRONMENTS,
    TERRAFORM_DIR,
    make_workspace,
)

pytestmark = pytest.mark.realparts

# AWS length limits of the names the configuration sets (resource type -> attribute -> limit).
NAME_LIMITS: dict[str, dict[str, int]] = {
    "aws_lb": {"name": 32},
    "aws_lb_target_group": {"name": 32},
    "aws_iam_role": {"name": 64},
    "aws_iam_role_policy": {"name": 128},
    "aws_db_instance": {"identifier": 63, "db_name": 63},
    "aws_db_subnet_group": {"name": 255},
    "aws_db_parameter_group": {"name": 255, "family": 255},
    "aws_s3_bucket": {"bucket": 63},
    "aws_ecs_cluster": {"name": 255},
    "aws_ecs_service": {"name": 255},
    "aws_ecs_task_definition": {"family": 255},
    "aws_security_group": {"name": 255},
    "aws_cloudwatch_log_group": {"name": 512},
    "aws_cloudwatch_metric_alarm": {"alarm_name": 255},
    "aws_cloudwatch_dashboard": {"dashboard_name": 255},
    "aws_sns_topic": {"name": 256},
    "aws_ecr_repository": {"name": 256},
    "aws_secretsmanager_secret": {"name": 512},
    "aws_kms_alias": {"name": 256},
    "aws_appautoscaling_policy": {"name": 256},
    "aws_service_discovery_private_dns_namespace": {"name": 253},
    "aws_service_discovery_service": {"name": 63},
}
NAME_ATTRIBUTES = ("name", "name_prefix", "identifier", "bucket", "family", "alarm_name", "dashboard_name")
SECRET_LIKE = re.compile(
    r"PASSWORD|SECRET|TOKEN|PRIVATE|SIGNER_KEY|WEBHOOK_KEY|SESSION_KEY|KEY_HASH|DATABASE_URL|STORE_URI|API_KEY"
)
ACCOUNT = "123456789012"
KMS_ATTESTERS = {
    "development": False,
    "staging": True,
    "production": True,
}  # attester_keys null: 0 in development


def planned(plan: dict[str, Any], resource_type: str | None = None) -> list[dict[str, Any]]:
    """Managed resources of the plan (optionally of one type), with their known values."""
    found = [
        {"values": {}, **r}
        for r in plan["planned_values"]["root_module"]["resources"]
        if r["mode"] == "managed"
    ]
    return [r for r in found if resource_type is None or r["type"] == resource_type]


def config_of(plan: dict[str, Any], address: str) -> dict[str, Any]:
    """The configuration block of a resource instance (``aws_x.y["k"]`` -> ``aws_x.y``)."""
    base = re.sub(r"\[[^\]]*\]$", "", address)
    return next(r for r in plan["configuration"]["root_module"]["resources"] if r["address"] == base)


def references(block: Any) -> set[str]:
    """Every reference anywhere in a configuration expression tree."""
    found: set[str] = set()
    if isinstance(block, dict):
        found.update(block.get("references", []))
        for value in block.values():
            found |= references(value)
    elif isinstance(block, list):
        for value in block:
            found |= references(value)
    return found


def output_value(plan: dict[str, Any], name: str) -> Any:
    """The known part of an output's planned value."""
    return plan["output_changes"][name]["after"]


def test_terraform_validate_passes_without_a_backend(
    tmp_path: Path, terraform_bin: str, plugin_dir: Path
) -> None:
    workspace = make_workspace(tmp_path, terraform_bin, plugin_dir, endpoint=None)
    workspace.run("init", "-backend=false", "-input=false", f"-plugin-dir={plugin_dir}")
    result = workspace.run("validate", "-json")
    report = json.loads(result.stdout)
    assert report["valid"] is True
    assert report["warning_count"] == 0, report["diagnostics"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_name_is_within_its_aws_length_limit(plans: dict[str, Any], environment: str) -> None:
    checked = 0
    for resource in planned(plans[environment]):
        for attribute in NAME_ATTRIBUTES:
            value = resource["values"].get(attribute)
            if not isinstance(value, str) or not value:
                continue
            limits = NAME_LIMITS.get(resource["type"], {})
            assert attribute in limits, f"no known AWS limit for {resource['type']}.{attribute}: add it"
            assert len(value) <= limits[attribute], f"{resource['address']}.{attribute}={value!r}"
            checked += 1
    assert checked >= 30
    for bucket in planned(plans[environment], "aws_s3_bucket"):
        assert re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket["values"]["bucket"])


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_names_operators_type_are_exact(plans: dict[str, Any], environment: str) -> None:
    plan = plans[environment]

    def names(resource_type: str, attribute: str = "name") -> set[str]:
        return {r["values"][attribute] for r in planned(plan, resource_type)}

    assert names("aws_ecs_cluster") == {f"hokusai-{environment}"}
    assert names("aws_ecs_service") == {"hokusai-api", "hokusai-mlflow"}
    assert {f"/ecs/hokusai/api/{environment}", f"/ecs/hokusai/mlflow/{environment}"} <= names(
        "aws_cloudwatch_log_group"
    )
    assert names("aws_s3_bucket", "bucket") == {
        f"hokusai-mlflow-artifacts-{environment}",
        f"hokusai-pipeline-data-{environment}",
    }


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_target_group_a_service_uses_is_attached_to_a_listener_rule(
    plans: dict[str, Any], environment: str
) -> None:
    plan = plans[environment]
    used = set()
    for service in planned(plan, "aws_ecs_service"):
        for balancer in config_of(plan, service["address"])["expressions"].get("load_balancer", []):
            used |= {ref for ref in references(balancer["target_group_arn"]) if ref.count(".") == 1}
    attached = set()
    for rule in planned(plan, "aws_lb_listener_rule"):
        actions = config_of(plan, rule["address"])["expressions"]["action"]
        attached |= {ref for ref in references(actions) if ref.startswith("aws_lb_target_group.")}
    assert used == {"aws_lb_target_group.api"}
    assert used <= attached


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_listener_rules_send_api_and_mlflow_proxy_paths_to_the_api(
    plans: dict[str, Any], environment: str
) -> None:
    paths = set()
    for rule in planned(plans[environment], "aws_lb_listener_rule"):
        assert [a["type"] for a in rule["values"]["action"]] == ["forward"]
        for condition in rule["values"]["condition"]:
            for pattern in condition["path_pattern"]:
                paths.update(pattern["values"])
    assert {"/mlflow", "/mlflow/*", "/api/*", "/health", "/ready"} <= paths
    assert "/metrics" not in paths  # Prometheus metrics stay private


def test_without_a_certificate_http_serves_and_no_https_listener_exists(plans: dict[str, Any]) -> None:
    listeners = planned(plans["development"], "aws_lb_listener")
    assert [listener["values"]["protocol"] for listener in listeners] == ["HTTP"]
    assert listeners[0]["values"]["default_action"][0]["type"] == "fixed-response"  # 404, not a redirect


def test_with_a_certificate_https_serves_and_http_redirects_to_it(plans: dict[str, Any]) -> None:
    listeners = {
        listener["values"]["protocol"]: listener
        for listener in planned(plans["production"], "aws_lb_listener")
    }
    assert set(listeners) == {"HTTP", "HTTPS"}
    assert listeners["HTTPS"]["values"]["certificate_arn"] == CERTIFICATE_ARN
    redirect = listeners["HTTP"]["values"]["default_action"][0]
    assert redirect["type"] == "redirect"
    assert redirect["redirect"][0]["protocol"] == "HTTPS"
    assert output_value(plans["production"], "api_endpoint") == "https://hokusai.example.org"
    rule_listeners = {
        ref
        for rule in planned(plans["production"], "aws_lb_listener_rule")
        for ref in references(config_of(plans["production"], rule["address"])["expressions"]["listener_arn"])
    }
    assert "aws_lb_listener.https" in rule_listeners


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_mlflow_reads_its_backend_store_from_the_MLFLOW_variable_fed_by_a_secret(
    plans: dict[str, Any], environment: str
) -> None:
    mlflow = output_value(plans[environment], "task_containers")["mlflow"]
    assert mlflow["secrets"] == {"MLFLOW_BACKEND_STORE_URI": f"hokusai/{environment}/database-url"}
    names = set(mlflow["environment"]) | set(mlflow["secrets"])
    assert all(name.startswith(("MLFLOW_", "AWS_")) for name in names), names
    command = mlflow["command"]
    assert command[:2] == ["mlflow", "server"]
    assert "--backend-store-uri" not in command  # it comes from MLFLOW_BACKEND_STORE_URI
    destination = command[command.index("--artifacts-destination") + 1]
    assert destination.startswith(f"s3://hokusai-mlflow-artifacts-{environment}/")
    assert "--serve-artifacts" in command
    allowed = command[command.index("--allowed-hosts") + 1].split(",")
    api_env = output_value(plans[environment], "task_containers")["api"]["environment"]
    mlflow_host = api_env["HOKUSAI_MLFLOW_URL"].removeprefix("http://")
    assert mlflow_host in allowed  # the Host header the API sends is accepted


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_api_task_gets_the_contracted_settings(plans: dict[str, Any], environment: str) -> None:
    containers = output_value(plans[environment], "task_containers")
    api = containers["api"]
    assert api["command"] == ["hokusai", "serve", "--host", "0.0.0.0", "--port", "8001"]
    env = api["environment"]
    assert env["HOKUSAI_ENVIRONMENT"] == environment
    assert (env["HOKUSAI_API_HOST"], env["HOKUSAI_API_PORT"]) == ("0.0.0.0", "8001")
    assert env["HOKUSAI_ARTIFACT_ROOT"] == f"s3://hokusai-mlflow-artifacts-{environment}/mlflow"
    assert env["HOKUSAI_PIPELINE_DATA_ROOT"] == f"s3://hokusai-pipeline-data-{environment}/contributions"
    assert env["HOKUSAI_MLFLOW_URL"] == f"http://mlflow.hokusai-{environment}.internal:5000"
    assert env["HOKUSAI_JOB_RUNNER"] == "ecs"
    assert env["HOKUSAI_ECS_CLUSTER"] == f"hokusai-{environment}"
    assert (
        env["HOKUSAI_ECS_TASK_DEFINITION"]
        == containers["pipeline"]["environment"]["HOKUSAI_ECS_TASK_DEFINITION"]
    )
    assert set(api["secrets"]) == {
        "HOKUSAI_DATABASE_URL",
        "HOKUSAI_BOOTSTRAP_ADMIN_KEY_HASH",
        "HOKUSAI_WEBHOOK_KEY",
        "HOKUSAI_SESSION_KEY",
    } | (set() if KMS_ATTESTERS[environment] else {"HOKUSAI_SIGNER_KEY"})
    assert env["HOKUSAI_CHAIN_ID"] == "1"
    if KMS_ATTESTERS[environment]:  # KMS attesters: no plaintext key, the key aliases and the threshold
        assert env["HOKUSAI_ATTESTER_KMS_KEY_IDS"] == f"alias/hokusai-{environment}-attester-1"
        assert env["HOKUSAI_ATTESTER_THRESHOLD"] == "1"
    else:
        assert "HOKUSAI_ATTESTER_KMS_KEY_IDS" not in env
    assert containers["pipeline"]["command"][:3] == ["hokusai", "worker", "run"]
    assert containers["pipeline"]["secrets"].items() <= api["secrets"].items()


def role_policy(plan: dict[str, Any], name: str) -> str:
    """The planned (known) policy JSON of ``aws_iam_role_policy.<name>``."""
    policy = next(
        p for p in planned(plan, "aws_iam_role_policy") if p["address"] == f"aws_iam_role_policy.{name}"
    )
    assert references(config_of(plan, policy["address"])["expressions"]["role"]) >= {f"aws_iam_role.{name}"}
    assert isinstance(policy["values"].get("policy"), str), f"{name}'s policy is known at plan time"
    return policy["values"]["policy"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_pipeline_runs_get_no_signing_key_and_reach_the_api_to_sign(
    plans: dict[str, Any], environment: str
) -> None:
    plan = plans[environment]
    pipeline = output_value(plan, "task_containers")["pipeline"]
    assert set(pipeline["secrets"]) == {"HOKUSAI_DATABASE_URL"}
    assert not any(
        name.startswith(("HOKUSAI_SIGNER_KEY", "HOKUSAI_ATTESTER")) for name in pipeline["environment"]
    )
    api_url = f"http://api.hokusai-{environment}.internal:8001"
    assert pipeline["environment"]["HOKUSAI_SIGNER_URL"] == api_url == output_value(plan, "api_internal_url")
    assert {s["values"]["name"] for s in planned(plan, "aws_service_discovery_service")} == {"api", "mlflow"}
    api_service = config_of(plan, "aws_ecs_service.api")["expressions"]
    assert 'aws_service_discovery_service.this["api"]' in references(api_service["service_registries"])
    rules = {r["address"]: r["values"] for r in planned(plan, "aws_security_group_rule")}
    for name, direction in (("api_from_pipeline_runs", "ingress"), ("pipeline_runs_to_api", "egress")):
        rule = rules[f"aws_security_group_rule.{name}"]
        assert (rule["type"], rule["from_port"], rule["to_port"], rule["self"]) == (
            direction,
            8001,
            8001,
            True,
        )


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_worker_role_cannot_sign_read_the_signer_secret_start_tasks_or_pass_roles(
    plans: dict[str, Any], environment: str
) -> None:
    plan = plans[environment]
    worker = role_policy(plan, "pipeline_task")
    signer_secret = (
        f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:hokusai/{environment}/signer-key-AbCdEf"
    )
    attester_key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0f3c1d2e-0000-4000-8000-000000000001"
    assert not allows(worker, "secretsmanager:GetSecretValue", signer_secret)
    assert not allows(worker, "kms:Sign", attester_key)
    assert not allows(
        worker,
        "ecs:RunTask",
        f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/hokusai-pipeline-{environment}:1",
    )
    assert not allows(worker, "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/hokusai-{environment}-api-task")
    assert allows(worker, "s3:GetObject", f"arn:aws:s3:::hokusai-pipeline-data-{environment}/contributions/x")
    names = {r["values"]["name"] for r in planned(plan, "aws_iam_role")}
    assert f"hokusai-{environment}-pipeline-task" in names
    api = role_policy(plan, "api_task")  # runs start with the worker role, never with the API's
    assert allows(api, "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/hokusai-{environment}-pipeline-task")
    assert not allows(api, "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/hokusai-{environment}-api-task")
    for policy in planned(plan, "aws_iam_role_policy"):  # only the API's role may sign
        if policy["address"] != "aws_iam_role_policy.api_task":
            assert not allows(policy["values"]["policy"], "kms:Sign", attester_key), policy["address"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_api_role_may_only_sign_and_only_with_the_attester_keys(
    plans: dict[str, Any], environment: str
) -> None:
    plan = plans[environment]
    statements = json.loads(role_policy(plan, "api_task"))["Statement"]
    kms = [s for s in statements if any(str(a).startswith("kms:") for a in _listed(s.get("Action", [])))]
    keys = planned(plan, "aws_kms_key")
    attesters = [k for k in keys if k["values"].get("customer_master_key_spec") == "ECC_SECG_P256K1"]
    aliases = {a["values"]["name"] for a in planned(plan, "aws_kms_alias")}
    secrets = {s["values"]["name"] for s in planned(plan, "aws_secretsmanager_secret")}
    if not KMS_ATTESTERS[environment]:
        assert kms == [] and attesters == []
        assert f"hokusai/{environment}/signer-key" in secrets
        return
    assert f"hokusai/{environment}/signer-key" not in secrets  # no plaintext key at rest
    assert [k["values"]["key_usage"] for k in attesters] == ["SIGN_VERIFY"]
    assert f"alias/hokusai-{environment}-attester-1" in aliases
    assert len(kms) == 1 and _listed(kms[0]["Action"]) == ["kms:Sign"]
    assert kms[0]["Condition"] == {
        "ForAnyValue:StringEquals": {"kms:ResourceAliases": f"alias/hokusai-{environment}-attester-1"}
    }
    assert _listed(kms[0]["Resource"]) == [f"arn:aws:kms:us-east-1:{ACCOUNT}:key/*"]


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_execution_role_can_read_every_secret_a_task_references(
    plans: dict[str, Any], environment: str
) -> None:
    plan = plans[environment]
    account = "123456789012"
    execution = next(
        p for p in planned(plan, "aws_iam_role_policy") if p["address"].endswith(".execution_secrets")
    )
    assert references(config_of(plan, execution["address"])["expressions"]["role"]) >= {
        "aws_iam_role.execution"
    }
    policy = execution["values"].get("policy")
    assert isinstance(policy, str), "the execution role's policy is known at plan time"
    created = {s["values"]["name"] for s in planned(plan, "aws_secretsmanager_secret")}
    referenced = {
        secret
        for task in output_value(plan, "task_containers").values()
        for secret in task["secrets"].values()
    }
    assert referenced and referenced <= created
    for name in referenced:
        arn = f"arn:aws:secretsmanager:us-east-1:{account}:secret:{name}-AbCdEf"  # AWS appends 6 characters
        assert allows(policy, "secretsmanager:GetSecretValue", arn), name
    assert not allows(policy, "secretsmanager:GetSecretValue", arn.replace(environment, "other"))


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_no_task_definition_holds_a_plaintext_secret(plans: dict[str, Any], environment: str) -> None:
    plan = plans[environment]
    for change in plan["resource_changes"]:
        if change["type"] == "aws_ecs_task_definition":
            assert not change["change"]["after_sensitive"].get("container_definitions")
    key_hash_digest = hashlib.sha256(API_SECRET_KEY.encode()).hexdigest()
    for task, container in output_value(plan, "task_containers").items():
        for name, value in container["environment"].items():
            assert not SECRET_LIKE.search(name), f"{task}: {name} belongs in secrets"
            for secret in (DB_PASSWORD, API_SECRET_KEY, key_hash_digest):
                assert secret not in str(value), f"{task}: {name} holds a secret"
        assert all(SECRET_LIKE.search(name) for name in container["secrets"]), container["secrets"]


def test_production_is_multi_az_protected_and_has_a_nat_gateway_per_zone(plans: dict[str, Any]) -> None:
    production = plans["production"]
    database = planned(production, "aws_db_instance")[0]["values"]
    assert database["multi_az"] is True
    assert database["deletion_protection"] is True
    assert database["skip_final_snapshot"] is False
    assert len(planned(production, "aws_nat_gateway")) == 3
    assert planned(production, "aws_lb")[0]["values"]["enable_deletion_protection"] is True


def test_development_is_single_az_unprotected_and_shares_one_nat_gateway(plans: dict[str, Any]) -> None:
    development = plans["development"]
    database = planned(development, "aws_db_instance")[0]["values"]
    assert (database["multi_az"], database["deletion_protection"]) == (False, False)
    assert len(planned(development, "aws_nat_gateway")) == 1
    assert all(bucket["values"]["force_destroy"] for bucket in planned(development, "aws_s3_bucket"))


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_database_is_encrypted_private_and_backed_up_outside_maintenance(
    plans: dict[str, Any], environment: str
) -> None:
    database = planned(plans[environment], "aws_db_instance")[0]["values"]
    assert database["storage_encrypted"] is True
    assert database["publicly_accessible"] is False
    assert database["backup_retention_period"] == 7
    backup = [minutes(t) for t in database["backup_window"].split("-")]  # every day
    maintenance = [minutes(t.split(":", 1)[1]) for t in database["maintenance_window"].split("-")]  # one day
    assert backup[0] < backup[1] and maintenance[0] < maintenance[1]
    assert backup[1] <= maintenance[0] or maintenance[1] <= backup[0]


def minutes(clock: str) -> int:
    hours, mins = clock.split(":")
    return int(hours) * 60 + int(mins)


def test_every_declared_variable_is_used(plans: dict[str, Any]) -> None:
    declared = set(plans["development"]["configuration"]["root_module"]["variables"])
    sources = "\n".join(
        path.read_text() for path in sorted(TERRAFORM_DIR.glob("*.tf")) if path.name != "variables.tf"
    )
    unused = sorted(name for name in declared if not re.search(rf"\bvar\.{name}\b", sources))
    assert not unused
    assert len(declared) >= 30


def test_every_variable_is_typed_and_described(plans: dict[str, Any]) -> None:
    text = (TERRAFORM_DIR / "variables.tf").read_text()
    blocks = re.findall(r'variable "(\w+)" \{(.*?)\n\}', text, flags=re.S)
    assert len(blocks) == len(plans["development"]["configuration"]["root_module"]["variables"])
    for name, body in blocks:
        assert re.search(r"^\s+type\s+=", body, flags=re.M), name
        assert re.search(r'^\s+description\s+=\s+"\S', body, flags=re.M), name


def test_every_output_is_described(plans: dict[str, Any]) -> None:
    outputs = plans["development"]["configuration"]["root_module"]["outputs"]
    assert {"api_endpoint", "mlflow_endpoint", "ecs_cluster_name", "db_instance_identifier"} <= set(outputs)
    assert all(output.get("description") for output in outputs.values())


def test_the_operator_guide_documents_every_output_alarm_and_script_option(plans: dict[str, Any]) -> None:
    guide = (TERRAFORM_DIR.parent / "README.md").read_text()
    outputs = plans["development"]["configuration"]["root_module"]["outputs"]
    assert not [name for name in outputs if f"`{name}`" not in guide]
    for alarm in planned(plans["development"], "aws_cloudwatch_metric_alarm"):
        assert f"`{alarm['values']['alarm_name'].replace('development', '<env>')}`" in guide
    scripts = TERRAFORM_DIR.parent / "scripts"
    for script in ("deploy.sh", "destroy.sh"):
        documented = set(re.findall(rf"{script}[^\n`]*?(--[a-z-]+)", guide)) | set(
            re.findall(r"`(--skip-[a-z]+)`", guide) if script == "deploy.sh" else []
        )
        assert documented, script
        assert all(option in (scripts / script).read_text() for option in documented), documented


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_raw_contributions_expire_after_the_retention_age_the_api_is_given(
    plans: dict[str, Any], environment: str
) -> None:
    """The S3 rule and the API's sweep (HOKUSAI_RETENTION_DAYS) delete raw contributions at the same age, and
    only objects the platform tagged as raw contributions (an owner's dataset carries no tag)."""
    env = output_value(plans[environment], "task_containers")["api"]["environment"]
    (lifecycle,) = [
        r
        for r in planned(plans[environment], "aws_s3_bucket_lifecycle_configuration")
        if "pipeline_data" in r["index"]
    ]
    (rule,) = [r for r in lifecycle["values"]["rule"] if r["id"] == "expire-raw-contributions"]
    assert rule["expiration"][0]["days"] == int(env["HOKUSAI_RETENTION_DAYS"]) == 365
    (tag,) = rule["filter"][0]["tag"]
    assert (tag["key"], tag["value"]) == ("hokusai-retention", "contribution")
