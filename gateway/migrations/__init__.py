"""Schema migrations (Alembic) for the gateway database and the audit store; see runner.py."""
