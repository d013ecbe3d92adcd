"""Budget ledgers: the calls and spend of a session, shared by its xdist workers.

Revision ID: 0002_budget_ledgers
Revises: 0001_initial
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_budget_ledgers"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "budget_ledgers",
        sa.Column("session_uid", sa.String(length=64), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("spent_usd", sa.Float(), nullable=False),
        sa.Column("reserved_usd", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("session_uid", name=op.f("pk_budget_ledgers")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("budget_ledgers")
