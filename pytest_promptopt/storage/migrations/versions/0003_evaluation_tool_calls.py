"""Evaluations keep the answer's tool calls and stop reason.

Revision ID: 0003_evaluation_tool_calls
Revises: 0002_budget_ledgers
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_evaluation_tool_calls"
down_revision: str | None = "0002_budget_ledgers"
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
