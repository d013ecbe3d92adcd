"""Baselines: the run each suite is compared with under `--promptopt-baseline`.

Revision ID: 0005_baselines
Revises: 0004_evaluation_scores
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_baselines"
down_revision: str | None = "0004_evaluation_scores"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "baselines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("suite", sa.String(length=255), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("blessed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["optimization_runs.id"],
            name=op.f("fk_baselines_run_id_optimization_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_baselines")),
    )
    with op.batch_alter_table("baselines") as batch:
        batch.create_index(batch.f("ix_baselines_suite"), ["suite"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("baselines")
