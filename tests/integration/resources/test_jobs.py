"""Job runners: a bounded local process pool, and ECS RunTask against a real moto server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import pytest

from hokusai.errors import ServiceUnavailable
from hokusai.server.jobs import EcsRunner, LocalRunner, local_worker_id

# A stand-in for `hokusai worker standby`: it notes when it started, reads its run from stdin, records when
# it got it, the token and whether a token was in its environment; "bad" exits 3.
STANDBY = """
import json, os, sys, time
started = time.time()
job = json.loads(sys.stdin.readline())
open(os.path.join(sys.argv[1], job["run_id"]), "w").write(json.dumps({
    "started": started, "got": time.time(), "token": job["token"], "env": "HOKUSAI_RUN_TOKEN" in os.environ,
    "log": job["log"],
}))
time.sleep(0.3)
sys.exit(3 if job["run_id"] == "bad" else 0)
"""


def test_local_runner_hands_each_run_to_a_worker_started_ahead_and_reports_its_exit(
    tmp_path: Path,
) -> None:
    done: dict[str, int] = {}
    finished = threading.Event()

    def on_exit(run_id: str, code: int) -> None:
        done[run_id] = code
        if len(done) == 3:
            finished.set()

    runner = LocalRunner(
        on_exit, max_workers=2, command=lambda: [sys.executable, "-c", STANDBY, str(tmp_path)],
        log_dir=tmp_path / "logs", standby_delay=0.01,
    )  # fmt: skip
    time.sleep(1.0)  # both slots start their worker ahead of any run
    submitted = time.time()
    for run_id in ("a", "b", "bad"):
        runner.submit(run_id, f"token-of-{run_id}")
    assert finished.wait(20)
    runner.shutdown()
    assert done == {"a": 0, "b": 0, "bad": 3}
    seen = {r: json.loads((tmp_path / r).read_text()) for r in ("a", "b", "bad")}
    assert [seen[r]["token"] for r in ("a", "b", "bad")] == ["token-of-a", "token-of-b", "token-of-bad"]
    assert not any(s["env"] for s in seen.values())  # the token reaches the worker on stdin only
    assert seen["a"]["log"] == str(tmp_path / "logs" / "a.log")
    assert seen["a"]["started"] < submitted and seen["b"]["started"] < submitted  # started ahead of the run
    gots = sorted(s["got"] for s in seen.values())
    assert gots[2] - gots[0] >= 0.25  # the third waited for a free slot: at most two at once


def test_local_worker_liveness_follows_the_process() -> None:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    runner = LocalRunner(lambda run_id, code: None, max_workers=1)
    try:
        assert runner.is_alive(local_worker_id(process.pid))
        process.kill()
        process.wait()
        assert not runner.is_alive(local_worker_id(process.pid))
        assert not runner.is_alive("local:another-host:1")
        assert runner.is_alive(local_worker_id(os.getpid()))
    finally:
        runner.shutdown()


@pytest.mark.realparts
def test_ecs_runner_starts_a_fargate_task_with_the_worker_command(moto_server) -> None:  # type: ignore[no-untyped-def]
    ecs = boto3.client("ecs", endpoint_url=moto_server.endpoint, region_name="us-east-1")
    ec2 = boto3.client("ec2", endpoint_url=moto_server.endpoint, region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})  # as in infrastructure/
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="runs", Description="runs", VpcId=vpc)["GroupId"]
    ecs.create_cluster(clusterName="hokusai-test")
    container = {"name": "api", "image": "hokusai-api:1", "memory": 512, "essential": True}
    ecs.register_task_definition(
        family="hokusai-api",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[container],
    )
    runner = EcsRunner(
        cluster="hokusai-test",
        task_definition="hokusai-api",
        subnets=[subnet],
        security_groups=[group],
        client=ecs,
    )
    runner.submit("run123", "the-token")
    task = ecs.describe_tasks(
        cluster="hokusai-test", tasks=ecs.list_tasks(cluster="hokusai-test")["taskArns"]
    )["tasks"][0]
    assert task["overrides"]["containerOverrides"][0]["command"] == ["hokusai", "worker", "run", "run123"]
    assert task["overrides"]["containerOverrides"][0]["environment"] == [
        {"name": "HOKUSAI_RUN_TOKEN", "value": "the-token"}
    ]
    assert task["launchType"] == "FARGATE"
    assert runner.is_alive(f"ecs:{task['taskArn']}")
    ecs.stop_task(cluster="hokusai-test", task=task["taskArn"])
    assert not runner.is_alive(f"ecs:{task['taskArn']}")


@pytest.mark.realparts
def test_ecs_runner_reports_a_missing_cluster_clearly(moto_server) -> None:  # type: ignore[no-untyped-def]
    ecs = boto3.client("ecs", endpoint_url=moto_server.endpoint, region_name="us-east-1")
    runner = EcsRunner(cluster="nope", task_definition="nope", subnets=[], security_groups=[], client=ecs)
    with pytest.raises(ServiceUnavailable, match="could not start an ECS task for run r1"):
        runner.submit("r1", "t")
