provider "aws" {
  region = var.aws_region

  default_tags {
    tags = local.tags
  }
}

data "aws_availability_zones" "available" {
  state = "available"
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  # Every name is built from these; the longest environment ("development") keeps every
  # AWS name within its limit (load balancer and target group names: 32 characters).
  name          = "hokusai-${var.environment}"
  is_production = var.environment == "production"
  azs           = slice(data.aws_availability_zones.available.names, 0, var.az_count)

  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # Data protection (RDS and load balancer deletion protection, buckets and image repositories
  # that refuse to be deleted while not empty): on in production unless set explicitly.
  # scripts/destroy.sh turns it off just before `terraform destroy`.
  deletion_protection = coalesce(var.deletion_protection, local.is_production)

  tags = merge(
    {
      Project     = "hokusai"
      Environment = var.environment
      ManagedBy   = "terraform"
    },
    var.tags,
  )
}
