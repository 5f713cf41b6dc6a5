"""Storage: SQLAlchemy 2 models, Alembic migrations, SQLite default / PostgreSQL by URL."""
