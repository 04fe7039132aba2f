"""A local OCI registry on loopback (Debian's ``docker-registry``): the stand-in for ECR in tests.

It stores blobs in a temporary folder, speaks plain HTTP on ``127.0.0.1:PORT`` and asks for no
credentials, so ``podman login`` to it accepts the token ``aws ecr get-login-password`` prints.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import httpx

from tests.support.net import free_port, stop_process, wait_http

BINARY = "docker-registry"
MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
)


class OciRegistry:
    """``docker-registry serve CONFIG`` on a free loopback port; ``host`` is what image names start with."""

    def __init__(self) -> None:
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.root = Path(tempfile.mkdtemp(prefix="hokusai-registry-"))
        config = self.root / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: warn\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.root / 'data'}\n"
            f"http:\n  addr: {self.host}\n"
        )
        self._log = (self.root / "registry.log").open("wb")
        self.process = subprocess.Popen(
            [BINARY, "serve", str(config)], stdout=self._log, stderr=subprocess.STDOUT
        )

    def start(self, timeout: float = 30.0) -> OciRegistry:
        wait_http(f"http://{self.host}/v2/", timeout)
        return self

    def digest(self, repository: str, reference: str) -> str:
        """The digest of the manifest ``repository:reference`` (a tag or a digest) in the registry."""
        response = httpx.head(
            f"http://{self.host}/v2/{repository}/manifests/{reference}",
            headers={"Accept": ", ".join(MANIFEST_TYPES)},
        )
        response.raise_for_status()
        return response.headers["Docker-Content-Digest"]

    def stop(self) -> None:
        stop_process(self.process)
        self._log.close()
        shutil.rmtree(self.root, ignore_errors=True)
