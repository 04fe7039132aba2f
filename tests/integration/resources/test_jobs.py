"""Job runners: a bounded local process pool, and ECS RunTask against a real moto server."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import boto3
import pytest

from hokusai.errors import ServiceUnavailable
from hokusai.server.jobs import EcsRunner, LocalRunner, local_worker_id


def test_local_runner_runs_each_job_and_reports_its_exit_code(tmp_path: Path) -> None:
    done: dict[str, int] = {}
    finished = threading.Event()

    def on_exit(run_id: str, code: int) -> None:
        done[run_id] = code
        if len(done) == 3:
            finished.set()

    def command(run_id: str) -> list[str]:
        # each job records when it ran and the token it was given; "bad" exits 3
        return [sys.executable, "-c",
                f"import os,time,sys; open({str(tmp_path)!r}+'/'+{run_id!r},'w').write("
                f"str(time.time())+' '+os.environ['HOKUSAI_RUN_TOKEN']);"
                f"time.sleep(0.3); sys.exit(3 if {run_id!r}=='bad' else 0)"]  # fmt: skip

    runner = LocalRunner(on_exit, max_workers=2, command=command, log_dir=tmp_path / "logs")
    for run_id in ("a", "b", "bad"):
        runner.submit(run_id, f"token-of-{run_id}")
    assert finished.wait(20)
    runner.shutdown()
    assert done == {"a": 0, "b": 0, "bad": 3}
    assert [(tmp_path / r).read_text().split()[1] for r in ("a", "b", "bad")] == [
        "token-of-a", "token-of-b", "token-of-bad"
    ]  # fmt: skip
    starts = sorted(float((tmp_path / r).read_text().split()[0]) for r in ("a", "b", "bad"))
    assert starts[2] - starts[0] >= 0.25  # the third waited for a free slot: at most two at once


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
