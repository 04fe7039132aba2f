# The MLflow tracking server image. The backend store comes from MLFLOW_BACKEND_STORE_URI (mlflow
# server reads that variable; on ECS it is injected from Secrets Manager; its default here, SQLite in
# /tmp, lets the image start alone on a read-only root); artifacts are served by
# the server itself (--serve-artifacts) from --artifacts-destination (s3://... on AWS). ECS passes
# the full command; the CMD below is for a local run. Build from the repository root:
#   docker build -f docker/mlflow.Dockerfile -t hokusai-mlflow .
FROM python:3.11-slim-bookworm

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MLFLOW_BACKEND_STORE_URI=sqlite:////tmp/mlflow.db

COPY docker/constraints.txt /tmp/constraints.txt
# The tested MLflow, the PostgreSQL driver of the backend store URI (postgresql+psycopg://), boto3 for S3.
RUN pip install --constraint /tmp/constraints.txt "mlflow==3.17.2" "psycopg[binary]==3.3.9" "boto3==1.44.8" \
    && rm /tmp/constraints.txt

# tini as PID 1: a Python process there ignores SIGTERM (the kernel drops signals PID 1 has no handler
# for), so ECS's stop (SIGTERM, then SIGKILL after stopTimeout) would always end in a kill. tini passes
# the signal to the server's whole process group (-g) and reaps what it leaves.
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tini=0.19.0-1+b3 \
    && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
ENTRYPOINT ["/usr/bin/tini", "-g", "--"]

RUN groupadd --system --gid 10001 mlflow \
    && useradd --system --uid 10001 --gid mlflow --home-dir /home/mlflow --create-home mlflow

# ECS mounts a task volume at /tmp (the root filesystem is read-only there). Declared as a VOLUME,
# the mount starts with the image's /tmp and its mode (1777), so the non-root user can write to it.
VOLUME ["/tmp"]

USER 10001:10001
WORKDIR /home/mlflow
EXPOSE 5000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:5000/health', timeout=4).status != 200)"]

CMD ["mlflow", "server", "--host", "0.0.0.0", "--port", "5000", "--workers", "1", "--serve-artifacts", "--artifacts-destination", "/tmp/mlartifacts"]
