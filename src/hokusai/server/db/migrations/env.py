"""Alembic environment: runs online against the URL given by ``hokusai.server.db.migrate``."""

from __future__ import annotations

from alembic import context

from hokusai.server.db.engine import create_db_engine
from hokusai.server.db.migrate import VERSION_TABLE
from hokusai.server.db.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url, "hokusai.server.db.migrate sets sqlalchemy.url"
engine = create_db_engine(url)
with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:  # SQLite alters a table by copying it: rows pointing at it would fail the interim DROP
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")  # before any transaction begins
        connection.commit()  # end SQLAlchemy's autobegun one, so the migrations' own is committed
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        render_as_batch=sqlite,
    )
    with context.begin_transaction():
        context.run_migrations()
        if sqlite:  # ... so every reference is checked once the migrations are done
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migrations left rows pointing at missing rows: {broken[:5]}")
engine.dispose()
