# A stand-in for the MinIO image (`minio/minio`) where Docker Hub cannot be reached (this project's CI):
# moto's S3 server (the version docker/constraints.txt pins) on the stand-in python:3.11-slim-bookworm base.
# It takes MinIO's command as docker/compose.yaml gives it (`server /data`) and answers S3 on port 9000 with
# any credentials. Unlike MinIO it keeps objects in memory only: a restarted stand-in starts empty.
# Production uses MinIO or S3 itself; this one is chosen by S3_IMAGE (with S3_HEALTHCHECK). Build from the root:
#   podman build -f docker/stand-ins/s3.Dockerfile -t localhost/hokusai-stand-in-s3:moto .
FROM python:3.11-slim-bookworm

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1

COPY docker/constraints.txt /tmp/constraints.txt
RUN pip install --constraint /tmp/constraints.txt "moto[s3,server]" && rm /tmp/constraints.txt

COPY --chmod=0755 docker/stand-ins/s3-entrypoint.sh /usr/local/bin/s3-entrypoint

RUN groupadd --system --gid 10001 s3 && useradd --system --uid 10001 --gid s3 --no-create-home s3
USER 10001:10001
EXPOSE 9000
HEALTHCHECK --interval=5s --timeout=3s --retries=20 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9000/', timeout=2)"]
ENTRYPOINT ["s3-entrypoint"]
CMD ["server", "/data"]
