# RDS PostgreSQL: the platform database and MLflow's backend store (one database; platform
# tables are prefixed hk_). Private subnets only, encrypted, TLS enforced, 7-day backups.

locals {
  db_identifier = local.name
  db_name       = "hokusai"
  db_username   = "hokusai"
  db_major      = split(".", var.db_engine_version)[0]
}

resource "aws_db_subnet_group" "main" {
  name        = local.name
  description = "Private subnets of Hokusai ${var.environment}"
  subnet_ids  = aws_subnet.private[*].id
}

resource "aws_db_parameter_group" "main" {
  name        = "${local.name}-postgres${local.db_major}"
  family      = "postgres${local.db_major}"
  description = "Hokusai ${var.environment}: TLS only, slow and connection logging"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }

  parameter {
    name  = "log_connections"
    value = "1"
  }

  parameter {
    name  = "log_disconnections"
    value = "1"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_db_instance" "main" {
  identifier     = local.db_identifier
  engine         = "postgres"
  engine_version = var.db_engine_version
  instance_class = var.db_instance_class

  db_name  = local.db_name
  username = local.db_username
  password = var.db_password
  port     = 5432

  allocated_storage     = var.db_allocated_storage
  max_allocated_storage = var.db_max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = aws_kms_key.main.arn

  db_subnet_group_name   = aws_db_subnet_group.main.name
  vpc_security_group_ids = [aws_security_group.db.id]
  parameter_group_name   = aws_db_parameter_group.main.name
  publicly_accessible    = false
  multi_az               = local.is_production

  # Backups at 03:00-04:00 UTC, maintenance on Sunday 04:30-05:30 UTC: they never overlap.
  backup_retention_period = 7
  backup_window           = "03:00-04:00"
  maintenance_window      = "sun:04:30-sun:05:30"
  copy_tags_to_snapshot   = true

  auto_minor_version_upgrade          = true
  iam_database_authentication_enabled = true
  enabled_cloudwatch_logs_exports     = ["postgresql", "upgrade"]
  monitoring_interval                 = 60
  monitoring_role_arn                 = aws_iam_role.rds_monitoring.arn
  performance_insights_enabled        = true
  performance_insights_kms_key_id     = aws_kms_key.main.arn

  deletion_protection = local.deletion_protection
  # Production keeps a final snapshot when the instance is destroyed; other environments do not.
  skip_final_snapshot       = !local.is_production
  final_snapshot_identifier = "${local.name}-final"
  apply_immediately         = !local.is_production

  depends_on = [aws_cloudwatch_log_group.rds]
}

# Created before the instance so that Terraform owns (and destroys) the exported logs.
resource "aws_cloudwatch_log_group" "rds" {
  for_each = toset(["postgresql", "upgrade"])

  name              = "/aws/rds/instance/${local.db_identifier}/${each.value}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}
