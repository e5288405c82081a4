"""Browsing (the web UI): each run's latest metric values; runs by pipeline or status;
versions by run.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "latest_metrics",
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("step", sa.Integer, nullable=True),
        sa.Column("timestamp", sa.Float, nullable=False),
    )
    # The metrics logged before this revision: the last row of each run and key.
    op.execute(
        "INSERT INTO latest_metrics (run_id, key, value, step, timestamp) "
        "SELECT run_id, key, value, step, timestamp FROM metrics WHERE id IN "
        "(SELECT max(id) FROM metrics GROUP BY run_id, key)"
    )
    op.create_index("ix_latest_metrics_key_value", "latest_metrics", ["key", "value", "run_id"])
    op.create_index("ix_runs_name_started", "runs", ["name", "started_at"])
    op.create_index("ix_runs_status_started", "runs", ["status", "started_at"])
    op.create_index("ix_model_versions_run", "model_versions", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_model_versions_run", "model_versions")
    op.drop_index("ix_runs_status_started", "runs")
    op.drop_index("ix_runs_name_started", "runs")
    op.drop_table("latest_metrics")
