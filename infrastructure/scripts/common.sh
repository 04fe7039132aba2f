# shellcheck shell=bash
# Shared by deploy.sh, validate.sh and destroy.sh (sourced, not run).
#
# Reads from the environment:
#   AWS_REGION          region to deploy to (required)
#   ENVIRONMENT         development | staging | production (required)
#   DATABASE_PASSWORD   RDS master password (deploy/destroy)
#   API_SECRET_KEY      bootstrap admin API key hk_live_<key_id>_<secret> (deploy/destroy/validate)
#   TF_STATE_BUCKET     state bucket (default hokusai-terraform-state-<env>)
#   TF_BACKEND_CONFIG   optional file of extra S3 backend settings (e.g. a role to assume)
#   TF_DIR              Terraform folder (default: ../terraform beside this script)
#   HOKUSAI_SOURCE_DIR  checkout the images are built from and tagged by (default: the one holding this script)

SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${HOKUSAI_SOURCE_DIR:-$SCRIPTS_DIR/../..}" && pwd)"
TF_DIR="${TF_DIR:-$SCRIPTS_DIR/../terraform}"

die() {
  echo "error: $*" >&2
  exit 2
}

step() {
  printf '\n==> %s\n' "$*"
}

require_env() {
  local name
  for name in "$@"; do
    [[ -n "${!name:-}" ]] || die "$name is not set (see infrastructure/README.md, 'Prerequisites')"
  done
}

check_environment() {
  require_env AWS_REGION ENVIRONMENT
  case "$ENVIRONMENT" in
    development | staging | production) ;;
    *) die "ENVIRONMENT must be development, staging or production (got '$ENVIRONMENT')" ;;
  esac
  export AWS_REGION
  TF_STATE_BUCKET="${TF_STATE_BUCKET:-hokusai-terraform-state-$ENVIRONMENT}"
}

# Secrets reach Terraform as TF_VAR_* variables: never on a command line, never in a file.
export_secret_vars() {
  require_env DATABASE_PASSWORD API_SECRET_KEY
  export TF_VAR_db_password="$DATABASE_PASSWORD"
  export TF_VAR_api_secret_key="$API_SECRET_KEY"
}

# -var arguments for plan/apply/destroy: environment, region, and <env>.tfvars when present.
TF_VARS=()
set_tf_vars() {
  TF_VARS=(-var "environment=$ENVIRONMENT" -var "aws_region=$AWS_REGION")
  if [[ -f "$TF_DIR/$ENVIRONMENT.tfvars" ]]; then
    TF_VARS+=(-var-file "$ENVIRONMENT.tfvars")
  fi
}

tf() {
  terraform -chdir="$TF_DIR" "$@"
}

# State in s3://$TF_STATE_BUCKET/hokusai/<env>.tfstate, locked with a lock file beside it.
tf_init() {
  local args=(
    -input=false -reconfigure
    -backend-config="bucket=$TF_STATE_BUCKET"
    -backend-config="key=hokusai/$ENVIRONMENT.tfstate"
    -backend-config="region=$AWS_REGION"
    -backend-config="encrypt=true"
    -backend-config="use_lockfile=true"
  )
  if [[ -n "${TF_BACKEND_CONFIG:-}" ]]; then
    [[ -f "$TF_BACKEND_CONFIG" ]] || die "TF_BACKEND_CONFIG=$TF_BACKEND_CONFIG is not a file"
    args+=(-backend-config="$TF_BACKEND_CONFIG")
  fi
  tf init "${args[@]}"
}

# The hokusai CLI: on PATH, else the repository's virtualenv.
hokusai_cli() {
  if command -v hokusai >/dev/null 2>&1; then
    hokusai "$@"
  elif [[ -x "$REPO_ROOT/.venv/bin/hokusai" ]]; then
    "$REPO_ROOT/.venv/bin/hokusai" "$@"
  else
    die "the hokusai CLI is not installed: run 'make install' at the repository root"
  fi
}

confirm() {
  local prompt="$1" expected="$2" answer
  read -r -p "$prompt " answer
  [[ "$answer" == "$expected" ]] || die "not confirmed; nothing changed"
}
