# A stand-in for Docker Hub's `postgres:16-alpine` where Docker Hub cannot be reached (this project's CI):
# Debian's postgresql-15 on the stand-in python:3.11-slim-bookworm base, honouring the interface
# docker/compose.yaml uses of the public image: POSTGRES_DB / POSTGRES_USER / POSTGRES_PASSWORD create the
# database on first start, the data lives in /var/lib/postgresql/data, `pg_isready` is on PATH, port 5432.
# Production uses the public image (or RDS); this one is chosen by POSTGRES_IMAGE. Build from the root:
#   podman build -f docker/stand-ins/postgres.Dockerfile -t localhost/hokusai-stand-in-postgres:15 .
FROM python:3.11-slim-bookworm

RUN apt-get update \
    && apt-get install --yes --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* \
    && install --directory --owner postgres --group postgres --mode 0700 /var/lib/postgresql/data

COPY --chmod=0755 docker/stand-ins/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint

ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data

USER postgres
EXPOSE 5432
# As the official image: a fast shutdown (SIGINT) rather than waiting for clients to leave.
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --timeout=3s --retries=20 CMD ["pg_isready", "--host", "/var/run/postgresql"]
ENTRYPOINT ["postgres-entrypoint"]
