#!/usr/bin/env bash
# Deploy Hokusai to AWS:
#   terraform init (S3 state) -> fmt check -> validate -> [first deploy: create the image
#   repositories] -> build and push both images, tagged by git commit -> plan -> apply with the
#   pushed image digests (after confirmation unless --yes) -> force a new ECS deployment -> wait
#   for stable services -> validate.sh.
#
# Usage: deploy.sh [--yes] [--skip-images] [--skip-rollout] [--skip-validate]
#   --yes            apply without asking
#   --skip-images    do not build or push images (they were pushed with IMAGE_TAG already; their
#                    digests are read from ECR)
#   --skip-rollout   do not force a new ECS deployment nor wait for it
#   --skip-validate  do not run validate.sh at the end (CI runs it as a separate gate)
# Environment: see common.sh, and
#   IMAGE_TAG        tag of both images (default: the current git commit, 12 characters)
#   CONTAINER_CLI    the container engine that builds and pushes (default docker; podman works too)
#   IMAGE_REGISTRY   push to this registry host[:port] instead of ECR's (a stand-in registry for
#                    ECR; the task definitions still name the ECR repositories, by the same digests).
#                    A registry on loopback is spoken to over plain HTTP.
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

CONTAINER_CLI="${CONTAINER_CLI:-docker}"
IMAGE_REGISTRY="${IMAGE_REGISTRY:-}"
REGISTRY_FLAGS=() BUILD_FLAGS=()
if [[ "$(basename "$CONTAINER_CLI")" == podman ]]; then
  BUILD_FLAGS=(--format docker) # keeps the Dockerfiles' HEALTHCHECK (OCI images have none)
  case "$IMAGE_REGISTRY" in      # plain HTTP to a registry on loopback only (docker allows it itself)
    127.* | localhost | localhost:*) REGISTRY_FLAGS=(--tls-verify=false) ;;
  esac
fi

# The digest ECR holds for repository:IMAGE_TAG; fails when that tag was never pushed.
ecr_digest() {
  local digest
  digest="$(aws ecr describe-images --region "$AWS_REGION" --repository-name "$1" \
    --image-ids "imageTag=$IMAGE_TAG" --query 'imageDetails[0].imageDigest' --output text 2>/dev/null)" &&
    [[ "$digest" == sha256:* ]] && echo "$digest"
}

# Push IMAGE:IMAGE_TAG (progress to stderr) and print the digest of the manifest the registry got.
push_image() {
  local image="$1" digest_file digest
  if [[ "$(basename "$CONTAINER_CLI")" == podman ]]; then
    digest_file="$(mktemp)"
    "$CONTAINER_CLI" push "${REGISTRY_FLAGS[@]}" --digestfile "$digest_file" "$image:$IMAGE_TAG" >&2
    digest="$(cat "$digest_file")"
    rm -f "$digest_file"
  else
    "$CONTAINER_CLI" push "$image:$IMAGE_TAG" >&2
    digest="$("$CONTAINER_CLI" image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' \
      "$image:$IMAGE_TAG" | sed -n "s|^$image@||p" | head -n 1)"
  fi
  [[ "$digest" == sha256:* ]] || die "no digest for $image:$IMAGE_TAG after the push"
  echo "$digest"
}

# Build and push both images (or, with --skip-images, look up what ECR holds), then hand their
# digests to Terraform: the task definitions name exactly the images pushed, never a mutable tag.
deploy_images() {
  local build="$1" name repository registry image digest digests=()
  if ! tf state list 2>/dev/null | grep -q '^aws_ecr_repository\.this'; then
    $build || die "--skip-images, but no image repository exists yet: deploy once without it"
    step "first deploy: creating the image repositories"
    tf apply -input=false -auto-approve "${TF_VARS[@]}" -target=aws_ecr_repository.this
  fi
  registry="$(tf output -raw api_repository_url)"
  registry="${IMAGE_REGISTRY:-${registry%%/*}}"
  if $build; then
    aws ecr get-login-password --region "$AWS_REGION" |
      "$CONTAINER_CLI" login "${REGISTRY_FLAGS[@]}" --username AWS --password-stdin "$registry"
  fi
  for name in api mlflow; do
    repository="$(tf output -raw "${name}_repository_url")"
    repository="${repository#*/}"
    image="$registry/$repository"
    if [[ -z "$IMAGE_REGISTRY" ]] && digest="$(ecr_digest "$repository")"; then
      echo "$image:$IMAGE_TAG already pushed as $digest (tags are immutable)"
    elif $build; then
      step "building and pushing $image:$IMAGE_TAG"
      "$CONTAINER_CLI" build "${BUILD_FLAGS[@]}" -f "$REPO_ROOT/docker/$name.Dockerfile" \
        -t "$image:$IMAGE_TAG" "$REPO_ROOT"
      digest="$(push_image "$image")"
      echo "pushed $image@$digest"
    elif [[ -n "$IMAGE_REGISTRY" ]]; then
      echo "--skip-images with IMAGE_REGISTRY: the task definitions name $image by tag $IMAGE_TAG"
      continue
    else
      die "--skip-images, but $repository:$IMAGE_TAG is not in ECR: push it or deploy without --skip-images"
    fi
    digests+=("\"$name\" = \"$digest\"")
  done
  TF_VAR_image_digests="{ $(IFS=,; echo "${digests[*]}") }"
  export TF_VAR_image_digests
}

if $images; then
  deploy_images true
else
  deploy_images false
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
