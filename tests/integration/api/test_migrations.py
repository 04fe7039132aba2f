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


def test_the_signer_history_is_backfilled_from_the_attestations_already_stored(database_url: str) -> None:
    """0010 turns each (signer, recorded domain) of the stored attestations into one published row, from
    its first to its last attestation; a legacy report (no domain with a chain id) publishes nothing."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import text

    from hokusai.server.db.models import SignerRecord

    if "hk_models" in table_names(database_url):
        command.downgrade(alembic_config(database_url), "base")
    upgrade_database(database_url, "0009")
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    k1, k2, contract = "0x" + "11" * 20, "0x" + "22" * 20, "0x" + "de" * 20
    signed = [  # signer, recorded domain, when
        (k1, {"name": "Hokusai Attestation", "version": "1", "chainId": 1}, t0),
        (k1, {"name": "Hokusai Attestation", "version": "1", "chainId": 1}, t0 + timedelta(days=3)),
        (k2, {"name": "Hokusai Attestation", "version": "1", "chainId": 1, "verifyingContract": contract},
         t0 + timedelta(days=9)),
        (k1, None, t0 - timedelta(days=30)),  # legacy: sealed before domains had a chain id
    ]  # fmt: skip
    engine = create_db_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO hk_principals (id, kind, roles, created_at) VALUES ('p1', 'key', '[]', :now)"),
            {"now": t0},
        )
        for dataset in ("train", "bench"):
            connection.execute(
                text(
                    "INSERT INTO hk_datasets (id, sha256, storage_key, size_bytes, format, row_count, "
                    "columns, manifest, created_by, created_at) "
                    "VALUES (:id, :id, :id, 1, 'csv', 1, '[]', '{}', 'p1', :now)"
                ),
                {"id": dataset, "now": t0},
            )
        connection.execute(
            text(
                "INSERT INTO hk_models (id, name, model_type, target_column, owner_id, baseline_version, "
                "source_uri, train_dataset_id, benchmark_dataset_id, data_schema, created_at) "
                "VALUES ('m', 'm', 'classification', 'y', 'p1', '1', 'upload:m', 'train', 'bench', '{}', "
                ":now)"
            ),
            {"now": t0},
        )
        for i, (signer, domain, when) in enumerate(signed):
            connection.execute(
                text(
                    "INSERT INTO hk_runs (id, model_id, state, submitted_by, request_hash, options, "
                    "created_at) VALUES (:id, 'm', 'succeeded', 'p1', 'h', '{}', :now)"
                ),
                {"id": f"r{i}", "now": when},
            )
            report = {"pipeline_run_id": f"a{i}"} | ({"attestation_domain": domain} if domain else {})
            connection.execute(
                text(
                    "INSERT INTO hk_attestations (id, run_id, hash_tree_root, signer, document, report, "
                    "created_at) VALUES (:id, :run, :root, :signer, '{}', :report, :now)"
                ),
                {"id": f"a{i}", "run": f"r{i}", "root": "0" * 64, "signer": signer,
                 "report": json.dumps(report), "now": when},
            )  # fmt: skip
    upgrade_database(database_url)
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        rows = session.query(SignerRecord).order_by(SignerRecord.valid_from).all()
        history = [(r.signer, r.chain_id, r.verifying_contract, r.valid_from, r.valid_to) for r in rows]
    engine.dispose()
    assert history == [
        (k1, 1, None, t0, t0 + timedelta(days=3)),
        (k2, 1, contract, t0 + timedelta(days=9), t0 + timedelta(days=9)),
    ]
    assert schema_difference(database_url) == []
