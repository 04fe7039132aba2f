"""Platform persistence: engine, sessions, ORM models and Alembic migrations."""

from hokusai.server.db.engine import create_db_engine, session_factory
from hokusai.server.db.migrate import upgrade_database

__all__ = ["create_db_engine", "session_factory", "upgrade_database"]
