"""``hokusai up`` as a user runs it: ready, errors, clean stop, a busy port, PostgreSQL + S3; and as its
supervisor is tested, by killing its real processes: a dead MLflow is restarted while the API answers, a
crashed API (SIGSEGV, SIGKILL) is restarted while MLflow keeps its pid and its run fails instead of hanging,
a crash loop of either gives up and stops the other, a run that loses MLflow fails as `mlflow_unavailable`
with its log, and after a SIGKILL of `up` no child lives on, the orphaned run records nothing and the next
`up` starts."""

from __future__ import annotations

import os
import re
import signal
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from eth_account import Account

from hokusai.api_keys import generate_key
from hokusai.client import Client
from hokusai.config import env_name
from hokusai.pipeline.demo import TARGET as DEMO_TARGET
from hokusai.pipeline.demo import prepare_demo
from hokusai.pipeline.spec import PipelineSpec
from hokusai.stack import port_in_use
from tests.support.mlflow import log_run
from tests.support.stack import UpProcess
from tests.support.stack import up_env as stack_env

pytestmark = pytest.mark.realparts


@pytest.fixture
def up_env(tmp_path: Path) -> dict[str, str]:
    # these tests poll a run ten times a second
    return stack_env(tmp_path, HOKUSAI_ENVIRONMENT="test", HOKUSAI_RATE_LIMIT_PER_MINUTE="100000")


@pytest.fixture
def launched(tmp_path: Path) -> Iterator[list[UpProcess]]:
    started: list[UpProcess] = []
    yield started
    for process in started:
        process.kill()


def test_up_serves_ready_with_both_probes_and_stops_cleanly_on_sigterm(
    tmp_path: Path, up_env: dict[str, str], launched: list[UpProcess]
) -> None:
    up = UpProcess(tmp_path / "run", up_env)
    launched.append(up)
    up.wait_ready()
    ready = httpx.get(f"{up.api_url}/ready")
    assert ready.status_code == 200
    assert {name: check["ok"] for name, check in ready.json()["checks"].items()} == {
        "database": True,
        "mlflow": True,
    }
    missing = httpx.get(f"{up.api_url}/nope")
    assert missing.status_code == 404
    assert missing.json() == {"error": {"code": "not_found", "message": "Not Found", "details": None}}
    assert f"API     {up.api_url}" in up.stdout
    assert f"docs    {up.api_url}/docs" in up.stdout
    assert f"MLflow  {up.api_url}/mlflow/" in up.stdout
    assert f"results {up.api_url}/ui/" in up.stdout
    assert up.api_pid() not in (None, up.process.pid)  # a child serves the API port, not the supervisor
    (key,) = re.findall(r"hk_test_\w+", up.stdout)  # the first start's admin key, printed once
    logs = tmp_path / "state" / "logs"
    assert key not in up.stderr + (logs / "api.log").read_text() + (logs / "mlflow.log").read_text()

    up.signal(signal.SIGTERM)
    assert up.wait() == 0
    assert not port_in_use("127.0.0.1", int(up_env["HOKUSAI_MLFLOW_PORT"]))
    assert not port_in_use("127.0.0.1", int(up_env["HOKUSAI_API_PORT"]))
    assert "Traceback" not in up.stderr


@pytest.mark.parametrize("field", ["api_port", "mlflow_port"])
def test_up_on_a_busy_port_names_the_port_and_exits_2(
    tmp_path: Path, up_env: dict[str, str], launched: list[UpProcess], field: str
) -> None:
    port = int(up_env[env_name(field)])
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        up = UpProcess(tmp_path / "run", up_env)
        launched.append(up)
        assert up.wait() == 2
    lines = up.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"port {port} on 127.0.0.1 is already in use" in lines[0]
    assert env_name(field) in lines[0]


def test_up_runs_the_same_stack_on_postgres_and_s3(
    tmp_path: Path,
    up_env: dict[str, str],
    launched: list[UpProcess],
    pg_url: str,
    moto_server,
    s3_client,
    s3_bucket: str,  # type: ignore[no-untyped-def]
) -> None:
    args = (
        "--postgres",
        pg_url,
        "--artifacts",
        f"s3://{s3_bucket}/stack",
        "--s3-endpoint",
        moto_server.endpoint,
    )
    up = UpProcess(tmp_path / "run", up_env, args)
    launched.append(up)
    up.wait_ready()
    with psycopg.connect(pg_url) as conn:
        tables = {
            row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
    assert {"hk_alembic_version", "experiments", "runs"} <= tables  # platform and MLflow share the database
    mlflow_url = f"http://127.0.0.1:{up_env['HOKUSAI_MLFLOW_PORT']}"
    run_id, name = log_run(mlflow_url, tmp_path)
    keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket).get("Contents", [])]
    assert any(key.startswith("stack/") and key.endswith(f"{run_id}/artifacts/{name}") for key in keys)
    assert not (tmp_path / "state" / "hokusai.db").exists()

    up.signal(signal.SIGINT)
    assert up.wait() == 0


def test_serve_runs_the_api_alone_against_an_mlflow_elsewhere(
    tmp_path: Path,
    up_env: dict[str, str],
    mlflow_server,
    launched: list[UpProcess],  # type: ignore[no-untyped-def]
) -> None:
    env = {**up_env, "HOKUSAI_MLFLOW_URL": mlflow_server.url}
    serve = UpProcess(tmp_path / "run", env, command="serve")
    launched.append(serve)
    serve.wait_ready(30)
    assert httpx.get(f"{serve.api_url}/ready").json()["checks"]["mlflow"]["ok"] is True
    assert not port_in_use("127.0.0.1", int(up_env["HOKUSAI_MLFLOW_PORT"]))  # no MLflow child of its own
    serve.signal(signal.SIGTERM)
    assert serve.wait() == 0


# --- the supervisor, tested by killing the real processes -------------------------------------------------


def process_state(pid: int) -> str | None:
    """The /proc state letter of ``pid`` (``Z`` for a zombie), None when it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def alive(pid: int) -> bool:
    return process_state(pid) not in (None, "Z")


def descendants(pid: int) -> dict[int, str]:
    """Every live descendant of ``pid`` and its command line."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = {}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                try:
                    found[child] = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                except OSError:
                    continue
                frontier.append(child)
    return found


def mlflow_leader(up: UpProcess) -> int:
    """The pid of the MLflow server child `up` runs now (the leader of its process group)."""
    leaders = [pid for pid, cmd in descendants(up.process.pid).items() if " mlflow server " in f" {cmd} "]
    leaders = [pid for pid in leaders if os.getpgid(pid) == pid]
    assert len(leaders) == 1, leaders
    return leaders[0]


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout:g}s: {what}")


def ready_answer(up: UpProcess) -> httpx.Response | None:
    try:
        return httpx.get(f"{up.api_url}/ready", timeout=5)
    except httpx.HTTPError:
        return None


@dataclass
class Seeded:
    """A platform model with one contribution, and a key of the admin who set it up."""

    admin_key: str
    model: str
    contribution_id: str


@pytest.fixture
def admin(up_env: dict[str, str]) -> str:
    """An admin key the stack stores on start (only its hash is configured)."""
    key = generate_key(live=False)
    up_env["HOKUSAI_BOOTSTRAP_ADMIN_KEY_HASH"] = key.bootstrap_line
    return key.key


@pytest.fixture(scope="module")
def demo_spec(tmp_path_factory: pytest.TempPathFactory) -> PipelineSpec:
    return prepare_demo(tmp_path_factory.mktemp("demo"))


def seed(up: UpProcess, admin_key: str, demo_spec: PipelineSpec) -> Seeded:
    """Register the demo's baseline and contribute its helpful data, as an admin, through the SDK."""
    with Client(api_key=admin_key, url=up.api_url) as client:
        client.models.register(
            "supervised", target=DEMO_TARGET, train=demo_spec.train, benchmark=demo_spec.benchmark,
            archive=demo_spec.baseline,
        )  # fmt: skip
        contribution = client.contributions.submit(
            "supervised", demo_spec.contributions[0].path, signer=Account.create()
        )
    return Seeded(admin_key, "supervised", contribution.id)


def start_run(up: UpProcess, seeded: Seeded) -> str:
    """Submit a run and return its id once a worker has claimed it (state ``running``)."""
    headers = {"Authorization": f"Bearer {seeded.admin_key}"}
    with httpx.Client(base_url=up.api_url, headers=headers, timeout=30) as http:
        run_id = (
            http.post("/api/v1/runs", json={"model": seeded.model, "contributions": [seeded.contribution_id]})
            .raise_for_status()
            .json()["id"]
        )
        wait_for(lambda: http.get(f"/api/v1/runs/{run_id}").json()["state"] != "queued", 60, "run claimed")
        assert http.get(f"/api/v1/runs/{run_id}").json()["state"] == "running"
    return run_id


def run_worker(up: UpProcess, log: Path) -> int:
    """The pid of the worker that claimed the run (its log says ``claimed by local:<host>:<pid>``), a live
    descendant of ``up`` (a worker started ahead of its run: its command line names no run)."""

    def claimed() -> re.Match[str] | None:
        return re.search(r"claimed by local:[^:]+:(\d+)", log.read_text() if log.exists() else "")

    wait_for(claimed, 30, f"the claim in {log}")  # logged just after the claim commits
    pid = int(claimed().group(1))  # type: ignore[union-attr]
    assert pid in descendants(up.process.pid)
    return pid


def get_run(api_url: str, admin_key: str, run_id: str) -> dict:
    with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=30) as http:
        return http.get(f"/api/v1/runs/{run_id}").raise_for_status().json()


def test_a_run_goes_to_the_worker_its_slot_started_ahead_and_succeeds(
    tmp_path: Path,
    up_env: dict[str, str],
    admin: str,
    demo_spec: PipelineSpec,
    launched: list[UpProcess],
) -> None:
    """Issue 22: a platform run does not wait for a fresh worker's imports. Each slot starts a worker ahead
    (`hokusai worker standby`) and hands it the run on stdin: the run's claim names that process."""
    up = UpProcess(tmp_path / "run", {**up_env, "HOKUSAI_JOB_STANDBY": "true", "HOKUSAI_JOB_WORKERS": "1"})
    launched.append(up)
    up.wait_ready()
    standby: list[int] = []

    def started_ahead() -> bool:
        standby[:] = [pid for pid, cmd in descendants(up.process.pid).items() if "worker standby" in cmd]
        return bool(standby)

    wait_for(started_ahead, 60, "a worker started ahead")
    run_id = start_run(up, seed(up, admin, demo_spec))
    log = tmp_path / "state" / "logs" / "runs" / f"{run_id}.log"
    assert run_worker(up, log) == standby[0]  # started before the run was submitted
    wait_for(lambda: get_run(up.api_url, admin, run_id)["state"] != "running", 120, "the run's end")
    run = get_run(up.api_url, admin, run_id)
    assert run["state"] == "succeeded" and run["attestation_id"], run  # signed: the token came on stdin
    assert f"run {run_id}: succeeded" in log.read_text()  # its output went to the run's log


def test_a_killed_mlflow_is_restarted_while_the_api_keeps_answering_and_ready_names_it(
    tmp_path: Path, up_env: dict[str, str], launched: list[UpProcess]
) -> None:
    up = UpProcess(tmp_path / "run", up_env)
    launched.append(up)
    up.wait_ready()
    first = mlflow_leader(up)
    os.killpg(first, signal.SIGKILL)

    wait_for(lambda: (r := ready_answer(up)) is not None and r.status_code == 503, 30, "/ready 503")
    down = ready_answer(up)
    assert down is not None and down.status_code == 503
    error = down.json()["error"]
    assert error["code"] == "not_ready" and "mlflow" in error["message"]
    assert error["details"]["checks"]["mlflow"]["ok"] is False
    assert error["details"]["checks"]["database"]["ok"] is True
    assert httpx.get(f"{up.api_url}/health").status_code == 200  # the API itself keeps answering

    up.wait_ready()  # MLflow is back
    assert up.process.poll() is None
    assert mlflow_leader(up) != first and not alive(first)
    assert "warning: mlflow exited with code -9; restarting it in 1 s (restart 1 of at most 5 a minute)" in (
        up.stderr
    )
    assert (
        f"Uvicorn running on http://127.0.0.1:{up_env['HOKUSAI_MLFLOW_PORT']}" in up.stderr
    )  # its last lines
    up.signal(signal.SIGTERM)
    assert up.wait() == 0
    assert not port_in_use("127.0.0.1", int(up_env["HOKUSAI_MLFLOW_PORT"]))


def test_up_gives_up_past_the_restart_limit_and_exits_1_with_mlflow_log_lines(
    tmp_path: Path, up_env: dict[str, str], launched: list[UpProcess]
) -> None:
    up_env["HOKUSAI_MLFLOW_MAX_RESTARTS_PER_MINUTE"] = "1"
    up = UpProcess(tmp_path / "run", up_env)
    launched.append(up)
    up.wait_ready()
    os.killpg(mlflow_leader(up), signal.SIGKILL)
    up.wait_ready()  # restarted once
    os.killpg(mlflow_leader(up), signal.SIGKILL)
    assert up.wait(60) == 1
    assert "error: mlflow exited with code -9 and was restarted 1 time(s) in the last minute; gave up" in (
        up.stderr
    )
    assert "HOKUSAI_MLFLOW_MAX_RESTARTS_PER_MINUTE=1" in up.stderr
    mlflow_line = f"Uvicorn running on http://127.0.0.1:{up_env['HOKUSAI_MLFLOW_PORT']}"
    assert mlflow_line in up.stderr.split("gave up", 1)[1]  # MLflow's own log lines, printed by `up`
    assert not port_in_use("127.0.0.1", int(up_env["HOKUSAI_API_PORT"]))


def test_a_run_that_loses_mlflow_fails_with_mlflow_unavailable_and_its_log_holds_the_workers_output(
    tmp_path: Path,
    up_env: dict[str, str],
    admin: str,
    demo_spec: PipelineSpec,
    launched: list[UpProcess],
) -> None:
    up_env["HOKUSAI_MLFLOW_RESTART_BACKOFF_SECONDS"] = "120"  # MLflow stays down for the rest of the test
    up_env["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"  # the worker's MLflow calls fail at once, not after ~30 s
    up = UpProcess(tmp_path / "run", up_env)
    launched.append(up)
    up.wait_ready()
    run_id = start_run(up, seed(up, admin, demo_spec))
    os.killpg(mlflow_leader(up), signal.SIGKILL)

    wait_for(lambda: get_run(up.api_url, admin, run_id)["state"] == "failed", 120, "the run failed")
    run = get_run(up.api_url, admin, run_id)
    assert run["error"]["code"] == "mlflow_unavailable", run["error"]
    assert run["attestation_id"] is None
    log = (tmp_path / "state" / "logs" / "runs" / f"{run_id}.log").read_text()
    assert f"run {run_id} claimed by local:" in log
    assert f"run {run_id} failed: " in log and "mlflow_unavailable" in log
    ready = ready_answer(up)
    assert ready is not None and ready.status_code == 503 and "mlflow" in ready.json()["error"]["message"]


def test_a_run_in_flight_rides_out_a_restart_of_mlflow_by_the_supervisor(
    tmp_path: Path,
    up_env: dict[str, str],
    admin: str,
    demo_spec: PipelineSpec,
    launched: list[UpProcess],
) -> None:
    up = UpProcess(tmp_path / "run", up_env)
    launched.append(up)
    up.wait_ready()
    run_id = start_run(up, seed(up, admin, demo_spec))

    def training() -> bool:  # MLflow's next use is the recording, after training, scoring and comparing
        progress = get_run(up.api_url, admin, run_id)["progress"] or {}
        return progress.get("step") in ("train candidate", "score models", "compare", "weigh contributors")

    wait_for(training, 60, "the candidate training")
    os.killpg(mlflow_leader(up), signal.SIGKILL)
    wait_for(lambda: get_run(up.api_url, admin, run_id)["state"] != "running", 120, "the run finished")
    run = get_run(up.api_url, admin, run_id)
    assert run["state"] == "succeeded", run["error"]
    assert run["mlflow_run_id"] and run["attestation_id"]
    assert "warning: mlflow exited with code -9; restarting it" in up.stderr


def test_after_sigkill_of_up_no_child_lives_on_the_run_records_nothing_and_the_next_up_starts(
    tmp_path: Path,
    up_env: dict[str, str],
    admin: str,
    demo_spec: PipelineSpec,
    launched: list[UpProcess],
) -> None:
    up = UpProcess(tmp_path / "run", up_env)
    launched.append(up)
    up.wait_ready()
    run_id = start_run(up, seed(up, admin, demo_spec))
    children = descendants(up.process.pid)
    assert any(" mlflow server " in f" {cmd} " for cmd in children.values())
    assert run_worker(up, tmp_path / "state" / "logs" / "runs" / f"{run_id}.log") in children

    up.process.kill()  # SIGKILL: no handler runs in `up`
    up.wait()
    wait_for(lambda: not any(alive(pid) for pid in children), 30, f"children gone: {children}")
    assert not port_in_use("127.0.0.1", int(up_env["HOKUSAI_MLFLOW_PORT"]))

    again = UpProcess(tmp_path / "again", up_env)
    launched.append(again)
    again.wait_ready()
    run = get_run(again.api_url, admin, run_id)
    assert run["state"] == "failed" and run["error"]["code"] == "worker_died"  # failed by the next start
    assert run["attestation_id"] is None and run["outcome"] is None
    log = (tmp_path / "state" / "logs" / "runs" / f"{run_id}.log").read_text()
    assert f"run {run_id} succeeded" not in log


def serving_again(up: UpProcess, dead: int) -> bool:
    """A new API process (not ``dead``) listens on the API port and answers /health."""
    if up.api_pid() in (None, dead):
        return False
    try:
        return httpx.get(f"{up.api_url}/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_crashed_api_is_restarted_while_mlflow_keeps_its_pid_and_the_run_it_held_fails(
    tmp_path: Path,
    up_env: dict[str, str],
    admin: str,
    demo_spec: PipelineSpec,
    launched: list[UpProcess],
) -> None:
    up = UpProcess(tmp_path / "run", up_env)
    launched.append(up)
    up.wait_ready()
    mlflow, api = mlflow_leader(up), up.api_pid()
    assert api is not None
    run_id = start_run(up, seed(up, admin, demo_spec))
    worker = run_worker(up, tmp_path / "state" / "logs" / "runs" / f"{run_id}.log")

    os.kill(api, signal.SIGSEGV)  # what a parser's stack overflow does
    wait_for(lambda: up.process.poll() is not None or serving_again(up, api), 120, "a new API serves")
    assert up.process.poll() is None, f"`up` exited with {up.process.returncode}: {up.stderr[-2000:]}"
    assert "warning: api exited with code -11; restarting it in 1 s (restart 1 of at most 5 a minute)" in (
        up.stderr
    )
    assert mlflow_leader(up) == mlflow  # MLflow kept its process and serves on
    mlflow_url = f"http://127.0.0.1:{up_env['HOKUSAI_MLFLOW_PORT']}"
    assert httpx.get(f"{mlflow_url}/health").status_code == 200
    up.wait_ready()
    me = httpx.get(f"{up.api_url}/api/v1/me", headers={"Authorization": f"Bearer {admin}"})
    assert me.status_code == 200 and "admin" in me.json()["scopes"]  # keys survive the restart
    run = get_run(up.api_url, admin, run_id)  # died with its API; failed by the new one, not left running
    assert run["state"] == "failed" and run["error"]["code"] == "worker_died", run
    assert process_state(worker) is None  # killed with the API and reaped by `up` (a zombie looks alive)

    second = up.api_pid()
    assert second not in (None, api, up.process.pid)
    os.kill(second, signal.SIGKILL)
    wait_for(lambda: up.process.poll() is not None or serving_again(up, second), 120, "a third API serves")
    assert "warning: api exited with code -9; restarting it in 2 s (restart 2 of at most 5 a minute)" in (
        up.stderr
    )
    assert mlflow_leader(up) == mlflow
    up.signal(signal.SIGTERM)
    assert up.wait() == 0
    assert not alive(mlflow)
    assert not port_in_use("127.0.0.1", int(up_env["HOKUSAI_API_PORT"]))


def test_up_gives_up_on_an_api_past_its_restart_limit_and_stops_mlflow(
    tmp_path: Path, up_env: dict[str, str], launched: list[UpProcess]
) -> None:
    up_env["HOKUSAI_API_MAX_RESTARTS_PER_MINUTE"] = "0"
    up = UpProcess(tmp_path / "run", up_env)
    launched.append(up)
    up.wait_ready()
    mlflow, api = mlflow_leader(up), up.api_pid()
    assert api is not None
    os.kill(api, signal.SIGSEGV)
    assert up.wait(60) == 1
    message = "error: api exited with code -11 and was restarted 0 time(s) in the last minute; gave up"
    assert f"{message} and stopped MLflow (limit: HOKUSAI_API_MAX_RESTARTS_PER_MINUTE=0)" in up.stderr
    assert "Application startup complete." in up.stderr.split(message, 1)[1]  # the API's own last lines
    wait_for(lambda: not alive(mlflow), 30, "MLflow stopped with `up`")
    assert not port_in_use("127.0.0.1", int(up_env["HOKUSAI_MLFLOW_PORT"]))
    assert not port_in_use("127.0.0.1", int(up_env["HOKUSAI_API_PORT"]))
