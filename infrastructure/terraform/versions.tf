terraform {
  # 1.10 is the first release whose S3 backend locks with a lock file in the bucket (use_lockfile).
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }

  # Configured at init time (see scripts/deploy.sh):
  #   terraform init -backend-config="bucket=hokusai-terraform-state-<env>" \
  #     -backend-config="key=hokusai/<env>.tfstate" -backend-config="region=<region>" \
  #     -backend-config="use_lockfile=true" -backend-config="encrypt=true"
  backend "s3" {}
}
