"""Evaluations keep the judge repeats' spread and the judge's version.

Revision ID: 0008_judge_calibration
Revises: 0007_nullable_cost
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_judge_calibration"
down_revision: str | None = "0007_nullable_cost"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision (nullable columns: existing rows keep NULL)."""
    op.add_column("evaluations", sa.Column("judge_spread", sa.Float(), nullable=True))
    op.add_column("evaluations", sa.Column("judge_version", sa.String(32), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("evaluations") as batch:
        batch.drop_column("judge_version")
        batch.drop_column("judge_spread")
