# Roles: the ECS execution role (pull images, write logs, read the tasks' secrets), one task role
# for the API (buckets, starting pipeline runs, kms:Sign with the attester keys), one for pipeline
# runs (buckets only: no signer secret, no attester key, no RunTask, no PassRole), one for MLflow,
# and two service roles (flow logs, RDS enhanced monitoring). Policies name resources by ARNs
# built from known names (attester keys by their aliases), so every policy is complete at plan
# time and can be checked before anything is created.

locals {
  arn_iam_role  = "arn:${local.partition}:iam::${local.account_id}:role"
  arn_ecs       = "arn:${local.partition}:ecs:${var.aws_region}:${local.account_id}"
  cluster_arn   = "${local.arn_ecs}:cluster/${local.name}"
  bucket_arns   = { for key, bucket in local.bucket_names : key => "arn:${local.partition}:s3:::${bucket}" }
  secret_arn_of = { for key, name in local.secret_names : key => "arn:${local.partition}:secretsmanager:${var.aws_region}:${local.account_id}:secret:${name}-??????" }

  # Every secret any task references (keys of local.secret_names).
  referenced_secrets = distinct(flatten([for task, secrets in local.task_secrets : values(secrets)]))

  role_names = {
    execution     = "${local.name}-ecs-execution"
    api_task      = "${local.name}-api-task"
    pipeline_task = "${local.name}-pipeline-task"
    mlflow_task   = "${local.name}-mlflow-task"
  }
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# ---------------------------------------------------------------------------------------------
# Execution role
# ---------------------------------------------------------------------------------------------

resource "aws_iam_role" "execution" {
  name               = local.role_names.execution
  description        = "ECS execution role of Hokusai ${var.environment}: images, logs, task secrets"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy_attachment" "execution_managed" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "execution_secrets" {
  statement {
    sid       = "ReadTaskSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [for key in local.referenced_secrets : local.secret_arn_of[key]]
  }
}

resource "aws_iam_role_policy" "execution_secrets" {
  name   = "read-task-secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution_secrets.json
}

# ---------------------------------------------------------------------------------------------
# Task roles of the API and of pipeline runs (which the API starts with ECS RunTask)
# ---------------------------------------------------------------------------------------------

# What both need: the platform's buckets (data, artifacts).
data "aws_iam_policy_document" "buckets" {
  statement {
    sid       = "ListBuckets"
    actions   = ["s3:ListBucket", "s3:ListBucketVersions", "s3:GetBucketLocation"]
    resources = values(local.bucket_arns)
  }

  statement {
    sid       = "ReadWriteObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = [for arn in values(local.bucket_arns) : "${arn}/*"]
  }

  # Withdrawal deletes every version of a raw contribution; retention tags them (storage.tf's rule).
  statement {
    sid       = "EraseAndTagRawContributions"
    actions   = ["s3:DeleteObjectVersion", "s3:GetObjectTagging", "s3:PutObjectTagging", "s3:DeleteObjectTagging"]
    resources = ["${local.bucket_arns.pipeline_data}/*"]
  }
}

resource "aws_iam_role" "api_task" {
  name               = local.role_names.api_task
  description        = "Hokusai ${var.environment} API tasks: buckets, pipeline runs, attester signatures"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "api_task" {
  source_policy_documents = [data.aws_iam_policy_document.buckets.json]

  statement {
    sid       = "StartPipelineRuns"
    actions   = ["ecs:RunTask"]
    resources = ["${local.arn_ecs}:task-definition/${local.pipeline_family}:*"]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [local.cluster_arn]
    }
  }

  statement {
    sid       = "WatchPipelineRuns"
    actions   = ["ecs:DescribeTasks", "ecs:StopTask"]
    resources = ["${local.arn_ecs}:task/${local.name}/*"]
  }

  statement {
    sid       = "TagPipelineRuns"
    actions   = ["ecs:TagResource"]
    resources = ["${local.arn_ecs}:task/${local.name}/*"]

    condition {
      test     = "StringEquals"
      variable = "ecs:CreateAction"
      values   = ["RunTask"]
    }
  }

  statement {
    sid       = "PassPipelineRoles"
    actions   = ["iam:PassRole"]
    resources = ["${local.arn_iam_role}/${local.role_names.execution}", "${local.arn_iam_role}/${local.role_names.pipeline_task}"]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }

  # Sign only, and only with the attester keys (named by their aliases: key ARNs are not known
  # before the keys exist). No GetPublicKey, no Decrypt: the address comes from signatures.
  dynamic "statement" {
    for_each = local.kms_attesters ? [local.attester_aliases] : []

    content {
      sid       = "SignWithAttesterKeys"
      actions   = ["kms:Sign"]
      resources = ["arn:${local.partition}:kms:${var.aws_region}:${local.account_id}:key/*"]

      condition {
        test     = "ForAnyValue:StringEquals"
        variable = "kms:ResourceAliases"
        values   = statement.value
      }
    }
  }
}

resource "aws_iam_role_policy" "api_task" {
  name   = "buckets-pipeline-runs-attesters"
  role   = aws_iam_role.api_task.id
  policy = data.aws_iam_policy_document.api_task.json
}

resource "aws_iam_role" "pipeline_task" {
  name               = local.role_names.pipeline_task
  description        = "Hokusai ${var.environment} pipeline runs: buckets only (no signing, no secrets)"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy" "pipeline_task" {
  name   = "buckets"
  role   = aws_iam_role.pipeline_task.id
  policy = data.aws_iam_policy_document.buckets.json
}

# ---------------------------------------------------------------------------------------------
# MLflow task role
# ---------------------------------------------------------------------------------------------

resource "aws_iam_role" "mlflow_task" {
  name               = local.role_names.mlflow_task
  description        = "Hokusai ${var.environment} MLflow tasks: artifact bucket"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "mlflow_task" {
  statement {
    sid       = "ListArtifactBucket"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [local.bucket_arns.mlflow_artifacts]
  }

  statement {
    sid       = "ReadWriteArtifacts"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = ["${local.bucket_arns.mlflow_artifacts}/*"]
  }
}

resource "aws_iam_role_policy" "mlflow_task" {
  name   = "artifact-bucket"
  role   = aws_iam_role.mlflow_task.id
  policy = data.aws_iam_policy_document.mlflow_task.json
}

# ---------------------------------------------------------------------------------------------
# Service roles
# ---------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "flow_logs_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "flow_logs" {
  name               = "${local.name}-flow-logs"
  description        = "VPC flow logs of Hokusai ${var.environment} to CloudWatch Logs"
  assume_role_policy = data.aws_iam_policy_document.flow_logs_assume.json
}

data "aws_iam_policy_document" "flow_logs" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["arn:${local.partition}:logs:${var.aws_region}:${local.account_id}:log-group:/vpc/hokusai/flow-logs/${var.environment}:*"]
  }
}

resource "aws_iam_role_policy" "flow_logs" {
  name   = "write-flow-logs"
  role   = aws_iam_role.flow_logs.id
  policy = data.aws_iam_policy_document.flow_logs.json
}

data "aws_iam_policy_document" "rds_monitoring_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "rds_monitoring" {
  name               = "${local.name}-rds-monitoring"
  description        = "RDS enhanced monitoring of Hokusai ${var.environment}"
  assume_role_policy = data.aws_iam_policy_document.rds_monitoring_assume.json
}

resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  role       = aws_iam_role.rds_monitoring.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}
