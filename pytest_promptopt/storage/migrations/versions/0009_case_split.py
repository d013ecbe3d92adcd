"""Given cases remember their optimize split: `feedback` (writers see it) or `holdout`.

Revision ID: 0009_case_split
Revises: 0008_judge_calibration
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_case_split"
down_revision: str | None = "0008_judge_calibration"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision (a nullable column: existing rows and generated cases keep NULL)."""
    op.add_column("test_cases", sa.Column("split", sa.String(16), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("test_cases") as batch:
        batch.drop_column("split")
