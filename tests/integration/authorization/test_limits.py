"""No request takes the platform down (issue 19, items 4 and 5), tried against the seeded real ``hokusai up``:
a deeply nested JSON body, bodies over their route's limit, decompression bombs (a model whose skops schema
inflates to 1 GiB, a zstd Parquet file), and a decision tree whose node indices point outside its arrays.
The API process's memory is read from ``/proc/<pid>/status`` before and after each bomb."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.tree import DecisionTreeClassifier

from hokusai.tracking.models import save_model_dir
from tests.integration.authorization.conftest import World
from tests.support.bombs import (
    corrupt_tree,
    deep_json,
    mlmodel_alias_bomb,
    model_tarball,
    parquet_bomb,
    skops_schema_bomb,
)

pytestmark = pytest.mark.realparts
TARGET = "diagnosis_benign"
RSS_GROWTH_MIB = 200  # what a refused bomb may cost the API (the bombs inflate to 1 GiB and more)


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def api_pid(world: World) -> int:
    """The process listening on the API's port: ``hokusai up`` itself or a child of it."""
    assert world.up is not None
    port = int(world.url.rsplit(":", 1)[1])
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    pending = [world.up.process.pid]
    while pending:
        pid = pending.pop()
        try:
            if any(str(fd.readlink()) in inodes for fd in Path(f"/proc/{pid}/fd").iterdir()):
                return pid
            pending += _children(pid)
        except (FileNotFoundError, PermissionError):
            continue
    raise AssertionError(f"no process of hokusai up listens on port {port}")


def rss_mib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) // 1024


def _features(world: World) -> tuple[pd.DataFrame, pd.Series]:
    frame = pd.read_csv(world.ids["base"])
    return frame.drop(columns=[TARGET]), frame[TARGET]


def _fields(world: World, name: str) -> dict[str, str]:
    return {
        "name": name,
        "target_column": TARGET,
        "train_dataset_id": world.ids["train_dataset"],
        "benchmark_dataset_id": world.ids["benchmark_dataset"],
    }


def _register(world: World, name: str, archive: bytes) -> httpx.Response:
    with world.http("owner1") as client:
        return client.post(
            "/api/v1/models",
            data=_fields(world, name),
            files={"archive": ("model.tar.gz", archive, "application/gzip")},
        )


def _model_dir(estimator: Any, directory: Path) -> Path:
    save_model_dir(estimator, directory)
    return directory


@pytest.mark.parametrize(
    ("actor", "path", "chunked"),
    [
        ("anonymous", "/api/v1/attestations/verify", False),
        ("anonymous", "/api/v1/attestations/verify", True),
        ("owner1", "/api/v1/keys", False),
    ],
)
def test_a_100k_deep_json_body_is_a_400_and_the_platform_keeps_answering(
    world: World, actor: str, path: str, chunked: bool
) -> None:
    pid = api_pid(world)
    body = deep_json()
    content: Any = iter([body[: len(body) // 2], body[len(body) // 2 :]]) if chunked else body
    with world.http(actor) as client:
        response = client.post(path, content=content, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, response.text[:300]
        assert response.json()["error"]["code"] == "json_too_deep"
        assert response.json()["error"]["details"] == {"max_depth": 64}
        assert client.get("/health").status_code == 200
    assert api_pid(world) == pid  # the same process answers: nothing crashed or restarted


def _raw_post(world: World, path: str, headers: dict[str, str], total: int) -> tuple[bytes, int, bool]:
    """Send the headers of a ``total``-byte body, then the body in 64 KiB pieces until the server answers;
    the answer, the body bytes sent before it, and whether the server then closed the connection."""
    host, port = world.url.removeprefix("http://").split(":")
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {total}\r\n{head}\r\n".encode()
        )
        sock.settimeout(0.2)
        answer, sent, piece = b"", 0, b"-" * (64 << 10)
        deadline = time.monotonic() + 20
        while b"\r\n\r\n" not in answer and time.monotonic() < deadline:
            try:
                answer += sock.recv(65536)
                continue
            except TimeoutError:
                pass
            if sent < total:
                try:
                    sock.sendall(piece)
                    sent += len(piece)
                except OSError:
                    break
        try:
            sock.settimeout(5)
            while chunk := sock.recv(65536):
                answer += chunk
            closed = True
        except (TimeoutError, OSError):
            closed = False
    return answer, sent, closed


MULTIPART = {"Content-Type": "multipart/form-data; boundary=hokusai"}


@pytest.mark.parametrize(
    ("actor", "path", "size", "status"),
    [
        ("anonymous", "/api/v1/keys", 300 << 20, 413),  # multipart to a JSON route: the JSON limit
        ("owner1", "/api/v1/runs", 300 << 20, 413),
        ("anonymous", "/api/v1/datasets", 300 << 20, 401),  # under the upload limit, but no credential
        ("owner1", "/api/v1/datasets", 2 << 30, 413),  # over the upload limit
    ],
)
def test_a_body_over_its_routes_limit_or_without_a_credential_is_answered_before_it_is_read(
    world: World, actor: str, path: str, size: int, status: int
) -> None:
    pid = api_pid(world)
    before = rss_mib(pid)
    answer, sent, closed = _raw_post(world, path, {**world.actors[actor].headers, **MULTIPART}, size)
    assert answer.startswith(f"HTTP/1.1 {status}".encode()), answer[:300]
    assert b"connection: close" in answer.lower()
    print(f"{actor} {path}: {status} after {sent} of {size} body bytes sent")  # the figures of the report
    assert sent <= 2 << 20, f"{sent} bytes were read before the answer"  # of a {size}-byte body
    assert closed  # the server hung up: the rest of the body is never read
    assert rss_mib(pid) - before < RSS_GROWTH_MIB


def test_a_streamed_body_is_cut_at_the_limit(world: World) -> None:
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        for _ in range(300):  # 300 MiB if nobody stops it
            sent += 1 << 20
            yield b"-" * (1 << 20)

    with world.http("owner1") as client:
        response = client.post("/api/v1/runs", content=body(), headers=MULTIPART)
    assert response.status_code == 413, response.text[:300]
    assert response.json()["error"]["details"] == {"limit_bytes": 1 << 20}
    print(f"streamed: 413 after {sent >> 20} MiB of 300 MiB")
    assert sent <= 16 << 20, f"{sent >> 20} MiB sent before the 413"


def test_a_model_whose_skops_schema_inflates_to_1_gib_is_refused_and_the_api_stays_small(
    world: World, tmp_path: Path
) -> None:
    features, target = _features(world)
    directory = _model_dir(DecisionTreeClassifier(max_depth=3).fit(features, target), tmp_path / "bomb")
    model_file = directory / "model.skops"
    model_file.write_bytes(skops_schema_bomb(model_file.read_bytes(), inflated=1 << 30))
    archive = model_tarball(directory)
    assert len(archive) < 256 << 10
    pid = api_pid(world)
    before = rss_mib(pid)
    response = _register(world, "schema-bomb", archive)
    grown = rss_mib(pid) - before
    print(f"schema bomb: API RSS {before} -> {before + grown} MiB, {response.status_code}")
    assert response.status_code == 413, response.text[:300]
    error = response.json()["error"]
    assert error["code"] == "inflated_too_large" and error["details"]["member"] == "schema.json"
    assert grown < RSS_GROWTH_MIB, f"the API grew by {grown} MiB"


def test_a_yaml_alias_bomb_in_mlmodel_is_refused_at_once(world: World, tmp_path: Path) -> None:
    features, target = _features(world)
    directory = _model_dir(DecisionTreeClassifier(max_depth=2).fit(features, target), tmp_path / "aliases")
    (directory / "MLmodel").write_text(mlmodel_alias_bomb())
    with world.http("owner1") as client:
        response = client.post(
            "/api/v1/models",
            data=_fields(world, "alias-bomb"),
            files={"archive": ("model.tar.gz", model_tarball(directory), "application/gzip")},
            timeout=30,  # expanding it never ends
        )
        assert response.status_code == 400, response.text[:300]
        assert response.json()["error"]["code"] == "bad_model_file"
        assert client.get("/health", timeout=5).status_code == 200


def test_a_zstd_parquet_bomb_is_refused_and_the_api_stays_small(world: World, tmp_path: Path) -> None:
    bomb = parquet_bomb(tmp_path / "bomb.parquet", rows=60_000, value_bytes=20_000)  # 1.2 GB of text
    assert bomb.stat().st_size < 64 << 10
    pid = api_pid(world)
    before = rss_mib(pid)
    with world.http("owner1") as client:
        response = client.post(
            "/api/v1/datasets",
            files={"file": ("bomb.parquet", bomb.read_bytes(), "application/octet-stream")},
        )
    grown = rss_mib(pid) - before
    print(f"parquet bomb: API RSS {before} -> {before + grown} MiB, {response.status_code}")
    assert response.status_code == 413, response.text[:300]
    assert response.json()["error"]["code"] == "inflated_too_large"
    assert grown < RSS_GROWTH_MIB, f"the API grew by {grown} MiB"


WORKER_LOAD = """
import sys
import pandas as pd
from hokusai.errors import HokusaiError
from hokusai.tracking.models import load_model_dir
try:
    model = load_model_dir(__import__("pathlib").Path(sys.argv[1])).estimator
except HokusaiError as exc:
    print(exc.code, exc.message)
    sys.exit(3)
frame = pd.read_csv(sys.argv[2])
print(model.predict(frame.drop(columns=["diagnosis_benign"]))[:3])
"""


def test_a_decision_tree_with_a_corrupted_left_child_is_refused_at_registration_and_by_the_worker(
    world: World, tmp_path: Path
) -> None:
    features, target = _features(world)
    directory = _model_dir(DecisionTreeClassifier(random_state=0).fit(features, target), tmp_path / "bad")
    model_file = directory / "model.skops"
    model_file.write_bytes(corrupt_tree(model_file.read_bytes(), "left_child", 50_000_000))
    response = _register(world, "bad-tree", model_tarball(directory))
    assert response.status_code == 422, response.text[:300]
    error = response.json()["error"]
    assert error["code"] == "model_tree_invalid" and error["details"]["node"] == 0
    assert "DecisionTreeClassifier" in error["message"]
    # the run worker's load path, in its own process: a clear refusal, never SIGSEGV
    loaded = subprocess.run(
        [sys.executable, "-c", WORKER_LOAD, str(directory), str(world.ids["base"])],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert loaded.returncode == 3, (loaded.returncode, loaded.stdout, loaded.stderr[-500:])
    assert loaded.stdout.startswith("model_tree_invalid")


def test_legitimate_forests_and_boosting_still_register_and_evaluate(world: World, tmp_path: Path) -> None:
    features, target = _features(world)
    estimators = {
        "ok-forest": RandomForestClassifier(n_estimators=20, random_state=0),
        "ok-boosting": GradientBoostingClassifier(n_estimators=20, random_state=0),
        "ok-hist-boosting": HistGradientBoostingClassifier(max_iter=20, random_state=0),
    }
    for name, estimator in estimators.items():
        directory = _model_dir(estimator.fit(features, target), tmp_path / name)
        response = _register(world, name, model_tarball(directory))
        assert response.status_code == 201, response.text[:300]
    with world.sdk("walletA") as wallet:
        runs = []
        for name in estimators:
            contribution = wallet.contributions.submit(name, world.ids["contribution_file"])
            runs.append(wallet.runs.submit(name, [contribution.id]).id)
        for run_id in runs:
            run = wallet.runs.wait(run_id, timeout=600, interval=0.5)
            assert run.state == "succeeded", run.error
