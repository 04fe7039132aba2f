#!/usr/bin/env bash
# Deploy Hokusai to AWS:
#   terraform init (S3 state) -> fmt check -> validate -> [first deploy: create the image
#   repositories] -> build and push both images -> plan -> apply (after confirmation unless --yes)
#   -> force a new ECS deployment -> wait for stable services -> validate.sh.
#
# Usage: deploy.sh [--yes] [--skip-images] [--skip-rollout] [--skip-validate]
#   --yes            apply without asking
#   --skip-images    do not build or push images (they were pushed with IMAGE_TAG already)
#   --skip-rollout   do not force a new ECS deployment nor wait for it
#   --skip-validate  do not run validate.sh at the end (CI runs it as a separate gate)
# Environment: see common.sh; IMAGE_TAG defaults to the current git commit.
set -euo pipefail
# shellcheck source=SCRIPTDIR/common.sh
source "$(dirname "$0")/common.sh"

assume_yes=false images=true rollout=true validate=true
for arg in "$@"; do
  case "$arg" in
    --yes) assume_yes=true ;;
    --skip-images) images=false ;;
    --skip-rollout) rollout=false ;;
    --skip-validate) validate=false ;;
    *) die "unknown option $arg (see the header of $0)" ;;
  esac
done

check_environment
export_secret_vars
set_tf_vars
IMAGE_TAG="${IMAGE_TAG:-$(git -C "$REPO_ROOT" rev-parse --short=12 HEAD 2>/dev/null || true)}"
[[ -n "$IMAGE_TAG" ]] || die "IMAGE_TAG is not set and $REPO_ROOT is not a git checkout to take the commit from"
export TF_VAR_image_tag="$IMAGE_TAG"

step "terraform init (state: s3://$TF_STATE_BUCKET/hokusai/$ENVIRONMENT.tfstate)"
tf_init

step "terraform fmt -check"
tf fmt -check -recursive

step "terraform validate"
tf validate

push_images() {
  local name repository registry
  if ! tf state list 2>/dev/null | grep -q '^aws_ecr_repository\.this'; then
    step "first deploy: creating the image repositories"
    tf apply -input=false -auto-approve "${TF_VARS[@]}" -target=aws_ecr_repository.this
  fi
  registry="$(tf output -raw api_repository_url)"
  registry="${registry%%/*}"
  aws ecr get-login-password --region "$AWS_REGION" | docker login --username AWS --password-stdin "$registry"
  for name in api mlflow; do
    repository="$(tf output -raw "${name}_repository_url")"
    if aws ecr describe-images --region "$AWS_REGION" --repository-name "${repository#*/}" \
      --image-ids "imageTag=$IMAGE_TAG" >/dev/null 2>&1; then
      echo "$repository:$IMAGE_TAG already pushed (tags are immutable)"
      continue
    fi
    step "building and pushing $repository:$IMAGE_TAG"
    docker build -f "$REPO_ROOT/docker/$name.Dockerfile" -t "$repository:$IMAGE_TAG" "$REPO_ROOT"
    docker push "$repository:$IMAGE_TAG"
  done
}

if $images; then
  push_images
fi

step "terraform plan"
tf plan -input=false "${TF_VARS[@]}" -out=tfplan

if ! $assume_yes; then
  confirm "Apply this plan to '$ENVIRONMENT'? Type yes:" yes
fi

step "terraform apply"
tf apply -input=false tfplan
rm -f "$TF_DIR/tfplan"

if $rollout; then
  cluster="$(tf output -raw ecs_cluster_name)"
  services=("$(tf output -raw api_service_name)" "$(tf output -raw mlflow_service_name)")
  step "forcing a new deployment of ${services[*]}"
  for service in "${services[@]}"; do
    aws ecs update-service --region "$AWS_REGION" --cluster "$cluster" --service "$service" \
      --force-new-deployment >/dev/null
  done
  step "waiting for the services to be stable"
  aws ecs wait services-stable --region "$AWS_REGION" --cluster "$cluster" --services "${services[@]}"
fi

if $validate; then
  step "validating the deployment"
  "$SCRIPTS_DIR/validate.sh"
fi
echo "deployed $ENVIRONMENT: $(tf output -raw api_endpoint)"
