"""Evaluations keep every criterion's score by name, the suite's own criteria included.

Revision ID: 0004_evaluation_scores
Revises: 0003_evaluation_tool_calls
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_evaluation_scores"
down_revision: str | None = "0003_evaluation_tool_calls"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision (a nullable column: existing rows keep NULL)."""
    op.add_column("evaluations", sa.Column("scores", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("evaluations") as batch:
        batch.drop_column("scores")
