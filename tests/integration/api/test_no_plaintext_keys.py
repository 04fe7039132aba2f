"""No created key is ever at rest or in a log: grep the database, the JSON logs and the test output."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import httpx
import pytest
from sqlalchemy import inspect, text

from hokusai.api_keys import hash_key
from hokusai.log import JsonFormatter
from hokusai.server.db import create_db_engine
from tests.integration.api.conftest import PROBE, Api

pytestmark = pytest.mark.realparts


def database_text(url: str) -> bytes:
    """Every byte the database holds: the SQLite files themselves, or every hk_ row of PostgreSQL as text."""
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    engine = create_db_engine(url)
    with engine.connect() as connection:
        tables = [t for t in inspect(connection).get_table_names() if t.startswith("hk_")]
        rows = [
            connection.execute(text(f"SELECT t::text FROM {table} t")).scalars().all() for table in tables
        ]
    engine.dispose()
    return "\n".join(str(value) for table in rows for value in table).encode()


def test_plaintext_keys_are_nowhere_in_database_logs_or_output(
    api: Api, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logging.getLogger("hokusai").addHandler(handler)
    logging.getLogger("hokusai").setLevel(logging.DEBUG)
    try:
        created = [api.create_key(name=f"k{i}", scopes=["read", "write"])["key"] for i in range(3)]
        with api.admin() as admin:
            key_id = created[0].split("_")[2]
            created.append(admin.post(f"/api/v1/keys/{key_id}/rotate").json()["key"])
            admin.delete(f"/api/v1/keys/{created[1].split('_')[2]}")
        keys = [api.admin_key, *created]
        for key in keys:  # use each, right and wrong, so every code path that could log it runs
            httpx.get(api.url + PROBE, headers={"Authorization": f"Bearer {key}"})
            httpx.get(api.url + PROBE, headers={"X-API-Key": key[:-1] + "Z"})
        stored = database_text(str(api.settings.database_url))
    finally:
        logging.getLogger("hokusai").removeHandler(handler)
    output = capsys.readouterr()
    haystacks = {
        "database": stored,
        "json logs": stream.getvalue().encode(),
        "captured logs": caplog.text.encode(),
        "test output": (output.out + output.err).encode(),
    }
    assert hash_key(keys[1]).encode() in stored  # the search is real: the stored hash is found
    assert keys[1].split("_")[2].encode() in haystacks["json logs"]  # and key ids are logged
    for key in keys:
        secret = key.rsplit("_", 1)[1]
        for where, haystack in haystacks.items():
            assert key.encode() not in haystack, f"a plaintext key is in the {where}"
            assert secret.encode() not in haystack, f"a key's secret is in the {where}"
