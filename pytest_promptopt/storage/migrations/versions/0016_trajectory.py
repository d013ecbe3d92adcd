"""Evaluations keep the tool loop's trajectory: column `evaluations.trajectory`.

A JSON list of steps ({step, text, tool_calls, stop_reason, results[, turn, stopped]}); NULL
for an answer made without a tool loop.

Revision ID: 0016_trajectory
Revises: 0015_run_name
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_trajectory"
down_revision: str | None = "0015_run_name"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision (a nullable column: existing rows keep NULL)."""
    op.add_column("evaluations", sa.Column("trajectory", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("evaluations") as batch:
        batch.drop_column("trajectory")
