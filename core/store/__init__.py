"""Persistence: the database (SQLAlchemy 2 + Alembic) and media storage (local or S3)."""
