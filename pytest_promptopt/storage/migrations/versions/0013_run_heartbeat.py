"""Run liveness and claims: the owner's heartbeat, host and pid, and compare-and-set versions.

`optimization_runs` gains `heartbeat_at`, `host`, `pid` (the process that owns the run) and
`version` (bumped by every claim of the run: a resume, marking it abandoned); `stage_results`
gains `version` for the pipeline claims of xdist workers. Existing rows get version 0 and no
heartbeat (a `running` run without one is judged by its start time).

Revision ID: 0013_run_heartbeat
Revises: 0012_cache_provenance_run_usage
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_run_heartbeat"
down_revision: str | None = "0012_cache_provenance_run_usage"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision: plain ADD COLUMNs.

    Never `batch_alter_table` here: on SQLite it copies and drops `optimization_runs`, and the
    drop cascades (foreign keys are on) to every row that refers to a run.
    """
    op.add_column("optimization_runs", sa.Column("heartbeat_at", sa.DateTime(timezone=True)))
    op.add_column("optimization_runs", sa.Column("host", sa.String(length=255)))
    op.add_column("optimization_runs", sa.Column("pid", sa.Integer()))
    for table in ("optimization_runs", "stage_results"):
        op.add_column(
            table, sa.Column("version", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )


def downgrade() -> None:
    """Revert this revision (DROP COLUMN: SQLite 3.35 or later)."""
    op.drop_column("stage_results", "version")
    for column in ("version", "pid", "host", "heartbeat_at"):
        op.drop_column("optimization_runs", column)
