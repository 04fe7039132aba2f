"""Both images, built from the repository's Dockerfiles, run the way Fargate runs them.

Each image is started as its non-root user with a read-only root filesystem and a tmpfs at ``/tmp``
as the only writable place (ECS: ``readonlyRootFilesystem`` and a task volume at ``/tmp``), must
answer its own HEALTHCHECK, stop promptly on SIGTERM (ECS sends SIGTERM, then SIGKILL after
``stopTimeout``), and hold exactly the Python packages ``docker/constraints.txt`` pins, with no broken
requirement (``pip check``). The base is the Debian-made stand-in for ``python:3.11-slim-bookworm``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support import containers
from tests.support.net import free_port

# The session fixture builds both images (a few minutes from scratch, seconds from the layer cache).
pytestmark = [pytest.mark.containers, pytest.mark.realparts, pytest.mark.timeout(1800)]

IMAGES = {containers.API_IMAGE: 8001, containers.MLFLOW_IMAGE: 5000}  # image -> the port its server serves
FARGATE_LIKE = ("--read-only", "--read-only-tmpfs=false", "--tmpfs", "/tmp:rw,mode=1777")


def _pins() -> dict[str, str]:
    pins = {}
    for line in (containers.REPO / "docker" / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            pins[canonicalize_name(requirement.name)] = str(requirement.specifier).removeprefix("==")
    return pins


@pytest.fixture(scope="module", params=sorted(IMAGES), ids=lambda image: image.split("/")[-1].split(":")[0])
def started(
    request: pytest.FixtureRequest, container_images: dict[str, float]
) -> Iterator[containers.Container]:
    """The image started Fargate-like and healthy (its own HEALTHCHECK passes)."""
    image = request.param
    port = IMAGES[image]
    name = f"hokusai-test-{image.split('/')[-1].replace(':', '-')}"
    container = containers.run_detached(
        image, name, *FARGATE_LIKE, "--publish", f"127.0.0.1:{free_port()}:{port}"
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            check = containers.podman("healthcheck", "run", name, check=False)
            if check.returncode == 0:
                break
            if time.monotonic() > deadline or not container.state().get("Running"):
                pytest.fail(f"{image} never passed its HEALTHCHECK; its log:\n{container.logs()[-3000:]}")
            time.sleep(1)
        yield container
    finally:
        container.remove()


def test_runs_as_non_root_on_a_read_only_root(started: containers.Container) -> None:
    assert started.exec("id", "-u").stdout.strip() == "10001"
    # Nothing but /tmp takes a write: the root, the home directory and the virtualenv are read-only.
    for place in ("/", "/home", "/opt", "/usr/local"):
        probe = started.exec("sh", "-c", f"touch {place}/.probe", check=False)
        assert probe.returncode != 0, f"{place} is writable"
    assert started.exec("sh", "-c", "touch /tmp/.probe && rm /tmp/.probe").returncode == 0


def test_stops_on_sigterm_without_being_killed(started: containers.Container) -> None:
    """ECS stops a task with SIGTERM, then SIGKILL; a server that ignores SIGTERM is killed (exit 137)."""
    containers.podman("stop", "--time", "20", started.name)
    assert started.state()["ExitCode"] != 137, f"{started.name} ignored SIGTERM and was killed"


@pytest.mark.parametrize("image", sorted(IMAGES), ids=lambda image: image.split("/")[-1].split(":")[0])
def test_holds_exactly_the_pinned_packages(image: str, container_images: dict[str, float]) -> None:
    check = containers.podman("run", "--rm", image, "python", "-m", "pip", "check", check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    frozen = containers.podman("run", "--rm", image, "python", "-m", "pip", "freeze", "--all").stdout
    pins = _pins()
    wrong = []
    for line in frozen.splitlines():
        name, _, version = line.partition("==")
        key = canonicalize_name(name)
        if key in {"pip", "setuptools", "wheel"} or not version:
            continue  # the installer's own tools come with the base's Python
        if pins.get(key) != version:
            wrong.append(f"{name} {version} (pinned: {pins.get(key, 'not pinned')})")
    assert not wrong, f"{image} holds packages docker/constraints.txt does not pin at that version: {wrong}"


def test_constraints_pin_the_tested_versions() -> None:
    """What the images install is what the suite runs on (``make docker-constraints`` writes the file)."""
    from importlib.metadata import version

    pins = _pins()
    for name in ("mlflow", "scikit-learn", "fastapi", "skops", "eth-account"):
        assert pins[canonicalize_name(name)] == version(name), name
