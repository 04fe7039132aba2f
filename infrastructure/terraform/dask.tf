# Optional Dask cluster for contributor valuation (var.dask_enabled, default false): a scheduler
# service reachable inside the VPC as dask-scheduler.hokusai-<env>.internal:8786 (Cloud Map) and
# a worker service, both plain Fargate services on the platform's own image (the workers need the
# hokusai package to run a retrain). Pipeline runs get HOKUSAI_DASK_SCHEDULER pointing at it.
# Only pipeline/API tasks may reach the scheduler; scheduler and workers talk among themselves.
# Dask ships pickled tasks between its processes: keep the cluster private to these tasks.

locals {
  dask_count          = var.dask_enabled ? 1 : 0
  dask_scheduler_port = 8786
  dask_scheduler_host = "dask-scheduler.${local.name}.internal"
  dask_scheduler_url  = "tcp://${local.dask_scheduler_host}:${local.dask_scheduler_port}"

  # Merged into the pipeline task's environment (empty when the cluster is off).
  dask_environment = var.dask_enabled ? { HOKUSAI_DASK_SCHEDULER = local.dask_scheduler_url } : {}

  dask_command = {
    scheduler = [
      "dask", "scheduler",
      "--port", tostring(local.dask_scheduler_port),
      "--no-dashboard", "--no-show",
    ]
    # One single-threaded worker process per vCPU: each valuation retrain runs on one thread.
    worker = [
      "dask", "worker", local.dask_scheduler_url,
      "--nworkers", tostring(floor(var.dask_worker_cpu / 1024)),
      "--nthreads", "1",
      "--memory-limit", "auto",
      "--local-directory", "/tmp/dask",
      "--no-dashboard",
    ]
  }

  dask_size = {
    scheduler = { cpu = var.dask_scheduler_cpu, memory = var.dask_scheduler_memory }
    worker    = { cpu = var.dask_worker_cpu, memory = var.dask_worker_memory }
  }
}

resource "aws_cloudwatch_log_group" "dask" {
  count             = local.dask_count
  name              = "/ecs/hokusai/dask/${var.environment}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_security_group" "dask" {
  count       = local.dask_count
  name        = "${local.name}-dask"
  description = "Dask scheduler and workers: scheduler port from pipeline tasks, all ports among themselves"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-dask" }
}

resource "aws_security_group_rule" "dask_from_pipeline" {
  count                    = local.dask_count
  type                     = "ingress"
  description              = "Dask scheduler port from API and pipeline tasks"
  security_group_id        = aws_security_group.dask[0].id
  protocol                 = "tcp"
  from_port                = local.dask_scheduler_port
  to_port                  = local.dask_scheduler_port
  source_security_group_id = aws_security_group.api.id
}

resource "aws_security_group_rule" "dask_within_in" {
  count                    = local.dask_count
  type                     = "ingress"
  description              = "Scheduler and workers among themselves (worker ports are ephemeral)"
  security_group_id        = aws_security_group.dask[0].id
  protocol                 = "tcp"
  from_port                = 1024
  to_port                  = 65535
  source_security_group_id = aws_security_group.dask[0].id
}

resource "aws_security_group_rule" "dask_within_out" {
  count                    = local.dask_count
  type                     = "egress"
  description              = "Scheduler and workers among themselves"
  security_group_id        = aws_security_group.dask[0].id
  protocol                 = "tcp"
  from_port                = 1024
  to_port                  = 65535
  source_security_group_id = aws_security_group.dask[0].id
}

resource "aws_security_group_rule" "dask_https_out" {
  count             = local.dask_count
  type              = "egress"
  description       = "HTTPS to AWS APIs through NAT (ECR image pulls, CloudWatch Logs)"
  security_group_id = aws_security_group.dask[0].id
  protocol          = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_blocks       = ["0.0.0.0/0"]
}

resource "aws_security_group_rule" "pipeline_to_dask" {
  count                    = local.dask_count
  type                     = "egress"
  description              = "Dask scheduler (valuation retrains)"
  security_group_id        = aws_security_group.api.id
  protocol                 = "tcp"
  from_port                = local.dask_scheduler_port
  to_port                  = local.dask_scheduler_port
  source_security_group_id = aws_security_group.dask[0].id
}

resource "aws_security_group_rule" "pipeline_to_dask_workers" {
  count                    = local.dask_count
  type                     = "egress"
  description              = "Dask workers (the client scatters the retrain problem to them)"
  security_group_id        = aws_security_group.api.id
  protocol                 = "tcp"
  from_port                = 1024
  to_port                  = 65535
  source_security_group_id = aws_security_group.dask[0].id
}

resource "aws_security_group_rule" "dask_workers_from_pipeline" {
  count                    = local.dask_count
  type                     = "ingress"
  description              = "Worker ports from the pipeline task that scatters the problem"
  security_group_id        = aws_security_group.dask[0].id
  protocol                 = "tcp"
  from_port                = 1024
  to_port                  = 65535
  source_security_group_id = aws_security_group.api.id
}

resource "aws_ecs_task_definition" "dask" {
  for_each = var.dask_enabled ? local.dask_size : {}

  family                   = "hokusai-dask-${each.key}-${var.environment}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = aws_iam_role.execution.arn
  container_definitions = jsonencode([{
    name                   = "dask-${each.key}"
    image                  = local.task_image.api
    essential              = true
    command                = local.dask_command[each.key]
    environment            = [{ name = "DASK_DISTRIBUTED__WORKER__DAEMON", value = "False" }]
    readonlyRootFilesystem = true
    mountPoints            = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
    stopTimeout            = 30
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.dask[0].name
        awslogs-region        = var.aws_region
        awslogs-stream-prefix = "dask-${each.key}"
      }
    }
  }])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = "tmp"
  }
}

resource "aws_service_discovery_service" "dask_scheduler" {
  count = local.dask_count
  name  = "dask-scheduler"

  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.main.id
    routing_policy = "MULTIVALUE"

    dns_records {
      type = "A"
      ttl  = 10
    }
  }

  health_check_custom_config {
    failure_threshold = 1
  }
}

resource "aws_ecs_service" "dask" {
  for_each = var.dask_enabled ? { scheduler = 1, worker = var.dask_worker_count } : {}

  name             = "hokusai-dask-${each.key}"
  cluster          = aws_ecs_cluster.main.id
  task_definition  = aws_ecs_task_definition.dask[each.key].arn
  desired_count    = each.value
  launch_type      = "FARGATE"
  platform_version = "LATEST"

  enable_ecs_managed_tags = true
  propagate_tags          = "SERVICE"

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.dask[0].id]
    assign_public_ip = false
  }

  dynamic "service_registries" {
    for_each = each.key == "scheduler" ? [aws_service_discovery_service.dask_scheduler[0].arn] : []
    content {
      registry_arn = service_registries.value
    }
  }
}
