#!/usr/bin/env bash
# Make a stand-in for the Docker Hub base image `python:3.11-slim-bookworm` from Debian's own packages,
# for machines that cannot pull from Docker Hub (this project's CI). Production builds use the real
# Docker Hub image; this one only lets the repository's Dockerfiles build unchanged where it is absent:
# Debian bookworm (minbase) + python3, python3-venv, python3-pip, with `python` and `pip` on PATH and
# Debian's EXTERNALLY-MANAGED marker removed, as in the official image.
#
#   docker/stand-in-base.sh            # builds it unless podman already holds this version of it
#   docker/stand-in-base.sh --force    # rebuilds it
#
# Needs root, debootstrap and podman. The mirror is the machine's (HOKUSAI_DEBIAN_MIRROR overrides it).
# The image carries the hash of this script as a label, so a changed recipe is rebuilt and an unchanged
# one is reused between runs (about 40 s to make, 0 s to reuse).
set -euo pipefail

IMAGE="docker.io/library/python:3.11-slim-bookworm"
MIRROR="${HOKUSAI_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
RECIPE="$(sha256sum "$0" | cut -c1-16)"

if [[ "${1:-}" != "--force" ]] \
  && [[ "$(podman image inspect --format '{{ index .Labels "org.hokusai.stand-in" }}' "$IMAGE" 2>/dev/null)" == "$RECIPE" ]]; then
  echo "stand-in base $IMAGE is up to date (recipe $RECIPE)"
  exit 0
fi

for tool in debootstrap podman; do
  command -v "$tool" >/dev/null || { echo "stand-in-base: $tool is not installed (apt-get install $tool)" >&2; exit 2; }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
echo "stand-in base: debootstrap bookworm (minbase + python3) from $MIRROR ..."
debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
  bookworm "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; exit 1; }

# As in the official image: `python` and `pip` on PATH, pip free to install into the system Python.
ln -sf /usr/bin/python3 "$root/usr/local/bin/python"
ln -sf /usr/bin/pip3 "$root/usr/local/bin/pip"
rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
# The build host's CA bundle (a machine behind a TLS-inspecting egress proxy needs it to reach PyPI);
# pip reads PIP_CERT, not the system store.
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
# Nothing of the build host's apt state or caches goes into the image.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
  "$root"/var/log/* "$root"/usr/share/doc/* "$root"/usr/share/man/*

tar --numeric-owner -C "$root" -c . | podman import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
  --change "LABEL org.hokusai.stand-in=$RECIPE" \
  --change 'LABEL org.hokusai.stand-in-for=python:3.11-slim-bookworm (Docker Hub)' \
  --change 'CMD ["python3"]' \
  - "$IMAGE" >/dev/null 2>"$work/import.log" || { cat "$work/import.log" >&2; exit 1; }
echo "stand-in base: $IMAGE ready (recipe $RECIPE, $(podman image inspect --format '{{ .Size }}' "$IMAGE") bytes)"
