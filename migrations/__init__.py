"""Alembic migrations of the driftmon schema (installed as monitor.migrations)."""
