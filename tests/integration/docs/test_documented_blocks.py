"""Every shell and Python block of the documentation runs as written, against one real ``hokusai up``.

The pages run in the order the README links them (README first), each in its own empty folder, block by
block as a reader pastes them: shell blocks with ``bash -euo pipefail``, Python blocks in one interpreter
per page (later blocks see what earlier ones defined), both with the virtualenv's ``bin`` first on
``PATH``. The environment is a new user's: no ``HOKUSAI_*`` or ``MLFLOW_*`` setting but what the README
tells them to set after ``make up``: ``HOKUSAI_URL`` and ``HOKUSAI_API_KEY`` (the admin key it printed).
The platform is started the way docs/resources.md tells an operator who wants mint requests (with
``HOKUSAI_DELTA_VERIFIER_ADDRESS``). Two substitutions make a page's text fit this machine:
``http://127.0.0.1:8001`` (``make up``'s address) is the fixture's, and a shell block's ``$RUN_ID`` /
``$ATTESTATION_ID`` (what the pages call "your accepted run") are those of the newest accepted version of
the pages' model ``breast-cancer`` (docs/resources.md's flow makes it).

A block that cannot run here carries ``<!-- not-run: reason -->`` right above it (tests/support/docs.py);
a block with neither fails, and a page stops at its first failing block (later ones build on it).
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

import hokusai
from hokusai.api_keys import generate_key
from tests.support.docs import REPO, Block, blocks, pages
from tests.support.stack import UpProcess, up_env

pytestmark = pytest.mark.realparts

DOCUMENTED_URL = "http://127.0.0.1:8001"
MODEL = "breast-cancer"  # the model the pages' flow registers
VERIFIER = "0x" + "de" * 20  # a DeltaVerifier address: mint requests are signed; no chain is needed
BLOCK_TIMEOUT = 300
READER_VALUES = re.compile(r"\$\{?(RUN_ID|ATTESTATION_ID)\b")
DRIVER = Path(__file__).resolve().parents[2] / "support" / "docs_python.py"


def reading_order() -> list[str]:
    """README, then the pages in the order the README links them, then any page it does not link."""
    everything = pages()
    linked = re.findall(r"\]\(((?:docs|infrastructure)/[^)#]+\.md)", (REPO / "README.md").read_text())
    ordered = ["README.md", *dict.fromkeys(page for page in linked if page in everything)]
    return ordered + [page for page in everything if page not in ordered]


PAGES = reading_order()


@dataclass
class Platform:
    url: str
    admin_key: str
    workdir: Path
    outcomes: dict[str, list[str]] = field(default_factory=dict)  # page -> failures


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    workdir = tmp_path_factory.mktemp("docs")
    admin = generate_key(live=False)
    env = up_env(
        workdir,
        HOKUSAI_BOOTSTRAP_ADMIN_KEY_HASH=f"{admin.key_id}:{admin.key_hash}",
        HOKUSAI_RATE_LIMIT_PER_MINUTE="100000",
        HOKUSAI_DELTA_VERIFIER_ADDRESS=VERIFIER,
    )
    up = UpProcess(workdir / "up", env)
    try:
        up.wait_ready(180)
        yield Platform(up.api_url, admin.key, workdir)
    finally:
        up.kill()


def reader_env(platform: Platform, home: Path) -> dict[str, str]:
    """A new user's shell after the README: the virtualenv first on PATH, HOKUSAI_URL and HOKUSAI_API_KEY."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOKUSAI_", "MLFLOW_"))}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        HOKUSAI_URL=platform.url,
        HOKUSAI_API_KEY=platform.admin_key,
        HOME=str(home),  # no ~/.config/hokusai of the machine's user
    )
    return env


def reader_values(platform: Platform) -> dict[str, str]:
    """``RUN_ID`` and ``ATTESTATION_ID``: the newest accepted version of the pages' model, if any."""
    with hokusai.Client(url=platform.url, api_key=platform.admin_key) as admin:
        try:
            versions = admin.models.lineage(MODEL).versions
        except hokusai.NotFound:
            return {}
    accepted = [v for v in versions if v.outcome == "accepted" and v.run_id and v.attestation_id]
    return {"RUN_ID": accepted[-1].run_id, "ATTESTATION_ID": accepted[-1].attestation_id} if accepted else {}


def run_page(page: str, platform: Platform) -> list[str]:
    """Run the page's blocks in order; the failures (at most one: a page stops at its first)."""
    folder = platform.workdir / "pages" / page.replace("/", "_")
    home = folder / "home"
    home.mkdir(parents=True)
    env = reader_env(platform, home)
    python: subprocess.Popen[str] | None = None
    try:
        for number, block in enumerate(blocks(page)):
            if block.kind is None or block.not_run is not None:
                continue
            code = block.commands().replace(DOCUMENTED_URL, platform.url)
            started = time.monotonic()
            if block.kind == "shell":
                failure = run_shell(block, code, folder, number, {**env, **needed_values(code, platform)})
            else:
                if python is None:
                    python = start_python(folder, env)
                failure = run_python(python, block, code)
            print(f"{block.where}: {time.monotonic() - started:.1f} s", file=sys.stderr)
            if failure is not None:
                return [failure]
        return []
    finally:
        if python is not None:
            python.stdin.close()  # type: ignore[union-attr]
            python.wait(30)


def needed_values(code: str, platform: Platform) -> dict[str, str]:
    if not READER_VALUES.search(code):
        return {}
    values = reader_values(platform)
    if not values:
        raise AssertionError(f"$RUN_ID/$ATTESTATION_ID used before {MODEL!r} has an accepted run")
    return values


def run_shell(block: Block, code: str, folder: Path, number: int, env: dict[str, str]) -> str | None:
    script = folder / f"block-{number}.sh"
    script.write_text(code)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", str(script)],
        cwd=folder, env=env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT, check=False,
    )  # fmt: skip
    if done.returncode == 0:
        return None
    return (
        f"{block.where}: the {block.language} block exits {done.returncode}\n{code}\n"
        f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
    )


def start_python(folder: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(  # -P: the driver's folder (tests/support: platform.py…) is not on sys.path
        [sys.executable, "-P", str(DRIVER)], cwd=folder, env=env, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=(folder / "python.log").open("w"),
    )  # fmt: skip


def run_python(python: subprocess.Popen[str], block: Block, code: str) -> str | None:
    assert python.stdin is not None and python.stdout is not None
    python.stdin.write(json.dumps({"name": block.where, "code": code}) + "\n")
    python.stdin.flush()
    line = python.stdout.readline()
    if not line:
        return f"{block.where}: the Python session died (exit {python.wait(10)})\n{code}"
    answer = json.loads(line)
    return None if answer["ok"] else f"{block.where}: the Python block raised\n{code}\n{answer['error']}"


@pytest.fixture(scope="module")
def outcomes(platform: Platform) -> dict[str, list[str]]:
    """Every page run once, in reading order (a later page may use what an earlier one made)."""
    for page in PAGES:
        platform.outcomes[page] = run_page(page, platform)
    return platform.outcomes


@pytest.mark.parametrize("page", PAGES)
def test_every_documented_block_runs_as_written(page: str, outcomes: dict[str, list[str]]) -> None:
    assert not outcomes[page], "\n\n".join(outcomes[page])


def test_the_public_attestation_pages_verify_hint_works_on_a_bare_machine(
    platform: Platform, outcomes: dict[str, list[str]], tmp_path: Path
) -> None:
    values = reader_values(platform)
    assert values, f"no accepted run of {MODEL!r}: docs/resources.md failed\n{outcomes['docs/resources.md']}"
    page = httpx.get(f"{platform.url}/ui/attestations/{values['ATTESTATION_ID']}", timeout=30)  # anonymous
    found = re.search(r"<code[^>]*>(hokusai attest [^<]*)</code>", page.raise_for_status().text)
    assert found is not None, "the attestation page shows no verify command"
    command = html.unescape(found.group(1))
    bare = {k: v for k, v in os.environ.items() if not k.startswith(("HOKUSAI_", "MLFLOW_"))}
    bare.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{bare.get('PATH', '')}", HOME=str(tmp_path))
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command],
        cwd=tmp_path, env=bare, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    assert not (tmp_path / ".hokusai").exists()  # checked against the published signers, not a local key
