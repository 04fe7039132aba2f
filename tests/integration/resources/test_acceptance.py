"""One acceptance per baseline, decided when a run's result is stored; an attestation only for a run stored
as succeeded.

Real parts: a served platform whose runs execute in real worker processes (two at once), a real MLflow
server, the breast-cancer demo's files. Four runs race on one model with cooldown 0, each with a
contribution that is accepted alone: the model's head moves by compare-and-set, so exactly one run takes
each head, the others say ``baseline_superseded``, the lineage is a chain that counts each acceptance once,
and there is one ``deltaone.accepted`` event per accepted run. Then the MLflow server is stopped for good
the moment the platform has signed a run's attestation (a signer proxy in front of ``/sign``), so the run
fails at "record": nothing is stored, served or verified for it, also after the platform restarts.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa
from eth_account import Account
from mlflow.tracking import MlflowClient

import hokusai
from tests.integration.resources.conftest import DOMAIN, DemoFiles
from tests.support.mlflow import MlflowServer, mlflow_settings
from tests.support.net import free_port
from tests.support.platform import Platform, serve_platform

pytestmark = pytest.mark.realparts

RACERS = 4  # more than the two workers: two rounds of two runs at once


def _owner(platform: Platform, admin: hokusai.Client, name: str) -> hokusai.Client:
    key = admin.keys.create(name, ["read", "write"], principal_name=name).key
    return hokusai.Client(api_key=key, url=platform.url)


def _rows(platform: Platform, query: str, **params: Any) -> list[Any]:
    """Rows of the platform's own database (what is stored, whatever the API shows)."""
    engine = sa.create_engine(str(platform.settings.database_url))
    try:
        with engine.connect() as connection:
            return list(connection.execute(sa.text(query), params))
    finally:
        engine.dispose()


def test_racing_runs_take_each_head_once_and_the_lineage_counts_each_acceptance_once(
    tmp_path: Path,
    mlflow_server,
    demo_files: DemoFiles,  # type: ignore[no-untyped-def]
) -> None:
    settings = mlflow_settings(
        tmp_path / "state", mlflow_url=mlflow_server.url, public_domain=DOMAIN, job_workers=2
    )
    rows = pd.read_csv(demo_files.contribution)
    files = []
    for i in range(RACERS):  # the helpful contribution less one row: four contributions, each accepted alone
        path = tmp_path / f"contribution-{i}.csv"
        rows.drop(index=rows.index[i]).to_csv(path, index=False)
        files.append(path)
    with serve_platform(settings) as platform, platform.client() as admin:
        owner = _owner(platform, admin, "racer")
        owner.models.register(
            "race", target=demo_files.target, train=demo_files.base, benchmark=demo_files.benchmark,
            archive=demo_files.model_dir, spec={"cooldown_seconds": 0},
        )  # fmt: skip
        genesis = owner.models.get("race").model_dump()["baseline_version"]
        contributions = [admin.contributions.submit("race", path, signer=Account.create()) for path in files]
        submitted = [owner.runs.submit("race", [c.id]) for c in contributions]  # all at once
        final = {run.id: owner.runs.wait(run.id, timeout=900, interval=1.5) for run in submitted}
        lineage = owner.models.lineage("race")
        head = owner.models.get("race").model_dump()["baseline_version"]
        stored = {
            row.id: row
            for row in _rows(
                platform,
                "SELECT id, baseline_version, finished_at FROM hk_runs WHERE model_id = "
                "(SELECT id FROM hk_models WHERE name = 'race')",
            )
        }
        events = _rows(platform, "SELECT payload FROM hk_outbox WHERE event_type = 'deltaone.accepted'")
        versions = MlflowClient(tracking_uri=mlflow_server.url).search_model_versions("name = 'race'")
    assert all(run.state == "succeeded" for run in final.values()), {r.id: r.error for r in final.values()}
    accepted = sorted(
        (run for run in final.values() if run.outcome == "accepted"), key=lambda r: stored[r.id].finished_at
    )
    evaluated = [stored[run.id].baseline_version for run in accepted]
    assert accepted and len(set(evaluated)) == len(evaluated), evaluated  # one acceptance per baseline
    chain = [genesis] + [str(run.registered_version) for run in accepted]
    assert evaluated == chain[:-1]  # each accepted run's baseline is the head the one before made
    assert head == chain[-1]

    for run in final.values():
        if run.outcome == "accepted":
            assert run.attestation_id and run.registered_version
            continue
        result = run.model_dump()["result"]
        if stored[run.id].baseline_version != genesis or result.get("evaluated_outcome") is None:
            continue  # evaluated against a later head: the data does not beat it (the lineage is a chain)
        assert run.outcome == "baseline_superseded", result  # each would have been accepted alone
        assert result["accepted"] is False and result["evaluated_outcome"] == "accepted"
        assert "head" in result["reason_text"]
        assert run.attestation_id is None and run.registered_version is None
    assert sum(run.outcome == "baseline_superseded" for run in final.values()) >= 1  # two raced on each head

    improvements = [v for v in lineage.versions if v.role == "improvement"]
    assert [v.run_id for v in improvements] == [run.id for run in accepted]
    assert all(v.counted for v in improvements)
    gains = sum(run.model_dump()["result"]["gain"] for run in accepted)
    assert lineage.cumulative_improvement == pytest.approx(gains, abs=1e-5)  # each acceptance once
    assert lineage.baseline_version == head
    claimed = {str(run.registered_version) for run in final.values() if run.registered_version}
    assert {v.version for v in lineage.versions if v.role != "baseline"} == claimed
    candidates = {str(v.version) for v in versions if v.tags.get("hokusai.role") == "candidate"}
    assert candidates == claimed  # a version that lost the head was taken back from the registry

    payloads = [json.loads(e.payload) if isinstance(e.payload, str) else e.payload for e in events]
    assert sorted(p["data"]["run_id"] for p in payloads) == sorted(run.id for run in accepted)


class SignerProxy:
    """Forwards the worker's ``POST /api/v1/runs/{id}/sign`` to the platform and, once the platform has
    signed, calls ``after_sign`` before the worker gets the answer: a fault exactly between attest and
    record."""

    def __init__(self, after_sign: Any) -> None:
        self.upstream = ""
        self.signed: list[dict[str, Any]] = []
        self.after_sign = after_sign
        self.port = free_port()

    @contextmanager
    def serving(self) -> Iterator[SignerProxy]:
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")
                }
                answer = httpx.post(proxy.upstream + self.path, content=body, headers=headers, timeout=60)
                if answer.status_code == 200:
                    proxy.signed.append(answer.json()["attestation"])
                    proxy.after_sign()
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("content-type", "application/json"))
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, *args: Any) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()


def test_a_run_that_fails_at_record_after_signing_leaves_no_attestation(
    tmp_path: Path,
    demo_files: DemoFiles,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # the worker's MLflow calls fail at once
    mlflow = MlflowServer(mlflow_settings(tmp_path / "mlflow")).start()
    proxy = SignerProxy(after_sign=mlflow.stop)  # MLflow goes away for good once the run is signed
    settings = mlflow_settings(
        tmp_path / "state", mlflow_url=mlflow.url, public_domain=DOMAIN, job_workers=1,
        signer_url=f"http://127.0.0.1:{proxy.port}",
    )  # fmt: skip
    wallet = Account.create()
    try:
        with proxy.serving(), serve_platform(settings) as platform, platform.client() as admin:
            proxy.upstream, admin_key = platform.url, platform.admin_key
            owner = _owner(platform, admin, "unlucky")
            owner.models.register(
                "unlucky", target=demo_files.target, train=demo_files.base, benchmark=demo_files.benchmark,
                archive=demo_files.model_dir,
            )  # fmt: skip
            contribution = admin.contributions.submit("unlucky", demo_files.contribution, signer=wallet)
            run = owner.runs.wait(
                owner.runs.submit("unlucky", [contribution.id]).id, timeout=600, interval=0.5
            )
            assert len(proxy.signed) == 1  # the platform did sign: the fault came after that
            document = proxy.signed[0]
            attestation_id = document["metadata"]["pipeline_run_id"]
            assert run.state == "failed" and run.error is not None
            assert run.error.code == "mlflow_unavailable", run.error
            assert run.attestation_id is None
            with httpx.Client(
                base_url=platform.url, headers={"Authorization": f"Bearer {admin_key}"}
            ) as http:
                assert http.get(f"/api/v1/attestations/{attestation_id}").status_code == 404
                assert http.get(f"/api/v1/attestations/{attestation_id}/report").status_code == 404
                verdict = http.post("/api/v1/attestations/verify", json={"attestation": document}).json()
                assert verdict["valid"] is False  # no stored report vouches for it
            assert _rows(platform, "SELECT id FROM hk_attestations") == []
        with serve_platform(settings) as restarted:  # the same database: nothing comes back
            with httpx.Client(
                base_url=restarted.url, headers={"Authorization": f"Bearer {admin_key}"}
            ) as http:
                assert http.get(f"/api/v1/attestations/{attestation_id}").status_code == 404
                assert http.get(f"/api/v1/runs/{run.id}").json()["state"] == "failed"
            assert _rows(restarted, "SELECT id FROM hk_attestations") == []
    finally:
        mlflow.stop()
