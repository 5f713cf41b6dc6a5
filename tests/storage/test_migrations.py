"""Alembic migrations go up and down on SQLite and PostgreSQL, and match the models."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from healthcode.storage.db import open_database
from healthcode.storage.models import Base


def _url(db_url):
    if "://" in db_url:
        return "postgresql+psycopg://" + db_url.split("://", 1)[1]
    return f"sqlite:///{db_url}"


def test_upgrade_downgrade_upgrade(db_url):
    db = open_database(_url(db_url))
    assert db.is_current()
    tables = set(inspect(db.engine).get_table_names())
    assert {"holders", "facts", "statuses", "risk_areas", "audit_log", "signing_keys"} <= tables
    db.downgrade("base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    db.migrate()
    assert db.is_current()
    db.dispose()


def test_models_and_migrations_agree(db_url):
    db = open_database(_url(db_url))
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    db.dispose()
    # a type difference between DateTime and our UTCDateTime decorator is not a schema change
    assert [d for d in diff if not (isinstance(d, list) and d and d[0][0] == "modify_type")] == []
