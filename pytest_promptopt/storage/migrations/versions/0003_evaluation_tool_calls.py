"""Evaluations keep the answer's tool calls and stop reason.

Revision ID: promptopt_0003
Revises: promptopt_0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "promptopt_0003"
down_revision: str | None = "promptopt_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision (nullable columns: existing rows keep NULL)."""
    op.add_column("evaluations", sa.Column("tool_calls", sa.JSON(), nullable=True))
    op.add_column("evaluations", sa.Column("stop_reason", sa.String(length=32), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("evaluations") as batch:
        batch.drop_column("stop_reason")
        batch.drop_column("tool_calls")
