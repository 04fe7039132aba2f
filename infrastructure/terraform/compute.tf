# ECS on Fargate: the API service behind the load balancer (and, for pipeline runs, inside the VPC
# as api.hokusai-<env>.internal: the runs send unsigned attestations there to be signed), the
# MLflow service reachable only inside the VPC (Cloud Map: mlflow.hokusai-<env>.internal), and the
# pipeline task definition the API starts with ECS RunTask. Both services autoscale on CPU and roll
# back failed deployments.

locals {
  api_port        = 8001
  mlflow_port     = 5000
  pipeline_family = "hokusai-pipeline-${var.environment}"

  mlflow_host         = "mlflow.${local.name}.internal"
  mlflow_internal_url = "http://${local.mlflow_host}:${local.mlflow_port}"
  api_host            = "api.${local.name}.internal"
  api_internal_url    = "http://${local.api_host}:${local.api_port}"
  # Host headers MLflow accepts: what the API sends through service discovery, plus loopback
  # for the container health check.
  mlflow_allowed_hosts = "${local.mlflow_host}:${local.mlflow_port},${local.mlflow_host},localhost:*,127.0.0.1:*"

  # Plain (non-secret) settings shared by the API and pipeline runs.
  app_environment = {
    AWS_DEFAULT_REGION          = var.aws_region
    HOKUSAI_ENVIRONMENT         = var.environment
    HOKUSAI_DATA_DIR            = "/tmp/hokusai"
    HOKUSAI_MLFLOW_URL          = local.mlflow_internal_url
    HOKUSAI_ARTIFACT_ROOT       = local.artifact_root
    HOKUSAI_PIPELINE_DATA_ROOT  = local.pipeline_data_root
    HOKUSAI_PUBLIC_DOMAIN       = local.public_host
    HOKUSAI_JOB_RUNNER          = "ecs"
    HOKUSAI_ECS_CLUSTER         = local.name
    HOKUSAI_ECS_TASK_DEFINITION = local.pipeline_family
    HOKUSAI_ECS_SUBNETS         = join(",", aws_subnet.private[*].id)
    HOKUSAI_ECS_SECURITY_GROUPS = aws_security_group.api.id
    HOKUSAI_CHAIN_ID            = tostring(var.chain_id)
    HOKUSAI_RETENTION_DAYS      = tostring(var.contribution_retention_days)
  }

  # The chain settings are plain: both the API (signs) and runs (record the domain in the report).
  chain_environment = var.delta_verifier_address == null ? {} : { HOKUSAI_DELTA_VERIFIER_ADDRESS = var.delta_verifier_address }

  # The API's attesters: KMS key aliases (no key material), or the signer-key secret (secrets.tf).
  attester_environment = local.kms_attesters ? {
    HOKUSAI_ATTESTER_KMS_KEY_IDS = join(",", local.attester_aliases)
    HOKUSAI_ATTESTER_THRESHOLD   = tostring(var.attester_threshold)
  } : {}

  task_environment = {
    api = merge(
      local.app_environment, local.chain_environment, local.attester_environment,
      # the load balancer sits in the VPC: its X-Forwarded-For names the client
      { HOKUSAI_API_HOST = "0.0.0.0", HOKUSAI_API_PORT = tostring(local.api_port), HOKUSAI_FORWARDED_ALLOW_IPS = var.vpc_cidr },
    )
    pipeline = merge(local.app_environment, local.chain_environment, { HOKUSAI_SIGNER_URL = local.api_internal_url }, local.dask_environment) # dask.tf
    mlflow   = { AWS_DEFAULT_REGION = var.aws_region }
  }

  task_command = {
    api      = ["hokusai", "serve", "--host", "0.0.0.0", "--port", tostring(local.api_port)]
    pipeline = ["hokusai", "worker", "run"] # the API overrides it with worker run <id>
    mlflow = [
      "mlflow", "server",
      "--host", "0.0.0.0",
      "--port", tostring(local.mlflow_port),
      "--workers", tostring(var.mlflow_workers),
      "--serve-artifacts",
      "--artifacts-destination", local.artifact_root,
      "--allowed-hosts", local.mlflow_allowed_hosts,
    ]
  }

  # By digest when deploy.sh pushed the images (what runs is exactly what was pushed), else by tag.
  repository_image = {
    for key in ["api", "mlflow"] : key => (
      contains(keys(var.image_digests), key)
      ? "${aws_ecr_repository.this[key].repository_url}@${var.image_digests[key]}"
      : "${aws_ecr_repository.this[key].repository_url}:${var.image_tag}"
    )
  }
  task_image = {
    api      = local.repository_image["api"]
    pipeline = local.repository_image["api"]
    mlflow   = local.repository_image["mlflow"]
  }

  task_log_group = {
    api      = aws_cloudwatch_log_group.api.name
    pipeline = aws_cloudwatch_log_group.api.name
    mlflow   = aws_cloudwatch_log_group.mlflow.name
  }

  # One container per task. The root filesystem is read-only; /tmp is a task-local volume.
  container_base = {
    for task in ["api", "pipeline", "mlflow"] : task => {
      name                   = task
      image                  = local.task_image[task]
      essential              = true
      command                = local.task_command[task]
      environment            = [for key in sort(keys(local.task_environment[task])) : { name = key, value = local.task_environment[task][key] }]
      secrets                = [for env, secret in local.task_secrets[task] : { name = env, valueFrom = aws_secretsmanager_secret.this[secret].arn }]
      readonlyRootFilesystem = true
      mountPoints            = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
      stopTimeout            = 30
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = local.task_log_group[task]
          awslogs-region        = var.aws_region
          awslogs-stream-prefix = task
        }
      }
    }
  }

  # Services listen on a port and report health; a pipeline run does neither.
  container_serving = {
    for task, port in { api = local.api_port, mlflow = local.mlflow_port } : task => {
      portMappings          = [{ containerPort = port, protocol = "tcp" }]
      healthCheck = {
        command     = ["CMD", "python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:${port}/health', timeout=4).status != 200)"]
        interval    = 30
        timeout     = 5
        retries     = 3
        startPeriod = 60
      }
    }
  }

  containers = {
    api      = merge(local.container_base.api, local.container_serving.api)
    pipeline = local.container_base.pipeline
    mlflow   = merge(local.container_base.mlflow, local.container_serving.mlflow)
  }

  task_size = {
    api      = { cpu = var.api_cpu, memory = var.api_memory, role = aws_iam_role.api_task.arn, family = "hokusai-api-${var.environment}" }
    pipeline = { cpu = var.pipeline_cpu, memory = var.pipeline_memory, role = aws_iam_role.pipeline_task.arn, family = local.pipeline_family }
    mlflow   = { cpu = var.mlflow_cpu, memory = var.mlflow_memory, role = aws_iam_role.mlflow_task.arn, family = "hokusai-mlflow-${var.environment}" }
  }
}

resource "aws_ecs_cluster" "main" {
  name = local.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_ecs_task_definition" "this" {
  for_each = local.task_size

  family                   = each.value.family
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = each.value.role
  container_definitions    = jsonencode([local.containers[each.key]])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = "tmp"
  }
}

# ---------------------------------------------------------------------------------------------
# Private service discovery (Cloud Map): MLflow (no load balancer), and the API for pipeline runs
# ---------------------------------------------------------------------------------------------

resource "aws_service_discovery_private_dns_namespace" "main" {
  name        = "${local.name}.internal"
  description = "Private names of Hokusai ${var.environment} services"
  vpc         = aws_vpc.main.id
}

moved {
  from = aws_service_discovery_service.mlflow
  to   = aws_service_discovery_service.this["mlflow"]
}

resource "aws_service_discovery_service" "this" {
  for_each = toset(["mlflow", "api"])

  name = each.key

  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.main.id
    routing_policy = "MULTIVALUE"

    dns_records {
      type = "A"
      ttl  = 10
    }
  }

  # ECS reports task health (the container health check) to Cloud Map.
  health_check_custom_config {
    failure_threshold = 1
  }
}

# ---------------------------------------------------------------------------------------------
# Services
# ---------------------------------------------------------------------------------------------

resource "aws_ecs_service" "api" {
  name             = "hokusai-api"
  cluster          = aws_ecs_cluster.main.id
  task_definition  = aws_ecs_task_definition.this["api"].arn
  desired_count    = var.api_desired_count
  launch_type      = "FARGATE"
  platform_version = "LATEST"

  health_check_grace_period_seconds  = 90
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.api.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.api.arn
    container_name   = "api"
    container_port   = local.api_port
  }

  # Pipeline runs reach the API's signing endpoint at api.hokusai-<env>.internal (HOKUSAI_SIGNER_URL).
  service_registries {
    registry_arn = aws_service_discovery_service.this["api"].arn
  }

  # Autoscaling owns the running count between api_desired_count and api_max_count.
  lifecycle {
    ignore_changes = [desired_count]
  }

  # A target group must be attached to the load balancer before a service can use it.
  depends_on = [aws_lb_listener_rule.this]
}

resource "aws_ecs_service" "mlflow" {
  name             = "hokusai-mlflow"
  cluster          = aws_ecs_cluster.main.id
  task_definition  = aws_ecs_task_definition.this["mlflow"].arn
  desired_count    = var.mlflow_desired_count
  launch_type      = "FARGATE"
  platform_version = "LATEST"

  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.mlflow.id]
    assign_public_ip = false
  }

  service_registries {
    registry_arn = aws_service_discovery_service.this["mlflow"].arn
  }

  lifecycle {
    ignore_changes = [desired_count]
  }
}

# ---------------------------------------------------------------------------------------------
# Autoscaling: target tracking on average CPU
# ---------------------------------------------------------------------------------------------

locals {
  scaling = {
    api    = { service = aws_ecs_service.api.name, min = var.api_desired_count, max = max(var.api_max_count, var.api_desired_count) }
    mlflow = { service = aws_ecs_service.mlflow.name, min = var.mlflow_desired_count, max = max(var.mlflow_max_count, var.mlflow_desired_count) }
  }
}

resource "aws_appautoscaling_target" "this" {
  for_each = local.scaling

  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${aws_ecs_cluster.main.name}/${each.value.service}"
  min_capacity       = each.value.min
  max_capacity       = each.value.max
}

resource "aws_appautoscaling_policy" "cpu" {
  for_each = aws_appautoscaling_target.this

  name               = "${local.name}-${each.key}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = each.value.service_namespace
  scalable_dimension = each.value.scalable_dimension
  resource_id        = each.value.resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.autoscaling_cpu_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}
