"""Indexes for browsing (the web UI): runs by pipeline or status, metric filters, versions by run.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_runs_name_started", "runs", ["name", "started_at"])
    op.create_index("ix_runs_status_started", "runs", ["status", "started_at"])
    op.create_index("ix_metrics_key_value", "metrics", ["key", "value"])
    op.create_index("ix_model_versions_run", "model_versions", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_model_versions_run", "model_versions")
    op.drop_index("ix_metrics_key_value", "metrics")
    op.drop_index("ix_runs_status_started", "runs")
    op.drop_index("ix_runs_name_started", "runs")
