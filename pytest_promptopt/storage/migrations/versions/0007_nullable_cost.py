"""A call to a model without a known price has an unknown cost: `cost_usd` may be NULL.

Revision ID: 0007_nullable_cost
Revises: 0006_rate_limits
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_nullable_cost"
down_revision: str | None = "0006_rate_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("llm_calls", "evaluations")


def upgrade() -> None:
    """Apply this revision (existing rows keep their costs)."""
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column("cost_usd", existing_type=sa.Float(), nullable=True)


def downgrade() -> None:
    """Revert this revision (unknown costs become 0)."""
    for table in _TABLES:
        op.execute(f"UPDATE {table} SET cost_usd = 0 WHERE cost_usd IS NULL")
        with op.batch_alter_table(table) as batch:
            batch.alter_column("cost_usd", existing_type=sa.Float(), nullable=False)
