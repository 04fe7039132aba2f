"""Engine and session factory for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, cast

from sqlalchemy import CursorResult, Engine, Result, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def create_db_engine(url: str, *, connect_timeout: float = 5.0) -> Engine:
    """An engine for ``url``; SQLite gets WAL + foreign keys, PostgreSQL a connect timeout."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 5})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url, pool_pre_ping=True, connect_args={"connect_timeout": max(1, round(connect_timeout))}
    )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (responses read them afterwards)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


Cache = Literal["credential", "mlflow_levels"]
_FORGET = "hokusai.forget"  # session.info key: the cache entries a commit of this session ends


def forget_on_commit(session: Session, cache: Cache, *tags: str) -> None:
    """When this session commits, the process's ``cache`` drops what it holds for ``tags``.

    ``credential``: key ids and sign-in nonces (the authenticator's verdicts); ``mlflow_levels``: principal
    ids (their MLflow permission levels). Services call it beside the change itself, so no caller has to
    remember; a rollback forgets nothing.
    """
    session.info.setdefault(_FORGET, set()).update((cache, tag) for tag in tags)


def forget_after_commits(
    factory: sessionmaker[Session], caches: Mapping[Cache, Callable[[str], None]]
) -> None:
    """Wire ``forget_on_commit`` for sessions from ``factory`` to the process's caches."""

    def forget(session: Session) -> None:
        for cache, tag in session.info.pop(_FORGET, set()):
            caches[cache](tag)

    def drop(session: Session, _previous: Any = None) -> None:
        session.info.pop(_FORGET, None)

    event.listen(factory, "after_commit", forget)
    event.listen(factory, "after_soft_rollback", drop)


def changed_rows(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE changed (its cursor's rowcount; SQLAlchemy types a DML
    ``Session.execute`` as a plain ``Result``)."""
    return cast(CursorResult[Any], result).rowcount
