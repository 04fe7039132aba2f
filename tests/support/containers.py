"""OCI images and containers for the tests: Debian's podman (runc), the repository's Dockerfiles, built once.

The base image is the stand-in for Docker Hub's ``python:3.11-slim-bookworm`` that
``docker/stand-in-base.sh`` makes from Debian's packages (Docker Hub is not reachable here). Each image
is built once per test session (podman's layer cache makes a rebuild of an unchanged tree take seconds,
so ``deploy.sh`` building the same tree again costs little). podman reads ``docker/podman/containers.conf``
(runc, lowered ulimits) through ``CONTAINERS_CONF``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CONTAINERS_CONF = REPO / "docker" / "podman" / "containers.conf"
STAND_IN_BASE = REPO / "docker" / "stand-in-base.sh"
# The tags the tests build; compose and deploy.sh take them through their image variables.
# HOKUSAI_TEST_IMAGE_TAG keeps the images of two checkouts on one machine apart.
TAG = os.environ.get("HOKUSAI_TEST_IMAGE_TAG", "test")
API_IMAGE = f"localhost/hokusai-api:{TAG}"
MLFLOW_IMAGE = f"localhost/hokusai-mlflow:{TAG}"
DOCKERFILES = {API_IMAGE: "docker/api.Dockerfile", MLFLOW_IMAGE: "docker/mlflow.Dockerfile"}


def podman_env(**extra: str) -> dict[str, str]:
    """The environment every podman (and podman-compose) call gets: the repository's containers.conf."""
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF), **extra}


def missing_tools() -> list[str]:
    """The container tools this machine lacks (each test skips, naming them)."""
    return [tool for tool in ("podman", "runc", "debootstrap") if shutil.which(tool) is None]


def podman(
    *args: str, check: bool = True, timeout: float = 600, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """Run ``podman ARGS``; on failure the error carries podman's own output."""
    result = subprocess.run(
        ["podman", *args], env=podman_env(), capture_output=True, text=True, timeout=timeout, **kwargs
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args)} exited {result.returncode}:\n{result.stderr[-4000:]}")
    return result


def ensure_base() -> None:
    """The stand-in base image, made unless podman already holds this recipe of it."""
    subprocess.run([str(STAND_IN_BASE)], env=podman_env(), check=True, capture_output=True, timeout=900)


def build_image(tag: str) -> float:
    """Build ``tag`` from its Dockerfile (docker format, so HEALTHCHECK is kept); returns seconds taken."""
    started = time.monotonic()
    podman("build", "--format", "docker", "--file", DOCKERFILES[tag], "--tag", tag, str(REPO), timeout=1800)
    return time.monotonic() - started


def inspect(image: str) -> dict[str, Any]:
    """``podman image inspect`` of one image."""
    return json.loads(podman("image", "inspect", image).stdout)[0]


@dataclass
class Container:
    """One running container, removed by :meth:`remove`."""

    name: str

    def logs(self) -> str:
        result = podman("logs", self.name, check=False)
        return result.stdout + result.stderr

    def exec(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return podman("exec", self.name, *command, check=check)

    def state(self) -> dict[str, Any]:
        return json.loads(podman("inspect", "--format", "{{json .State}}", self.name).stdout)

    def remove(self) -> None:
        podman("rm", "--force", "--time", "5", self.name, check=False)


def run_detached(image: str, name: str, *args: str, command: tuple[str, ...] = ()) -> Container:
    """``podman run --detach`` with ``args`` as run options; an existing container of that name goes first."""
    podman("rm", "--force", name, check=False)
    podman("run", "--detach", "--name", name, *args, image, *command)
    return Container(name)
