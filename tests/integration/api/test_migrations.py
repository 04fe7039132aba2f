"""Alembic migrations build exactly the ORM's schema on SQLite and PostgreSQL, and go down again."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from hokusai.server.db import create_db_engine, upgrade_database
from hokusai.server.db.migrate import VERSION_TABLE, alembic_config
from hokusai.server.db.models import Base

pytestmark = pytest.mark.realparts

TABLES = {"hk_principals", "hk_api_keys", "hk_signin_nonces", "hk_wallet_grants", "hk_audit_events"}


def schema_difference(url: str) -> list[object]:
    engine = create_db_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    return [d for d in diff if not (d[0] == "remove_table" and d[1].name == VERSION_TABLE)]


def table_names(url: str) -> set[str]:
    engine = create_db_engine(url)
    with engine.connect() as connection:
        names = set(inspect(connection).get_table_names())
    engine.dispose()
    return names


def test_migrations_create_exactly_the_models_schema(database_url: str) -> None:
    upgrade_database(database_url)
    upgrade_database(database_url)  # idempotent
    assert table_names(database_url) >= TABLES
    assert schema_difference(database_url) == []


def test_downgrade_to_the_baseline_drops_the_security_tables(database_url: str) -> None:
    upgrade_database(database_url)
    command.downgrade(alembic_config(database_url), "0001")
    assert table_names(database_url) == {VERSION_TABLE}
    upgrade_database(database_url)
    assert table_names(database_url) >= TABLES
