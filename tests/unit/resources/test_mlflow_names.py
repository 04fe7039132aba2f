"""MLflow grants live and die with their object, and platform models' MLflow names are the platform's
(``services.mlflow_permissions``), on a real SQLite database migrated to head."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from hokusai.errors import Forbidden
from hokusai.server.db import create_db_engine, session_factory, upgrade_database
from hokusai.server.db.models import Dataset, Model, utcnow
from hokusai.server.policy import MlflowLevel
from hokusai.server.principal import Principal
from hokusai.server.services import mlflow_permissions as perms
from hokusai.server.services.principals import user_principal


@pytest.fixture
def session(tmp_path: Path):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'platform.db'}"
    upgrade_database(url)
    with session_factory(create_db_engine(url))() as session:
        yield session


def _principal(session: Session, name: str, role: str = "owner") -> Principal:
    row = user_principal(session, name, frozenset({"read", "write"}))
    session.flush()
    return Principal(id=row.id, method="api_key", scopes=frozenset({"read", "write"}), role=role)


def test_a_recreated_names_creator_holds_the_only_grant(session: Session) -> None:
    squatter, reader, owner = (_principal(session, n) for n in ("squatter", "reader", "owner"))
    perms.grant_creator(session, "registered_model", "m", squatter.id, granted_by=squatter.id)
    perms.set_level(session, "registered_model", "m", reader.id, MlflowLevel.READ, granted_by=squatter.id)
    perms.grant_creator(session, "registered_model", "m", owner.id, granted_by=None)  # made again
    held = {p.principal_id: p.permission for p in perms.permissions_on(session, "registered_model", "m")}
    assert held == {owner.id: "MANAGE"}


def test_forgetting_a_deleted_resource_drops_every_grant_on_it_and_nothing_else(session: Session) -> None:
    a, b = _principal(session, "a"), _principal(session, "b")
    perms.grant_creator(session, "experiment", "1", a.id, granted_by=a.id)
    perms.set_level(session, "experiment", "1", b.id, MlflowLevel.EDIT, granted_by=a.id)
    perms.grant_creator(session, "experiment", "2", a.id, granted_by=a.id)
    assert perms.forget_resource(session, "experiment", "1", removed_by=a.id) == 2
    assert perms.permissions_on(session, "experiment", "1") == []
    assert perms.level_of(session, a.id, "experiment", "2") == MlflowLevel.MANAGE


def test_platform_model_names_are_reserved_to_everyone_but_admins(session: Session) -> None:
    owner = _principal(session, "owner")
    admin = Principal(id=owner.id, method="api_key", scopes=frozenset({"admin"}), role="admin")
    data = Dataset(
        id="d", sha256="0" * 64, storage_key="k", size_bytes=1, format="csv", row_count=1, columns=["y"],
        manifest={}, created_by=owner.id, created_at=utcnow(),
    )  # fmt: skip
    session.add(data)
    session.flush()
    model = Model(
        id="f" * 32, name="taken", model_type="classification", target_column="y", owner_id=owner.id,
        baseline_version="1", source_uri="upload:m.tar.gz", train_dataset_id="d",
        benchmark_dataset_id="d", data_schema={}, created_at=utcnow(),
    )  # fmt: skip
    session.add(model)
    session.flush()
    for resource_type, name in (("experiment", "hokusai/anything"), ("registered_model", "taken")):
        with pytest.raises(Forbidden) as refused:
            perms.check_mlflow_name(session, owner, resource_type, name)
        assert refused.value.code == "mlflow_name_reserved"
        perms.check_mlflow_name(session, admin, resource_type, name)
    for resource_type, name in (("experiment", "my-hokusai/x"), ("registered_model", "free")):
        perms.check_mlflow_name(session, owner, resource_type, name)
