output "environment" {
  description = "Deployment environment."
  value       = var.environment
}

output "aws_region" {
  description = "Region everything was created in."
  value       = var.aws_region
}

output "api_endpoint" {
  description = "Public base URL of the API (https with a certificate, else http on the load balancer)."
  value       = local.api_endpoint
}

output "mlflow_endpoint" {
  description = "MLflow through the API's authenticated proxy: MLFLOW_TRACKING_URI for clients (token = an API key)."
  value       = "${local.api_endpoint}/mlflow"
}

output "mlflow_internal_url" {
  description = "Private URL of the MLflow service inside the VPC (what the API proxies to)."
  value       = local.mlflow_internal_url
}

output "api_internal_url" {
  description = "Private URL of the API inside the VPC: pipeline runs' HOKUSAI_SIGNER_URL (they send unsigned attestations there)."
  value       = local.api_internal_url
}

output "attester_key_aliases" {
  description = "KMS aliases of the attester keys (ECC_SECG_P256K1; the API may only kms:Sign with them). Empty: the signer-key secret signs."
  value       = local.attester_aliases
}

output "load_balancer_dns_name" {
  description = "DNS name of the public load balancer (point var.domain_name here with a CNAME or alias)."
  value       = aws_lb.public.dns_name
}

output "mlflow_artifacts_bucket" {
  description = "Bucket of MLflow artifacts."
  value       = aws_s3_bucket.this["mlflow_artifacts"].bucket
}

output "pipeline_data_bucket" {
  description = "Bucket of pipeline data (contributions)."
  value       = aws_s3_bucket.this["pipeline_data"].bucket
}

output "ecs_cluster_name" {
  description = "ECS cluster."
  value       = aws_ecs_cluster.main.name
}

output "api_service_name" {
  description = "ECS service of the API."
  value       = aws_ecs_service.api.name
}

output "mlflow_service_name" {
  description = "ECS service of MLflow."
  value       = aws_ecs_service.mlflow.name
}

output "pipeline_task_definition" {
  description = "Task definition family of pipeline runs (ECS RunTask)."
  value       = aws_ecs_task_definition.this["pipeline"].family
}

output "db_instance_identifier" {
  description = "RDS instance identifier (what validate looks the database up by)."
  value       = aws_db_instance.main.identifier
}

output "db_endpoint" {
  description = "Private address of the database (reachable from the tasks only)."
  value       = aws_db_instance.main.address
}

output "api_log_group" {
  description = "CloudWatch log group of the API (and of pipeline runs, stream prefix pipeline/)."
  value       = aws_cloudwatch_log_group.api.name
}

output "mlflow_log_group" {
  description = "CloudWatch log group of MLflow."
  value       = aws_cloudwatch_log_group.mlflow.name
}

output "alerts_topic_arn" {
  description = "SNS topic every alarm notifies."
  value       = aws_sns_topic.alerts.arn
}

output "alarm_names" {
  description = "Names of the CloudWatch alarms."
  value       = sort(values(local.alarm_names))
}

output "dashboard_name" {
  description = "CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.main.dashboard_name
}

output "api_repository_url" {
  description = "ECR repository of the API image."
  value       = aws_ecr_repository.this["api"].repository_url
}

output "mlflow_repository_url" {
  description = "ECR repository of the MLflow image."
  value       = aws_ecr_repository.this["mlflow"].repository_url
}

output "secret_names" {
  description = "Secrets Manager secrets (names; values never leave Secrets Manager)."
  value       = local.secret_names
}

output "deletion_protection" {
  description = "Whether data protection is on (destroy.sh turns it off before destroying)."
  value       = local.deletion_protection
}

output "task_containers" {
  description = "What each task runs: image, command, plain environment, and secrets (variable => secret name). No secret values: Terraform refuses a sensitive value in this output."
  value = {
    for task, container in local.containers : task => {
      image       = container.image
      command     = container.command
      environment = { for item in container.environment : item.name => item.value }
      secrets     = { for env, secret in local.task_secrets[task] : env => local.secret_names[secret] }
    }
  }
}
