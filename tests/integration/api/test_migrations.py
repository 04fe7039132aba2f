"""Alembic migrations build exactly the ORM's schema on SQLite and PostgreSQL, and go down again."""

from __future__ import annotations

import json

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


def test_existing_models_get_a_benchmark_spec_derived_from_their_registration(database_url: str) -> None:
    """0005 gives every model version 1 of its spec: the pinned benchmark, the task (regressor,
    or more than two labels in the training data's manifest: multiclass), its seed and its schema."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    from hokusai.pipeline.benchmark_spec import BenchmarkSpec

    command.downgrade(alembic_config(database_url), "base") if "hk_models" in table_names(
        database_url
    ) else None
    upgrade_database(database_url, "0004")
    now = datetime.now(UTC)
    schema = {"label": "y", "columns": {"x": {"type": "float"}, "y": {"type": "int"}}}
    engine = create_db_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO hk_principals (id, kind, roles, created_at) VALUES ('p1', 'key', :roles, :now)"
            ),
            {"roles": '["owner"]', "now": now},
        )
        for dataset, sha, labels in (("train", "a" * 64, 3), ("bench", "b" * 64, 3)):
            connection.execute(
                text(
                    "INSERT INTO hk_datasets (id, sha256, storage_key, size_bytes, format, row_count, "
                    "columns, manifest, created_by, created_at) "
                    "VALUES (:id, :sha, :key, 1, 'csv', 1, :columns, :manifest, 'p1', :now)"
                ),
                {"id": dataset, "sha": sha, "key": f"sha256/{sha}.csv", "columns": '["x", "y"]',
                 "manifest": json.dumps({"unique_counts": {"y": labels}}), "now": now},
            )  # fmt: skip
        for model, kind, seed in (("m-classes", "classification", 7), ("m-reg", "regression", 42)):
            connection.execute(
                text(
                    "INSERT INTO hk_models (id, name, model_type, target_column, owner_id, baseline_version, "
                    "source_uri, train_dataset_id, benchmark_dataset_id, data_schema, created_at, "
                    "evaluation_seed) VALUES (:id, :id, :kind, 'y', 'p1', '1', 'upload:m', 'train', 'bench', "
                    ":schema, :now, :seed)"
                ),
                {"id": model, "kind": kind, "schema": json.dumps(schema), "now": now, "seed": seed},
            )
    upgrade_database(database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT m.name, s.spec, s.version, s.benchmark_dataset_id FROM hk_models m "
                "JOIN hk_benchmark_specs s ON s.id = m.benchmark_spec_id ORDER BY m.name"
            )
        ).all()
    engine.dispose()
    specs = {name: BenchmarkSpec.model_validate(json.loads(spec) if isinstance(spec, str) else spec)
             for name, spec, _, _ in rows}  # fmt: skip
    assert {(name, version, bench) for name, _, version, bench in rows} == {
        ("m-classes", 1, "bench"),
        ("m-reg", 1, "bench"),
    }
    assert (
        specs["m-classes"].task,
        specs["m-classes"].seed,
        specs["m-classes"].primary_for("multiclass"),
    ) == ("multiclass", 7, "accuracy")
    assert specs["m-reg"].task == "regression" and specs["m-reg"].benchmark_sha256 == "b" * 64
    assert specs["m-reg"].contribution_schema.allow_extra_columns is False
    assert schema_difference(database_url) == []
