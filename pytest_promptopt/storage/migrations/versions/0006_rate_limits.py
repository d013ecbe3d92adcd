"""Rate limits shared by a session's workers; prompt-cache tokens of each recorded call.

Revision ID: 0006_rate_limits
Revises: 0005_baselines
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_rate_limits"
down_revision: str | None = "0005_baselines"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision (nullable columns: existing calls keep NULL)."""
    op.create_table(
        "rate_limits",
        sa.Column("session_uid", sa.String(length=64), nullable=False),
        sa.Column("ceiling", sa.Integer(), nullable=False),
        sa.Column("current", sa.Integer(), nullable=False),
        sa.Column("lowest", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("paused_until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("session_uid", name=op.f("pk_rate_limits")),
    )
    op.add_column("llm_calls", sa.Column("cache_write_tokens", sa.Integer(), nullable=True))
    op.add_column("llm_calls", sa.Column("cache_read_tokens", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("llm_calls") as batch:
        batch.drop_column("cache_read_tokens")
        batch.drop_column("cache_write_tokens")
    op.drop_table("rate_limits")
