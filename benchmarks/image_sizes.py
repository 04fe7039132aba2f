"""Image sizes: each image ÷ (its bare base + the same installed wheels), measured in one run.

The baseline is what no Dockerfile can go below: the base image plus the bytes the installed Python
packages take (the API's ``/opt/venv``, MLflow's site-packages), read inside the image itself. The
ratio is the overhead of everything else (layers, tini, users, caches left behind).

    python benchmarks/image_sizes.py            # builds the images first if they are missing

Needs podman, runc and debootstrap (see docker/stand-in-base.sh); the base is the Debian-made stand-in.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support import containers

BASE = "docker.io/library/python:3.11-slim-bookworm"
PACKAGES = {
    containers.API_IMAGE: "/opt/venv",
    containers.MLFLOW_IMAGE: "/usr/local/lib/python3.11/dist-packages",
}


def _bytes_in(image: str, path: str) -> int:
    out = containers.podman("run", "--rm", "--entrypoint", "du", image, "-sb", path).stdout
    return int(out.split()[0])


def main() -> None:
    containers.ensure_base()
    for image in PACKAGES:
        if containers.podman("image", "exists", image, check=False).returncode != 0:
            print(f"building {image} ...", flush=True)
            containers.build_image(image)
    base = int(containers.inspect(BASE)["Size"])
    print(f"{'image':<34} {'size MB':>8} {'base + wheels MB':>17} {'ratio':>6}")
    for image, path in PACKAGES.items():
        size = int(containers.inspect(image)["Size"])
        floor = base + _bytes_in(image, path)
        print(f"{image:<34} {size / 1e6:>8.0f} {floor / 1e6:>17.0f} {size / floor:>6.2f}")
    print(f"(base {BASE}: {base / 1e6:.0f} MB, the Debian-made stand-in)")


if __name__ == "__main__":
    main()
