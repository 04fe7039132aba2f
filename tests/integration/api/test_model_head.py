"""The model's head is taken by compare-and-set, on SQLite and PostgreSQL: of two transactions that both
try to take one head at the same time, the second waits for the first and then loses with the reason;
the cooldown is part of the same update; a claim pins the head the run evaluates."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from hokusai.server.db import create_db_engine, session_factory, upgrade_database
from hokusai.server.db.models import Dataset, Model, Principal, Run, utcnow
from hokusai.server.services import runs

pytestmark = pytest.mark.realparts


def _world(session: Session, *, runs_on_v1: int) -> tuple[str, list[str]]:
    """A model at version 1 (file ``a``·64) and ``runs_on_v1`` queued runs of it; their ids."""
    now = utcnow()
    session.add(Principal(id="p", kind="user", name="owner", roles="read write", created_at=now))
    session.add(
        Dataset(
            id="d", sha256="0" * 64, storage_key="k", size_bytes=1, format="csv", row_count=1, columns=["x"],
            manifest={}, created_by="p", created_at=now,
        )
    )  # fmt: skip
    session.flush()
    session.add(
        Model(
            id="m", name="m", model_type="classification", target_column="y", owner_id="p",
            baseline_version="1", source_uri="runs:/x/model", train_dataset_id="d", benchmark_dataset_id="d",
            data_schema={}, created_at=now, model_hash="a" * 64, model_format="skops",
        )
    )  # fmt: skip
    session.flush()
    ids = [uuid.uuid4().hex for _ in range(runs_on_v1)]
    for run_id in ids:
        session.add(
            Run(id=run_id, model_id="m", state=runs.QUEUED, submitted_by="p", request_hash="h", options={},
                created_at=now)
        )  # fmt: skip
    session.commit()
    return "m", ids


def test_two_runs_on_one_head_one_wins_and_the_other_waits_then_says_superseded(database_url: str) -> None:
    upgrade_database(database_url)
    engine = create_db_engine(database_url)
    sessions = session_factory(engine)
    try:
        with sessions() as session:
            _, (first, second) = _world(session, runs_on_v1=2)
            assert runs.claim(session, first, "w1") and runs.claim(session, second, "w2")
            session.commit()
            pinned = [(r.baseline_version, r.baseline_hash, r.baseline_format) for r in session.query(Run)]
        assert pinned == [("1", "a" * 64, "skops")] * 2  # the head each run evaluates, pinned by the claim
        winner, loser = sessions(), sessions()
        now = utcnow()
        taken = runs.take_head(
            winner, winner.get(Run, first), version="2", model_hash="b" * 64, cooldown_seconds=0, now=now
        )
        assert taken is None  # not committed yet: the winner holds the model row
        lost: list[str | None] = []
        racer = threading.Thread(
            target=lambda: lost.append(
                runs.take_head(loser, loser.get(Run, second), version="3", model_hash="c" * 64,
                               cooldown_seconds=0, now=now)
            )
        )  # fmt: skip
        racer.start()
        racer.join(0.5)
        assert not lost  # it waits for the first transaction ...
        winner.commit()
        racer.join(30)
        assert lost == [runs.SUPERSEDED]  # ... and then finds the head moved
        loser.commit()
        winner.close()
        loser.close()
        with sessions() as session:
            model = session.get(Model, "m")
            assert model is not None
            assert (model.baseline_version, model.model_hash, model.accepted_at) == ("2", "b" * 64, now)
    finally:
        engine.dispose()


def test_an_acceptance_inside_the_cooldown_loses_and_a_later_run_evaluates_the_new_head(
    database_url: str,
) -> None:
    upgrade_database(database_url)
    engine = create_db_engine(database_url)
    sessions = session_factory(engine)
    try:
        with sessions() as session:
            _, (first, later) = _world(session, runs_on_v1=2)
            assert runs.claim(session, first, "w1")
            now = utcnow()
            taken = runs.take_head(
                session,
                session.get(Run, first),
                version="2",
                model_hash="b" * 64,
                cooldown_seconds=3600,
                now=now,
            )
            assert taken is None
            session.commit()
            assert runs.claim(session, later, "w2")  # claimed after the acceptance: it evaluates version 2
            session.commit()
            run = session.get(Run, later)
            assert run is not None and (run.baseline_version, run.baseline_hash) == ("2", "b" * 64)
            soon = now + timedelta(minutes=10)
            assert (
                runs.take_head(
                    session, run, version="3", model_hash="c" * 64, cooldown_seconds=3600, now=soon
                )
                == runs.COOLDOWN
            )
            session.commit()
            model = session.get(Model, "m")
            assert model is not None and model.baseline_version == "2"
    finally:
        engine.dispose()
