"""Alembic environment: runs online only, on the connection `storage.migrate` hands over."""

from __future__ import annotations

from alembic import context

from pytest_promptopt.storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "pytest-promptopt migrations run on a connection given in Config.attributes; "
        "use `promptopt db upgrade` instead of the alembic command line"
    )

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
