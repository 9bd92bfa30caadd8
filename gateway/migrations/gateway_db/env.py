"""Alembic environment for the gateway database; run through gateway.migrations.runner, never alone."""

from gateway.migrations.runner import run_environment

run_environment()
