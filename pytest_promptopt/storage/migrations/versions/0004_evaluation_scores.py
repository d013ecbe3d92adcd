"""Evaluations keep every criterion's score by name, the suite's own criteria included.

Revision ID: promptopt_0004
Revises: promptopt_0003
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "promptopt_0004"
down_revision: str | None = "promptopt_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision (a nullable column: existing rows keep NULL)."""
    op.add_column("evaluations", sa.Column("scores", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("evaluations") as batch:
        batch.drop_column("scores")
