# The Hokusai API image: `hokusai serve` (applies migrations, then serves the API on 8001; MLflow
# runs elsewhere, at HOKUSAI_MLFLOW_URL). Pipeline runs use the same image with the command
# `hokusai pipeline run --run-id <id>`. Build from the repository root:
#   docker build -f docker/api.Dockerfile -t hokusai-api .
FROM python:3.11-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
RUN python -m venv /opt/venv
COPY docker/constraints.txt pyproject.toml README.md ./
COPY src ./src
# Every dependency at the exact version the test suite ran with.
RUN /opt/venv/bin/pip install --constraint constraints.txt .

FROM python:3.11-slim-bookworm

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOKUSAI_API_HOST=0.0.0.0 \
    HOKUSAI_API_PORT=8001 \
    HOKUSAI_DATA_DIR=/tmp/hokusai

# tini as PID 1: a Python process there ignores SIGTERM (the kernel drops signals PID 1 has no handler
# for), so ECS's stop (SIGTERM, then SIGKILL after stopTimeout) would always end in a kill. tini passes
# the signal to the server's whole process group (-g) and reaps what it leaves.
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tini=0.19.0-1+b3 \
    && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
ENTRYPOINT ["/usr/bin/tini", "-g", "--"]

RUN groupadd --system --gid 10001 hokusai \
    && useradd --system --uid 10001 --gid hokusai --home-dir /home/hokusai --create-home hokusai

COPY --from=build /opt/venv /opt/venv

# ECS mounts a task volume at /tmp (the root filesystem is read-only there). Declared as a VOLUME,
# the mount starts with the image's /tmp and its mode (1777), so the non-root user can write to it.
VOLUME ["/tmp"]

USER 10001:10001
WORKDIR /home/hokusai
EXPOSE 8001

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8001/health', timeout=4).status != 200)"]

CMD ["hokusai", "serve", "--host", "0.0.0.0", "--port", "8001"]
