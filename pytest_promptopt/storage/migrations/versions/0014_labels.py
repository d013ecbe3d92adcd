"""Human labels of judged answers: table `labels`.

One row per answer, criterion (or `overall`) and person: a level 1-5 or pass/fail, a note and
when. `answer_hash` ties the label to the answer itself so later runs that give the same answer
are compared with it; `evaluation_id` (SET NULL when its run is deleted) is the evaluation that
was labelled.

Revision ID: 0014_labels
Revises: 0013_run_heartbeat
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_labels"
down_revision: str | None = "0013_run_heartbeat"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision: create `labels`."""
    op.create_table(
        "labels",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "evaluation_id",
            sa.Integer(),
            sa.ForeignKey("evaluations.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("suite", sa.String(length=255), nullable=False),
        sa.Column("case_key", sa.String(length=255), nullable=False),
        sa.Column("answer_hash", sa.String(length=64), nullable=False),
        sa.Column("criterion", sa.String(length=128), nullable=False),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("labeller", sa.String(length=255), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("answer_hash", "criterion", "labeller"),
    )
    op.create_index("ix_labels_answer_hash", "labels", ["answer_hash"])
    op.create_index("ix_labels_suite_case", "labels", ["suite", "case_key"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_labels_suite_case", table_name="labels")
    op.drop_index("ix_labels_answer_hash", table_name="labels")
    op.drop_table("labels")
