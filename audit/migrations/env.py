"""Alembic environment for the audit store; run through gateway.migrations.runner, never alone."""

from gateway.migrations.runner import run_environment

run_environment()
