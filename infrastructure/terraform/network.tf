# VPC over var.az_count zones: public subnets (load balancer, NAT gateways) and private subnets
# (ECS tasks, RDS). Private subnets reach the internet (ECR, S3, Secrets Manager, CloudWatch)
# through NAT: one per zone, or a single one when var.single_nat_gateway is set.

locals {
  nat_gateway_count = var.single_nat_gateway ? 1 : var.az_count
}

resource "aws_vpc" "main" {
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = { Name = local.name }
}

# Deny everything on the default security group: every resource gets its own group.
resource "aws_default_security_group" "default" {
  vpc_id = aws_vpc.main.id

  tags = { Name = "${local.name}-default-deny" }
}

resource "aws_subnet" "public" {
  count = var.az_count

  vpc_id            = aws_vpc.main.id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.vpc_cidr, 4, count.index)

  tags = { Name = "${local.name}-public-${local.azs[count.index]}", Tier = "public" }
}

resource "aws_subnet" "private" {
  count = var.az_count

  vpc_id            = aws_vpc.main.id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.vpc_cidr, 4, 8 + count.index)

  tags = { Name = "${local.name}-private-${local.azs[count.index]}", Tier = "private" }
}

resource "aws_internet_gateway" "main" {
  vpc_id = aws_vpc.main.id

  tags = { Name = local.name }
}

resource "aws_eip" "nat" {
  count = local.nat_gateway_count

  domain = "vpc"

  tags = { Name = "${local.name}-nat-${count.index}" }

  depends_on = [aws_internet_gateway.main]
}

resource "aws_nat_gateway" "main" {
  count = local.nat_gateway_count

  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = aws_subnet.public[count.index].id

  tags = { Name = "${local.name}-nat-${count.index}" }
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.main.id

  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.main.id
  }

  tags = { Name = "${local.name}-public" }
}

resource "aws_route_table_association" "public" {
  count = var.az_count

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

# One private route table per zone, each through the NAT gateway of its zone (or the single one).
resource "aws_route_table" "private" {
  count = var.az_count

  vpc_id = aws_vpc.main.id

  route {
    cidr_block     = "0.0.0.0/0"
    nat_gateway_id = aws_nat_gateway.main[min(count.index, local.nat_gateway_count - 1)].id
  }

  tags = { Name = "${local.name}-private-${local.azs[count.index]}" }
}

resource "aws_route_table_association" "private" {
  count = var.az_count

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}

# VPC flow logs (rejected and accepted traffic) for troubleshooting security group rules.
resource "aws_cloudwatch_log_group" "flow_logs" {
  name              = "/vpc/hokusai/flow-logs/${var.environment}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_flow_log" "main" {
  vpc_id               = aws_vpc.main.id
  traffic_type         = "ALL"
  log_destination_type = "cloud-watch-logs"
  log_destination      = aws_cloudwatch_log_group.flow_logs.arn
  iam_role_arn         = aws_iam_role.flow_logs.arn

  tags = { Name = "${local.name}-flow-logs" }
}

# ---------------------------------------------------------------------------------------------
# Security groups: the load balancer takes 80/443 from the internet; API tasks take 8001 only
# from the load balancer and from pipeline runs (same group, for signing); MLflow tasks take 5000
# only from API (and pipeline) tasks; the
# database takes 5432 only from tasks. Egress is limited to what each part needs.
# ---------------------------------------------------------------------------------------------

resource "aws_security_group" "alb" {
  name        = "${local.name}-alb"
  description = "Public load balancer: HTTP/HTTPS from the internet, to API tasks only"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-alb" }
}

resource "aws_security_group" "api" {
  name        = "${local.name}-api"
  description = "API and pipeline tasks: API port from the load balancer only"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-api" }
}

resource "aws_security_group" "mlflow" {
  name        = "${local.name}-mlflow"
  description = "MLflow tasks: MLflow port from API and pipeline tasks only"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-mlflow" }
}

resource "aws_security_group" "db" {
  name        = "${local.name}-db"
  description = "PostgreSQL: 5432 from API, pipeline and MLflow tasks only"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-db" }
}

resource "aws_security_group_rule" "alb_http_in" {
  type              = "ingress"
  description       = "HTTP from the internet (forwards to the API, or redirects to HTTPS with a certificate)"
  security_group_id = aws_security_group.alb.id
  protocol          = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_blocks       = ["0.0.0.0/0"]
}

resource "aws_security_group_rule" "alb_https_in" {
  type              = "ingress"
  description       = "HTTPS from the internet"
  security_group_id = aws_security_group.alb.id
  protocol          = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_blocks       = ["0.0.0.0/0"]
}

resource "aws_security_group_rule" "alb_to_api" {
  type                     = "egress"
  description              = "Requests and health checks to API tasks"
  security_group_id        = aws_security_group.alb.id
  protocol                 = "tcp"
  from_port                = local.api_port
  to_port                  = local.api_port
  source_security_group_id = aws_security_group.api.id
}

resource "aws_security_group_rule" "api_from_alb" {
  type                     = "ingress"
  description              = "API port from the load balancer"
  security_group_id        = aws_security_group.api.id
  protocol                 = "tcp"
  from_port                = local.api_port
  to_port                  = local.api_port
  source_security_group_id = aws_security_group.alb.id
}

# Pipeline runs use the API's security group (HOKUSAI_ECS_SECURITY_GROUPS): these two rules let a
# run reach the API's port inside the group, for the signing endpoint (HOKUSAI_SIGNER_URL).
resource "aws_security_group_rule" "api_from_pipeline_runs" {
  type              = "ingress"
  description       = "API port from pipeline run tasks (signing endpoint)"
  security_group_id = aws_security_group.api.id
  protocol          = "tcp"
  from_port         = local.api_port
  to_port           = local.api_port
  self              = true
}

resource "aws_security_group_rule" "pipeline_runs_to_api" {
  type              = "egress"
  description       = "Pipeline run tasks to the API port (signing endpoint, through service discovery)"
  security_group_id = aws_security_group.api.id
  protocol          = "tcp"
  from_port         = local.api_port
  to_port           = local.api_port
  self              = true
}

resource "aws_security_group_rule" "api_to_mlflow" {
  type                     = "egress"
  description              = "MLflow tracking server (private, through service discovery)"
  security_group_id        = aws_security_group.api.id
  protocol                 = "tcp"
  from_port                = local.mlflow_port
  to_port                  = local.mlflow_port
  source_security_group_id = aws_security_group.mlflow.id
}

resource "aws_security_group_rule" "api_to_db" {
  type                     = "egress"
  description              = "PostgreSQL"
  security_group_id        = aws_security_group.api.id
  protocol                 = "tcp"
  from_port                = 5432
  to_port                  = 5432
  source_security_group_id = aws_security_group.db.id
}

resource "aws_security_group_rule" "api_https_out" {
  type              = "egress"
  description       = "HTTPS to AWS APIs through NAT (ECR, S3, Secrets Manager, CloudWatch Logs, ECS RunTask)"
  security_group_id = aws_security_group.api.id
  protocol          = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_blocks       = ["0.0.0.0/0"]
}

resource "aws_security_group_rule" "mlflow_from_api" {
  type                     = "ingress"
  description              = "MLflow port from API and pipeline tasks"
  security_group_id        = aws_security_group.mlflow.id
  protocol                 = "tcp"
  from_port                = local.mlflow_port
  to_port                  = local.mlflow_port
  source_security_group_id = aws_security_group.api.id
}

resource "aws_security_group_rule" "mlflow_to_db" {
  type                     = "egress"
  description              = "PostgreSQL (MLflow backend store)"
  security_group_id        = aws_security_group.mlflow.id
  protocol                 = "tcp"
  from_port                = 5432
  to_port                  = 5432
  source_security_group_id = aws_security_group.db.id
}

resource "aws_security_group_rule" "mlflow_https_out" {
  type              = "egress"
  description       = "HTTPS to AWS APIs through NAT (ECR, S3 artifacts, Secrets Manager, CloudWatch Logs)"
  security_group_id = aws_security_group.mlflow.id
  protocol          = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_blocks       = ["0.0.0.0/0"]
}

resource "aws_security_group_rule" "db_from_api" {
  type                     = "ingress"
  description              = "PostgreSQL from API and pipeline tasks"
  security_group_id        = aws_security_group.db.id
  protocol                 = "tcp"
  from_port                = 5432
  to_port                  = 5432
  source_security_group_id = aws_security_group.api.id
}

resource "aws_security_group_rule" "db_from_mlflow" {
  type                     = "ingress"
  description              = "PostgreSQL from MLflow tasks"
  security_group_id        = aws_security_group.db.id
  protocol                 = "tcp"
  from_port                = 5432
  to_port                  = 5432
  source_security_group_id = aws_security_group.mlflow.id
}
