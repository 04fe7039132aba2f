"""A run submitted at the moment its contribution is withdrawn, or deleted by a retention sweep, on
PostgreSQL, with two sessions in two threads: whichever transaction takes the contribution's row first wins
and the other waits for it, then sees its outcome. Never a queued run on a withdrawn or deleted
contribution, never a sweep that deletes the data of a run queued meanwhile."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker

from hokusai.config import Settings
from hokusai.data.schema import ColumnSpec, Schema
from hokusai.errors import Conflict
from hokusai.pipeline.benchmark_spec import BenchmarkSpec
from hokusai.server.db import create_db_engine, session_factory, upgrade_database
from hokusai.server.db.models import (
    BenchmarkSpecRow,
    Contribution,
    Dataset,
    Model,
    Principal,
    Run,
    RunContribution,
    utcnow,
)
from hokusai.server.principal import Principal as Caller
from hokusai.server.services import rights, runs
from hokusai.storage import BlobStore

pytestmark = pytest.mark.realparts
WALLET = "0x" + "ab" * 20
CONTRIBUTOR = Caller(id="w", method="wallet", scopes=frozenset({"read", "write"}), wallet_address=WALLET)


@pytest.fixture
def world(pg_url: str, tmp_path: Path) -> Iterator[tuple[sessionmaker[Session], rights.Copies]]:
    """A model with a benchmark spec and one stored contribution of wallet ``WALLET``."""
    upgrade_database(pg_url)
    engine = create_db_engine(pg_url)
    sessions = session_factory(engine)
    now = utcnow()
    spec = BenchmarkSpec(
        task="binary", target_column="y", benchmark_sha256="0" * 64, cooldown_seconds=0,
        contribution_schema=Schema(columns={"y": ColumnSpec(type="int")}),
    )  # fmt: skip
    with sessions() as session:
        session.add_all([
            Principal(id="p", kind="user", name="owner", roles="read write", created_at=now),
            Principal(id="w", kind="wallet", wallet_address=WALLET, roles="read write", created_at=now),
        ])  # fmt: skip
        session.flush()
        for dataset_id in ("d", "c"):
            session.add(
                Dataset(id=dataset_id, sha256=dataset_id * 64, storage_key=f"{dataset_id}.csv", size_bytes=1,
                        format="csv", row_count=1, columns=["y"], manifest={}, created_by="p", created_at=now)
            )  # fmt: skip
        session.flush()
        session.add(
            Model(id="m", name="m", model_type="classification", target_column="y", owner_id="p",
                  baseline_version="1", source_uri="runs:/x/model", train_dataset_id="d",
                  benchmark_dataset_id="d", data_schema={}, created_at=now, model_hash="a" * 64,
                  model_format="skops", benchmark_spec_id="s")
        )  # fmt: skip
        session.flush()
        session.add(
            BenchmarkSpecRow(id="s", model_id="m", version=1, spec=spec.model_dump(mode="json"),
                             benchmark_dataset_id="d", created_by="p", created_at=now)
        )  # fmt: skip
        session.add(
            Contribution(id="c", model_id="m", dataset_id="c", contributor_address=WALLET, submitted_by="w",
                         validation={"valid": True, "findings": [], "findings_total": 0, "allow_pii": False},
                         created_at=now)
        )  # fmt: skip
        session.commit()
    settings = Settings(data_dir=tmp_path / "state")
    try:
        yield sessions, rights.Copies(BlobStore(str(tmp_path / "blobs")), settings)
    finally:
        engine.dispose()


def _submit(session: Session) -> Run:
    with session.no_autoflush:
        model = session.get(Model, "m")
    assert model is not None
    run, _ = runs.submit_run(
        session,
        CONTRIBUTOR,
        model=model,
        contribution_ids=["c"],
        options=runs.RunOptions(),
        idempotency_key=None,
    )
    return run


def _withdraw(session: Session, copies: rights.Copies) -> Any:
    contribution, model = session.get(Contribution, "c"), session.get(Model, "m")
    assert contribution is not None and model is not None
    return rights.withdraw(session, copies, CONTRIBUTOR, contribution, model)


def _race(
    sessions: sessionmaker[Session], first: Callable[[Session], Any], second: Callable[[Session], Any]
) -> tuple[Any, Any]:
    """``first`` runs (uncommitted) in one session; ``second`` starts in another thread and, once it waits
    on a lock (or finishes: the old code never waited), ``first`` commits. Each outcome or error."""
    one, two = sessions(), sessions()
    outcome: list[Any] = []

    def racer() -> None:
        try:
            outcome.append(second(two))
            two.commit()
        except Exception as exc:  # the refusal is the outcome
            two.rollback()
            outcome.append(exc)

    try:
        won = first(one)
        thread = threading.Thread(target=racer)
        thread.start()
        with sessions() as probe:  # wait for the second transaction to block on the first's row lock
            for _ in range(200):
                waiting = probe.scalar(
                    text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
                )
                if waiting or not thread.is_alive():
                    break
                time.sleep(0.05)
        one.commit()
        thread.join(30)
        assert not thread.is_alive() and len(outcome) == 1
        return won, outcome[0]
    finally:
        one.close()
        two.close()


def _queued_runs_on_withdrawn(session: Session) -> list[str]:
    query = (
        select(Run.id)
        .join(RunContribution, RunContribution.run_id == Run.id)
        .join(Contribution, Contribution.id == RunContribution.contribution_id)
        .where(Run.state.in_((runs.QUEUED, runs.RUNNING)), Contribution.withdrawn_at.is_not(None))
    )
    return list(session.scalars(query))


def test_a_withdrawal_that_commits_first_refuses_the_run_submitted_meanwhile(world: Any) -> None:
    sessions, copies = world
    withdrawal, submission = _race(sessions, lambda s: _withdraw(s, copies), _submit)
    assert withdrawal.cancelled_runs == []
    assert isinstance(submission, Conflict) and submission.code == "contribution_withdrawn", submission
    with sessions() as session:
        assert _queued_runs_on_withdrawn(session) == [] and session.scalars(select(Run)).all() == []


def test_a_run_that_commits_first_is_cancelled_by_the_withdrawal_that_waited_for_it(world: Any) -> None:
    sessions, copies = world
    run, withdrawal = _race(sessions, _submit, lambda s: _withdraw(s, copies))
    assert not isinstance(withdrawal, Exception), withdrawal
    assert withdrawal.cancelled_runs == [run.id]
    with sessions() as session:
        assert _queued_runs_on_withdrawn(session) == []
        stored = session.get(Run, run.id)
        assert stored is not None and (stored.state, stored.error_code) == (
            runs.FAILED,
            "contribution_withdrawn",
        )


def _age(sessions: sessionmaker[Session], days: int) -> None:
    """Make the contribution ``days`` old: past any retention period the tests use."""
    with sessions() as session:
        session.execute(
            update(Contribution)
            .where(Contribution.id == "c")
            .values(created_at=utcnow() - timedelta(days=days))
        )
        session.commit()


def _sweep(session: Session, copies: rights.Copies) -> Any:
    return rights.sweep(session, copies, utcnow(), dry_run=False)


def test_a_retention_sweep_that_commits_first_refuses_the_run_submitted_meanwhile(world: Any) -> None:
    sessions, copies = world
    _age(sessions, copies.settings.retention_days + 1)
    swept, submission = _race(sessions, lambda s: _sweep(s, copies), _submit)
    assert [item.contribution_id for item in swept.items] == ["c"] and swept.items[0].deleted
    assert isinstance(submission, Conflict) and submission.code == "contribution_data_deleted", submission
    with sessions() as session:
        assert session.scalars(select(Run)).all() == []


def test_a_run_that_commits_first_keeps_its_data_from_the_sweep_that_waited_for_it(world: Any) -> None:
    sessions, copies = world
    _age(sessions, copies.settings.retention_days + 1)
    run, swept = _race(sessions, _submit, lambda s: _sweep(s, copies))
    assert not isinstance(swept, Exception), swept
    assert swept.items == []  # it re-read the row after the lock: a queued run uses it
    with sessions() as session:
        contribution = session.get(Contribution, "c")
        assert contribution is not None and contribution.data_deleted_at is None
        stored = session.get(Run, run.id)
        assert stored is not None and stored.state == runs.QUEUED
