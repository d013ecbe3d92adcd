"""Cache entries keep their sample index and the model asked for; runs keep their own usage.

`llm_calls.sample` lets an exported entry's key be recomputed from its request (the sample
index is in the key, never in the body); `llm_calls.requested_model` is the model the suite
named when `simulated` answered in its place. The `optimization_runs` usage columns are what
the run itself used (calls made, cache hits, tokens, dollars), added to by every process of
the session; NULL on runs recorded before this revision.

Revision ID: 0012_cache_provenance_run_usage
Revises: 0011_model_capabilities
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_cache_provenance_run_usage"
down_revision: str | None = "0011_model_capabilities"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RUN_USAGE = (
    ("calls", sa.Integer()),
    ("cache_hits", sa.Integer()),
    ("input_tokens", sa.Integer()),
    ("output_tokens", sa.Integer()),
    ("cost_usd", sa.Float()),
    ("unpriced_calls", sa.Integer()),
)


def upgrade() -> None:
    """Apply this revision (nullable columns: existing rows keep NULL)."""
    op.add_column("llm_calls", sa.Column("sample", sa.Integer(), nullable=True))
    op.add_column("llm_calls", sa.Column("requested_model", sa.String(128), nullable=True))
    for name, kind in _RUN_USAGE:
        op.add_column("optimization_runs", sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("optimization_runs") as batch:
        for name, _ in reversed(_RUN_USAGE):
            batch.drop_column(name)
    with op.batch_alter_table("llm_calls") as batch:
        batch.drop_column("requested_model")
        batch.drop_column("sample")
