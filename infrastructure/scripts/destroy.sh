#!/usr/bin/env bash
# Destroy a Hokusai environment. Asks to type the environment name unless --yes. When data
# protection is on (production by default), it is switched off first with a targeted apply, so
# the destroy can succeed; production still keeps a final database snapshot (hokusai-production-final).
# The state bucket is kept.
#
# Usage: destroy.sh [--yes]   (environment: see common.sh)
set -euo pipefail
# shellcheck source=SCRIPTDIR/common.sh
source "$(dirname "$0")/common.sh"

assume_yes=false
for arg in "$@"; do
  case "$arg" in
    --yes) assume_yes=true ;;
    *) die "unknown option $arg (usage: destroy.sh [--yes])" ;;
  esac
done

check_environment
export_secret_vars
set_tf_vars

if ! $assume_yes; then
  confirm "This destroys every resource of '$ENVIRONMENT' (buckets and their data included). Type the environment name to go on:" "$ENVIRONMENT"
fi

step "terraform init (state: s3://$TF_STATE_BUCKET/hokusai/$ENVIRONMENT.tfstate)"
tf_init

if [[ "$(tf output -raw deletion_protection 2>/dev/null || echo false)" == "true" ]]; then
  step "turning data protection off"
  tf apply -input=false -auto-approve "${TF_VARS[@]}" -var deletion_protection=false \
    -target=aws_db_instance.main -target=aws_lb.public \
    -target=aws_s3_bucket.this -target=aws_ecr_repository.this
fi

step "terraform destroy"
tf destroy -input=false -auto-approve "${TF_VARS[@]}" -var deletion_protection=false
echo "destroyed $ENVIRONMENT"
