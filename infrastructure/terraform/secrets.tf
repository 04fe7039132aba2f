# Secrets Manager holds every sensitive value a task needs; tasks receive them through ECS
# `secrets` (resolved by the execution role at start), never as plain environment variables.
# One customer-managed KMS key encrypts the secrets, buckets, logs, topic, images and database.

locals {
  secret_prefix = "hokusai/${var.environment}"

  # The signer key exists only without KMS attesters (attesters.tf): then no plaintext key is at rest.
  secret_names = merge(
    {
      database_url             = "${local.secret_prefix}/database-url"
      bootstrap_admin_key_hash = "${local.secret_prefix}/bootstrap-admin-key-hash"
      webhook_key              = "${local.secret_prefix}/webhook-key"
      session_key              = "${local.secret_prefix}/session-key"
    },
    local.kms_attesters ? {} : { signer_key = "${local.secret_prefix}/signer-key" },
  )

  # Environment variable => secret (key of local.secret_names), per task. The platform and MLflow
  # share one PostgreSQL database (platform tables are prefixed hk_), hence one URL secret.
  # Pipeline runs never get a signing key: the API signs (HOKUSAI_SIGNER_URL).
  task_secrets = {
    api = merge(
      {
        HOKUSAI_DATABASE_URL             = "database_url"
        HOKUSAI_BOOTSTRAP_ADMIN_KEY_HASH = "bootstrap_admin_key_hash"
        HOKUSAI_WEBHOOK_KEY              = "webhook_key"
        HOKUSAI_SESSION_KEY              = "session_key"
      },
      local.kms_attesters ? {} : { HOKUSAI_SIGNER_KEY = "signer_key" },
    )
    pipeline = {
      HOKUSAI_DATABASE_URL = "database_url"
    }
    mlflow = {
      MLFLOW_BACKEND_STORE_URI = "database_url"
    }
  }

  # `hk_live_<key_id>_<secret>` => "<key_id>:<sha256 hex of the full key>": what the API stores.
  bootstrap_admin_key_hash = "${split("_", var.api_secret_key)[2]}:${sha256(var.api_secret_key)}"

  # psycopg 3 driver name: understood by both the platform (SQLAlchemy) and MLflow.
  database_url = format(
    "postgresql+psycopg://%s:%s@%s:%d/%s?sslmode=require",
    local.db_username, urlencode(var.db_password), aws_db_instance.main.address, aws_db_instance.main.port, local.db_name,
  )
}

resource "aws_kms_key" "main" {
  description             = "Hokusai ${var.environment}: secrets, buckets, logs, alerts topic, images, database"
  enable_key_rotation     = true
  deletion_window_in_days = local.is_production ? 30 : 7
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "main" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.main.key_id
}

data "aws_iam_policy_document" "kms" {
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogsEncrypt"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${var.aws_region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${var.aws_region}:${local.account_id}:log-group:*"]
    }
  }

  statement {
    sid       = "CloudWatchAlarmsPublishToEncryptedTopic"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
  }

  # Tasks use the key only through Secrets Manager (execution role) and S3 (task roles).
  statement {
    sid       = "TasksThroughSecretsManagerAndS3"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type = "AWS"
      identifiers = [
        aws_iam_role.execution.arn,
        aws_iam_role.api_task.arn,
        aws_iam_role.pipeline_task.arn,
        aws_iam_role.mlflow_task.arn,
      ]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${var.aws_region}.amazonaws.com", "s3.${var.aws_region}.amazonaws.com"]
    }
  }
}

resource "aws_secretsmanager_secret" "this" {
  for_each = local.secret_names

  name        = each.value
  description = "Hokusai ${var.environment}: ${replace(each.key, "_", " ")}"
  kms_key_id  = aws_kms_key.main.arn
  # Outside production a destroyed environment can be deployed again at once.
  recovery_window_in_days = local.is_production ? 7 : 0
}

resource "aws_secretsmanager_secret_version" "database_url" {
  secret_id     = aws_secretsmanager_secret.this["database_url"].id
  secret_string = local.database_url
}

resource "aws_secretsmanager_secret_version" "bootstrap_admin_key_hash" {
  secret_id     = aws_secretsmanager_secret.this["bootstrap_admin_key_hash"].id
  secret_string = local.bootstrap_admin_key_hash
}

# The development-style attestation signer key (secp256k1, 32 bytes hex; only without KMS
# attesters) is derived once, at creation, from a Secrets Manager random password; ignore_changes
# keeps it stable across later applies (the data source yields a new password on every read).
# Rotation: see the operator guide.
data "aws_secretsmanager_random_password" "signer_seed" {
  count = local.kms_attesters ? 0 : 1

  password_length     = 64
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret_version" "signer_key" {
  count = local.kms_attesters ? 0 : 1

  secret_id     = aws_secretsmanager_secret.this["signer_key"].id
  secret_string = sha256(data.aws_secretsmanager_random_password.signer_seed[0].random_password)

  lifecycle {
    ignore_changes = [secret_string]
  }
}

# The Fernet key that encrypts webhook signing secrets in the database (HOKUSAI_WEBHOOK_KEY: 32 bytes,
# url-safe base64), derived once from a random password like the signer key and kept across applies:
# a new key would make every stored webhook secret unreadable (owners would register them again).
data "aws_secretsmanager_random_password" "webhook_seed" {
  password_length     = 64
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret_version" "webhook_key" {
  secret_id     = aws_secretsmanager_secret.this["webhook_key"].id
  secret_string = replace(replace(base64sha256(data.aws_secretsmanager_random_password.webhook_seed.random_password), "+", "-"), "/", "_")

  lifecycle {
    ignore_changes = [secret_string]
  }
}

# The key that signs the results pages' session cookies (HOKUSAI_SESSION_KEY; production refuses to start
# without one): a random secret, kept across applies (a new one signs everyone out of /ui/, nothing more).
data "aws_secretsmanager_random_password" "session_seed" {
  password_length     = 64
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret_version" "session_key" {
  secret_id     = aws_secretsmanager_secret.this["session_key"].id
  secret_string = data.aws_secretsmanager_random_password.session_seed.random_password

  lifecycle {
    ignore_changes = [secret_string]
  }
}
