"""Alembic environment: runs online against the URL given by ``hokusai.server.db.migrate``."""

from __future__ import annotations

from alembic import context

from hokusai.server.db.engine import create_db_engine
from hokusai.server.db.migrate import VERSION_TABLE
from hokusai.server.db.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")
engine = create_db_engine(url)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
