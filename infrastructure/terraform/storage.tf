# S3: MLflow artifacts and pipeline data (contributions). Both versioned, KMS-encrypted, closed
# to the public, TLS-only, with lifecycle rules. ECR: one repository per image.

locals {
  bucket_names = {
    mlflow_artifacts = "hokusai-mlflow-artifacts-${var.environment}"
    pipeline_data    = "hokusai-pipeline-data-${var.environment}"
  }

  # Current objects move to infrequent access after this many days; old versions expire.
  bucket_lifecycle = {
    mlflow_artifacts = { prefix = "mlflow/", infrequent_after_days = 90, noncurrent_expire_days = 90 }
    pipeline_data    = { prefix = "contributions/", infrequent_after_days = 30, noncurrent_expire_days = 30 }
  }

  artifact_root      = "s3://${local.bucket_names.mlflow_artifacts}/mlflow"
  pipeline_data_root = "s3://${local.bucket_names.pipeline_data}/contributions"
}

resource "aws_s3_bucket" "this" {
  for_each = local.bucket_names

  bucket = each.value
  # With data protection on, a bucket that still holds objects is not deleted.
  force_destroy = !local.deletion_protection
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.main.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each = aws_s3_bucket.this

  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id

  rule {
    id     = "tier-and-expire-old-versions"
    status = "Enabled"

    filter {
      prefix = local.bucket_lifecycle[each.key].prefix
    }

    transition {
      days          = local.bucket_lifecycle[each.key].infrequent_after_days
      storage_class = "STANDARD_IA"
    }

    noncurrent_version_expiration {
      noncurrent_days = local.bucket_lifecycle[each.key].noncurrent_expire_days
    }
  }

  # Raw contributions (tagged by the platform, which re-tags them after each evaluation so that the age
  # counts from the last one) expire after the retention age, their old versions a day later: the same
  # rule as the API's retention sweep, enforced by S3 even when no API runs.
  dynamic "rule" {
    for_each = each.key == "pipeline_data" ? [1] : []

    content {
      id     = "expire-raw-contributions"
      status = "Enabled"

      # the tag alone: the platform sets it only on raw contributions (never on an owner's dataset)
      filter {
        tag {
          key   = "hokusai-retention"
          value = "contribution"
        }
      }

      expiration {
        days = var.contribution_retention_days
      }

      noncurrent_version_expiration {
        noncurrent_days = 1
      }
    }
  }

  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"

    filter {
      prefix = ""
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

data "aws_iam_policy_document" "bucket_tls_only" {
  for_each = local.bucket_names

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [local.bucket_arns[each.key], "${local.bucket_arns[each.key]}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  policy = data.aws_iam_policy_document.bucket_tls_only[each.key].json

  depends_on = [aws_s3_bucket_public_access_block.this]
}

# ---------------------------------------------------------------------------------------------
# ECR
# ---------------------------------------------------------------------------------------------

locals {
  repositories = {
    api    = "hokusai-api-${var.environment}"
    mlflow = "hokusai-mlflow-${var.environment}"
  }
}

resource "aws_ecr_repository" "this" {
  for_each = local.repositories

  name                 = each.value
  image_tag_mutability = "IMMUTABLE"
  force_delete         = !local.deletion_protection

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.main.arn
  }
}

resource "aws_ecr_lifecycle_policy" "this" {
  for_each = aws_ecr_repository.this

  repository = each.value.name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Expire untagged images after 7 days"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = 7
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Keep the 30 most recent images"
        selection = {
          tagStatus   = "any"
          countType   = "imageCountMoreThan"
          countNumber = 30
        }
        action = { type = "expire" }
      },
    ]
  })
}
