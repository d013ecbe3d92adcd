"""What the Models API said each model supports, so replays and cache-file runs need no network.

Revision ID: 0011_model_capabilities
Revises: 0010_batches
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_model_capabilities"
down_revision: str | None = "0010_batches"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision (a new table)."""
    op.create_table(
        "model_capabilities",
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("capabilities", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("model", name=op.f("pk_model_capabilities")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("model_capabilities")
