"""Named runs across CI jobs: `optimization_runs.name` and table `run_shards`.

Sessions with the same `--promptopt-run-name` on one database join one run: its `name` is
unique (NULL for an unnamed run), so the first insert wins and the others select it. Each
shard (`--promptopt-shard I/N`) of a named run has one `run_shards` row: who runs it, its
heartbeat, its status and end, and its case records for `promptopt gate`.

Revision ID: 0015_run_name
Revises: 0014_labels
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_run_name"
down_revision: str | None = "0014_labels"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision: a plain ADD COLUMN with a unique index, and `run_shards`.

    Never `batch_alter_table` on `optimization_runs` (see 0013_run_heartbeat).
    """
    op.add_column("optimization_runs", sa.Column("name", sa.String(length=255), nullable=True))
    op.create_index("ix_optimization_runs_name", "optimization_runs", ["name"], unique=True)
    op.create_table(
        "run_shards",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "run_id",
            sa.Integer(),
            sa.ForeignKey("optimization_runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("session_uid", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("records", sa.JSON(), nullable=True),
        sa.UniqueConstraint("run_id", "shard"),
    )


def downgrade() -> None:
    """Revert this revision (DROP COLUMN: SQLite 3.35 or later)."""
    op.drop_table("run_shards")
    op.drop_index("ix_optimization_runs_name", table_name="optimization_runs")
    op.drop_column("optimization_runs", "name")
