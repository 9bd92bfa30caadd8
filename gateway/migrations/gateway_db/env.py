"""Alembic environment for the gateway database; run through gateway.migrations.runner, never alone."""

from __future__ import annotations

from alembic import context

config = context.config
version_table = config.attributes["version_table"]

if context.is_offline_mode():
    context.configure(url=config.attributes["url"], literal_binds=True, version_table=version_table)
else:
    context.configure(
        connection=config.attributes["connection"], version_table=version_table, render_as_batch=True
    )

with context.begin_transaction():
    context.run_migrations()
