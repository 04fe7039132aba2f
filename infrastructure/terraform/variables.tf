# ---------------------------------------------------------------------------------------------
# Environment
# ---------------------------------------------------------------------------------------------

variable "environment" {
  type        = string
  description = "Deployment environment; part of every name (cluster hokusai-<env>, buckets hokusai-*-<env>)."

  validation {
    condition     = contains(["development", "staging", "production"], var.environment)
    error_message = "environment must be one of: development, staging, production."
  }
}

variable "aws_region" {
  type        = string
  description = "AWS region to deploy to (scripts take it from AWS_REGION)."
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.aws_region))
    error_message = "aws_region must look like us-east-1."
  }
}

variable "tags" {
  type        = map(string)
  description = "Extra tags added to every resource (Project, Environment and ManagedBy are always set)."
  default     = {}
}

variable "deletion_protection" {
  type        = bool
  description = "Protect data from deletion (RDS and ALB deletion protection; buckets and image repositories are not force-emptied). Null means: on in production only."
  default     = null
}

# ---------------------------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------------------------

variable "vpc_cidr" {
  type        = string
  description = "CIDR block of the VPC; public and private /20 subnets are carved from it."
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) <= 18
    error_message = "vpc_cidr must be a valid IPv4 CIDR block of /18 or larger."
  }
}

variable "az_count" {
  type        = number
  description = "Number of availability zones to spread subnets over (2 or 3)."
  default     = 2

  validation {
    condition     = contains([2, 3], var.az_count)
    error_message = "az_count must be 2 or 3."
  }
}

variable "single_nat_gateway" {
  type        = bool
  description = "One NAT gateway for all private subnets (cheaper, one AZ is a single point of failure) instead of one per AZ."
  default     = false
}

# ---------------------------------------------------------------------------------------------
# Load balancer
# ---------------------------------------------------------------------------------------------

variable "certificate_arn" {
  type        = string
  description = "ACM certificate ARN for the HTTPS listener. Null: the HTTP listener serves the API directly (no redirect)."
  default     = null

  validation {
    condition     = var.certificate_arn == null || can(regex("^arn:aws[a-z-]*:acm:", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN (arn:aws:acm:...)."
  }
}

variable "domain_name" {
  type        = string
  description = "Public domain name pointing at the load balancer (DNS managed outside Terraform). Null: the load balancer's DNS name is used."
  default     = null

  validation {
    condition     = var.domain_name == null || can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$", var.domain_name))
    error_message = "domain_name must be a lower-case DNS name such as hokusai.example.org."
  }
}

# ---------------------------------------------------------------------------------------------
# Compute
# ---------------------------------------------------------------------------------------------

variable "image_tag" {
  type        = string
  description = "Tag of both images in ECR (deploy.sh uses the git commit; tags are immutable)."
  default     = "latest"

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag))
    error_message = "image_tag must be a valid Docker tag."
  }
}

variable "image_digests" {
  type        = map(string)
  description = "Digest (sha256:...) of each pushed image, by repository key (api, mlflow); deploy.sh passes what it pushed. A task definition names its image by digest when one is given, else by image_tag."
  default     = {}

  validation {
    condition     = alltrue([for key, digest in var.image_digests : contains(["api", "mlflow"], key) && can(regex("^sha256:[0-9a-f]{64}$", digest))])
    error_message = "image_digests maps api and mlflow to digests sha256:<64 hex digits>."
  }
}

variable "api_desired_count" {
  type        = number
  description = "API tasks to run; also the autoscaling minimum."
  default     = 2

  validation {
    condition     = var.api_desired_count >= 1 && var.api_desired_count <= 20
    error_message = "api_desired_count must be between 1 and 20."
  }
}

variable "api_max_count" {
  type        = number
  description = "Upper bound of API autoscaling on CPU."
  default     = 6

  validation {
    condition     = var.api_max_count >= 1 && var.api_max_count <= 50
    error_message = "api_max_count must be between 1 and 50."
  }
}

variable "mlflow_desired_count" {
  type        = number
  description = "MLflow tasks to run; also the autoscaling minimum."
  default     = 1

  validation {
    condition     = var.mlflow_desired_count >= 1 && var.mlflow_desired_count <= 10
    error_message = "mlflow_desired_count must be between 1 and 10."
  }
}

variable "mlflow_max_count" {
  type        = number
  description = "Upper bound of MLflow autoscaling on CPU."
  default     = 3

  validation {
    condition     = var.mlflow_max_count >= 1 && var.mlflow_max_count <= 20
    error_message = "mlflow_max_count must be between 1 and 20."
  }
}

variable "autoscaling_cpu_target" {
  type        = number
  description = "Average CPU utilisation (percent) that target tracking keeps each service at."
  default     = 60

  validation {
    condition     = var.autoscaling_cpu_target >= 10 && var.autoscaling_cpu_target <= 90
    error_message = "autoscaling_cpu_target must be between 10 and 90."
  }
}

variable "api_cpu" {
  type        = number
  description = "CPU units of an API task (1024 = 1 vCPU)."
  default     = 512

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096], var.api_cpu)
    error_message = "api_cpu must be a Fargate CPU size: 256, 512, 1024, 2048 or 4096."
  }
}

variable "api_memory" {
  type        = number
  description = "Memory (MiB) of an API task; must be valid for api_cpu on Fargate."
  default     = 1024

  validation {
    condition     = var.api_memory >= 512 && var.api_memory <= 30720
    error_message = "api_memory must be between 512 and 30720 MiB."
  }
}

variable "mlflow_cpu" {
  type        = number
  description = "CPU units of an MLflow task (1024 = 1 vCPU)."
  default     = 512

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096], var.mlflow_cpu)
    error_message = "mlflow_cpu must be a Fargate CPU size: 256, 512, 1024, 2048 or 4096."
  }
}

variable "mlflow_memory" {
  type        = number
  description = "Memory (MiB) of an MLflow task; must be valid for mlflow_cpu on Fargate."
  default     = 1024

  validation {
    condition     = var.mlflow_memory >= 512 && var.mlflow_memory <= 30720
    error_message = "mlflow_memory must be between 512 and 30720 MiB."
  }
}

variable "mlflow_workers" {
  type        = number
  description = "Worker processes of each MLflow server (mlflow server --workers)."
  default     = 2

  validation {
    condition     = var.mlflow_workers >= 1 && var.mlflow_workers <= 16
    error_message = "mlflow_workers must be between 1 and 16."
  }
}

variable "pipeline_cpu" {
  type        = number
  description = "CPU units of a pipeline run task (ECS RunTask started by the API)."
  default     = 1024

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096], var.pipeline_cpu)
    error_message = "pipeline_cpu must be a Fargate CPU size: 256, 512, 1024, 2048 or 4096."
  }
}

variable "pipeline_memory" {
  type        = number
  description = "Memory (MiB) of a pipeline run task; must be valid for pipeline_cpu on Fargate."
  default     = 4096

  validation {
    condition     = var.pipeline_memory >= 512 && var.pipeline_memory <= 30720
    error_message = "pipeline_memory must be between 512 and 30720 MiB."
  }
}

# ---------------------------------------------------------------------------------------------
# Database
# ---------------------------------------------------------------------------------------------

variable "db_instance_class" {
  type        = string
  description = "RDS instance class of the PostgreSQL database (platform and MLflow backend store)."
  default     = "db.t4g.micro"

  validation {
    condition     = can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", var.db_instance_class))
    error_message = "db_instance_class must look like db.t4g.micro."
  }
}

variable "db_engine_version" {
  type        = string
  description = "PostgreSQL engine version (major, e.g. 16, or major.minor); the parameter group family follows the major."
  default     = "16"

  validation {
    condition     = can(regex("^1[3-9](\\.[0-9]+)?$", var.db_engine_version))
    error_message = "db_engine_version must be a PostgreSQL version from 13 on, e.g. 16 or 16.4."
  }
}

variable "db_allocated_storage" {
  type        = number
  description = "Initial storage of the database in GiB (gp3)."
  default     = 20

  validation {
    condition     = var.db_allocated_storage >= 20 && var.db_allocated_storage <= 1000
    error_message = "db_allocated_storage must be between 20 and 1000 GiB."
  }
}

variable "db_max_allocated_storage" {
  type        = number
  description = "Storage autoscaling ceiling in GiB."
  default     = 100

  validation {
    condition     = var.db_max_allocated_storage >= 20 && var.db_max_allocated_storage <= 65536
    error_message = "db_max_allocated_storage must be between 20 and 65536 GiB."
  }
}

variable "db_password" {
  type        = string
  description = "Master password of the database (scripts take it from DATABASE_PASSWORD). Stored in Secrets Manager inside the database URL."
  sensitive   = true

  validation {
    condition     = length(var.db_password) >= 16 && length(var.db_password) <= 128 && can(regex("^[A-Za-z0-9!#$%&*+,.:;<=>?^_~-]+$", var.db_password))
    error_message = "db_password must be 16-128 characters of letters, digits and !#$%&*+,.:;<=>?^_~- (RDS forbids / @ \" and spaces)."
  }
}

# ---------------------------------------------------------------------------------------------
# Application secrets
# ---------------------------------------------------------------------------------------------

variable "api_secret_key" {
  type        = string
  description = "Bootstrap admin API key hk_live_<key_id>_<secret> (scripts take it from API_SECRET_KEY). Only its id and SHA-256 reach AWS."
  sensitive   = true

  validation {
    condition     = can(regex("^hk_(live|test)_[a-z0-9]{8,32}_[A-Za-z0-9]{32,128}$", var.api_secret_key))
    error_message = "api_secret_key must be hk_live_<key_id>_<secret>: an id of 8-32 lowercase letters/digits and a secret of 32-128 letters/digits (`hokusai keys generate` prints one)."
  }
}

# ---------------------------------------------------------------------------------------------
# Attesters and the chain (attestations and mint requests)
# ---------------------------------------------------------------------------------------------

variable "attester_keys" {
  type        = number
  description = "Number of AWS KMS attester keys (ECC_SECG_P256K1, SIGN_VERIFY; the API may only kms:Sign with them). 0 keeps the development-style signer key in Secrets Manager instead. Null means: 1, and 0 in development."
  default     = null

  validation {
    condition     = var.attester_keys == null || (try(var.attester_keys >= 0 && var.attester_keys <= 10 && floor(var.attester_keys) == var.attester_keys, false))
    error_message = "attester_keys must be a whole number from 0 to 10."
  }

  validation {
    condition     = var.environment != "production" || var.attester_keys == null || try(var.attester_keys >= 1, false)
    error_message = "production signs with KMS attesters only: attester_keys must be at least 1."
  }
}

variable "attester_threshold" {
  type        = number
  description = "Attester signatures a mint request carries (m of the attester_keys; at most the contract's threshold)."
  default     = 1

  validation {
    condition     = var.attester_threshold >= 1 && floor(var.attester_threshold) == var.attester_threshold
    error_message = "attester_threshold must be a whole number of at least 1."
  }

  validation {
    condition     = var.attester_threshold <= max(1, coalesce(var.attester_keys, var.environment == "development" ? 0 : 1))
    error_message = "attester_threshold must not exceed the number of attester keys (attester_keys)."
  }
}

variable "chain_id" {
  type        = number
  description = "EIP-155 chain id of the attestation and mint-request signatures (HOKUSAI_CHAIN_ID)."
  default     = 1

  validation {
    condition     = var.chain_id >= 1 && floor(var.chain_id) == var.chain_id
    error_message = "chain_id must be a positive whole number."
  }
}

variable "delta_verifier_address" {
  type        = string
  description = "Address of the DeltaVerifier contract (HOKUSAI_DELTA_VERIFIER_ADDRESS); mint requests need it. Null: not configured."
  default     = null

  validation {
    condition     = var.delta_verifier_address == null || can(regex("^0x[0-9a-fA-F]{40}$", var.delta_verifier_address))
    error_message = "delta_verifier_address must be 0x followed by 40 hex digits."
  }
}

# ---------------------------------------------------------------------------------------------
# Monitoring
# ---------------------------------------------------------------------------------------------

variable "log_retention_days" {
  type        = number
  description = "Retention of the ECS, database and VPC flow log groups."
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value (1, 3, 5, 7, 14, 30, 60, 90, ..., 3653)."
  }
}

variable "contribution_retention_days" {
  type        = number
  description = "Days a raw contribution is kept after its last evaluation: the API's HOKUSAI_RETENTION_DAYS and the age of the S3 lifecycle rule that expires objects tagged hokusai-retention=contribution."
  default     = 365

  validation {
    condition     = var.contribution_retention_days >= 1 && var.contribution_retention_days == floor(var.contribution_retention_days)
    error_message = "contribution_retention_days must be a whole number of days, at least 1 (S3 expiration counts whole days)."
  }
}

variable "alarm_email" {
  type        = string
  description = "E-mail address subscribed to the alerts topic (confirm the subscription mail). Null: no subscription."
  default     = null

  validation {
    condition     = var.alarm_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alarm_email))
    error_message = "alarm_email must be an e-mail address."
  }
}

variable "alarm_5xx_rate_percent" {
  type        = number
  description = "Alarm when 5xx responses exceed this percentage of API requests over 5 minutes."
  default     = 5

  validation {
    condition     = var.alarm_5xx_rate_percent > 0 && var.alarm_5xx_rate_percent <= 100
    error_message = "alarm_5xx_rate_percent must be in (0, 100]."
  }
}

variable "alarm_db_cpu_percent" {
  type        = number
  description = "Alarm when the database's CPU stays above this percentage for 15 minutes."
  default     = 80

  validation {
    condition     = var.alarm_db_cpu_percent > 0 && var.alarm_db_cpu_percent <= 100
    error_message = "alarm_db_cpu_percent must be in (0, 100]."
  }
}

# -------------------------------------------------------------------------------------------------
# Optional Dask cluster for contributor valuation (dask.tf)
# -------------------------------------------------------------------------------------------------

variable "dask_enabled" {
  type        = bool
  description = "Run a Dask scheduler and workers as ECS services; pipeline runs send their valuation retrains there."
  default     = false
}

variable "dask_worker_count" {
  type        = number
  description = "Dask worker tasks (each runs one single-threaded worker process per vCPU)."
  default     = 2

  validation {
    condition     = var.dask_worker_count >= 1 && var.dask_worker_count <= 100 && floor(var.dask_worker_count) == var.dask_worker_count
    error_message = "dask_worker_count must be a whole number from 1 to 100."
  }
}

variable "dask_worker_cpu" {
  type        = number
  description = "CPU units of a Dask worker task (1024 = 1 vCPU; one worker process per vCPU)."
  default     = 2048

  validation {
    condition     = contains([1024, 2048, 4096, 8192, 16384], var.dask_worker_cpu)
    error_message = "dask_worker_cpu must be a Fargate size of whole vCPUs: 1024, 2048, 4096, 8192 or 16384."
  }
}

variable "dask_worker_memory" {
  type        = number
  description = "Memory (MiB) of a Dask worker task: it holds the base data, the benchmark and the contributions."
  default     = 8192
}

variable "dask_scheduler_cpu" {
  type        = number
  description = "CPU units of the Dask scheduler task."
  default     = 512
}

variable "dask_scheduler_memory" {
  type        = number
  description = "Memory (MiB) of the Dask scheduler task."
  default     = 1024
}
