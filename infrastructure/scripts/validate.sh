#!/usr/bin/env bash
# Check a deployed environment: API /health and /ready, MLflow through the API's proxy, both
# buckets, the database, the ECS services and the alarms (hokusai infra validate). Exits non-zero
# when any check fails, so CI uses it as a gate.
#
# Usage: AWS_REGION=... ENVIRONMENT=... API_SECRET_KEY=... validate.sh [hokusai infra validate options]
# (e.g. --json). The Terraform folder must be initialised (deploy.sh does it).
set -euo pipefail
# shellcheck source=SCRIPTDIR/common.sh
source "$(dirname "$0")/common.sh"

check_environment
require_env API_SECRET_KEY
# The key reaches the CLI through the environment, not the command line.
HOKUSAI_API_KEY="$API_SECRET_KEY" hokusai_cli infra validate --terraform-dir "$TF_DIR" "$@"
