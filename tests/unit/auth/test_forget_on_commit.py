"""A change to a key, a sign-in or a grant ends the cached verdicts when, and only when, it commits."""

from __future__ import annotations

from pathlib import Path

from hokusai.server.db import create_db_engine, session_factory, upgrade_database
from hokusai.server.db.engine import forget_after_commits, forget_on_commit
from hokusai.server.services.keys import create_key, revoke_key


def _sessions(tmp_path: Path):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'platform.db'}"
    upgrade_database(url)
    return session_factory(create_db_engine(url))


def test_a_revoked_key_is_forgotten_by_the_credential_cache_when_the_revocation_commits(
    tmp_path: Path,
) -> None:
    sessions = _sessions(tmp_path)
    forgotten: list[tuple[str, str]] = []
    forget_after_commits(
        sessions,
        {"credential": lambda t: forgotten.append(("credential", t)),
         "mlflow_levels": lambda t: forgotten.append(("mlflow_levels", t))},
    )  # fmt: skip
    with sessions() as session:
        created = create_key(session, actor=None, name="ci", scopes=frozenset({"read"}), live=False,
                             principal_name="ci")  # fmt: skip
        session.commit()
        assert forgotten == []  # creating a key ends no verdict
        revoke_key(session, created.row.id, actor=None)
        assert forgotten == []  # not before the commit
        session.commit()
    assert forgotten == [("credential", created.row.id)]


def test_a_rolled_back_revocation_forgets_nothing(tmp_path: Path) -> None:
    sessions = _sessions(tmp_path)
    forgotten: list[str] = []
    forget_after_commits(sessions, {"credential": forgotten.append, "mlflow_levels": forgotten.append})
    with sessions() as session:
        created = create_key(session, actor=None, name="ci", scopes=frozenset({"read"}), live=False,
                             principal_name="ci")  # fmt: skip
        session.commit()
        revoke_key(session, created.row.id, actor=None)
        session.rollback()  # the revocation did not happen: the key's verdicts stand
        forget_on_commit(session, "credential", "other")
        session.commit()
    assert forgotten == ["other"]
