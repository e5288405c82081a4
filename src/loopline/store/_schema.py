"""Tables and named indexes of the metadata & lineage store.

One schema for SQLite and PostgreSQL: only portable column types. Timestamps are
UTC seconds since the epoch as floats (sortable, portable, cheap to write in bulk).
JSON-able values (params, metadata, payloads) are stored as JSON text so both
backends read them the same way. Changes go through an Alembic migration beside this
file (``_migrations/versions``); the head revision is ``SCHEMA_REVISION``.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

SCHEMA_REVISION = "0005"
#: Alembic's version table under a name of our own: Optuna keeps its studies in the same
#: database (so an interrupted search resumes) and has its own ``alembic_version``.
VERSION_TABLE = "loopline_alembic_version"

metadata = MetaData()

pipelines = Table(
    "pipelines",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
)

pipeline_versions = Table(
    "pipeline_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("pipeline_id", ForeignKey("pipelines.id"), nullable=False),
    # sha256 of the traced definition: step names, edges, step code hashes, parameters.
    Column("definition_hash", String(64), nullable=False),
    Column("definition", Text, nullable=False),  # JSON: the DAG as traced
    Column("created_at", Float, nullable=False),
    UniqueConstraint("pipeline_id", "definition_hash", name="uq_pipeline_versions_hash"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(32), primary_key=True),  # hex uuid4: unique across stores
    Column("pipeline_version_id", ForeignKey("pipeline_versions.id"), nullable=True),
    Column("name", String(200), nullable=False),
    # How to load the pipeline again for --resume: "module:attr", "path.py:attr" or a
    # name from loopline.toml.
    Column("pipeline_ref", String(500), nullable=True),
    Column("params", Text, nullable=False, default="{}"),  # JSON: the pipeline's arguments
    # running | succeeded | failed | interrupted
    Column("status", String(20), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("ended_at", Float, nullable=True),
    Column("error", Text, nullable=True),
    # The process that owns a running run: a run whose owner died is interrupted.
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("executor", String(50), nullable=False),
    Index("ix_runs_started_at", "started_at"),
    Index("ix_runs_status", "status"),
    # The UI's runs list: one pipeline's or one status's runs, newest first (0005).
    Index("ix_runs_name_started", "name", "started_at"),
    Index("ix_runs_status_started", "status", "started_at"),
)

step_runs = Table(
    "step_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", ForeignKey("runs.id"), nullable=False),
    Column("name", String(200), nullable=False),  # invocation name in the pipeline
    Column("attempt", Integer, nullable=False, default=1),  # retries and resumes
    Column("code_hash", String(64), nullable=False),
    # sha256 of code hash + parameters + input artifact hashes: equal keys may share outputs.
    Column("cache_key", String(64), nullable=False),
    Column("params", Text, nullable=False, default="{}"),
    # pending | running | succeeded | cached | failed | interrupted | skipped
    Column("status", String(20), nullable=False),
    Column("cache_hit", Boolean, nullable=False, default=False),
    Column("started_at", Float, nullable=True),
    Column("ended_at", Float, nullable=True),
    Column("duration", Float, nullable=True),
    Column("error", Text, nullable=True),  # the exception's message
    Column("traceback", Text, nullable=True),
    Index("ix_step_runs_run", "run_id"),
    Index("ix_step_runs_cache_key", "cache_key", "status"),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uri", String(1000), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("type", String(200), nullable=False),  # the Python type, e.g. pandas.DataFrame
    Column("materializer", String(100), nullable=False),
    Column("size", Integer, nullable=False),
    Column("metadata", Text, nullable=False, default="{}"),  # JSON: shape, columns, ...
    Column("created_at", Float, nullable=False),
    # One row per content hash and materializer: identical outputs share a row.
    UniqueConstraint("sha256", "materializer", name="uq_artifacts_content"),
)

lineage_edges = Table(
    "lineage_edges",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("step_run_id", ForeignKey("step_runs.id"), nullable=False),
    Column("artifact_id", ForeignKey("artifacts.id"), nullable=False),
    Column("direction", String(6), nullable=False),  # input | output
    Column("name", String(200), nullable=False),  # the step's argument or output name
    Index("ix_lineage_step_run", "step_run_id"),
    Index("ix_lineage_artifact", "artifact_id", "direction"),
)

params = Table(
    "params",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", ForeignKey("runs.id"), nullable=False),
    Column("step_run_id", ForeignKey("step_runs.id"), nullable=True),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),  # JSON
    Index("ix_params_run", "run_id"),
)

metrics = Table(
    "metrics",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", ForeignKey("runs.id"), nullable=False),
    Column("step_run_id", ForeignKey("step_runs.id"), nullable=True),
    Column("key", String(250), nullable=False),
    Column("value", Float, nullable=False),
    Column("step", Integer, nullable=True),  # the user's x-axis: epoch, iteration, ...
    Column("timestamp", Float, nullable=False),
    Index("ix_metrics_run_key", "run_id", "key"),
)

#: The last value logged of each metric of each run, kept by TrackingStore.write (0005): the
#: UI sorts and filters 10,000 runs by a metric from here without reading a million metrics.
latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", ForeignKey("runs.id"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Float, nullable=False),
    Column("step", Integer, nullable=True),
    Column("timestamp", Float, nullable=False),
    # Sorting by a metric walks this in order and stops after a page (run_id: a stable order).
    Index("ix_latest_metrics_key_value", "key", "value", "run_id"),
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", ForeignKey("runs.id"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),  # append-only: rows are never updated
    Column("time", Float, nullable=False),
    Column("actor", String(200), nullable=False),  # user@host, "controller", ...
    Column("kind", String(100), nullable=False),  # run.started, model.approved, ...
    Column("subject_type", String(50), nullable=False),
    Column("subject_id", String(200), nullable=False),
    Column("reason", Text, nullable=True),
    Column("payload", Text, nullable=False, default="{}"),  # JSON
    Index("ix_events_time", "time"),
    Index("ix_events_subject", "subject_type", "subject_id"),
)

models = Table(
    "models",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model_id", ForeignKey("models.id"), nullable=False),
    Column("version", Integer, nullable=False),  # 1, 2, ... per model
    Column("artifact_id", ForeignKey("artifacts.id"), nullable=False),  # the model package
    Column("run_id", ForeignKey("runs.id"), nullable=True),  # the run that trained it
    # pending (awaiting approval) | approved | rejected
    Column("status", String(20), nullable=False),
    Column("blessed", Boolean, nullable=True),  # the blessing verdict of its run
    Column("metrics", Text, nullable=False, default="{}"),  # JSON: holdout metrics
    # Infra validation: None until checked, then whether the package served its samples.
    Column("infra_valid", Boolean, nullable=True),
    Column("infra_details", Text, nullable=True),  # JSON
    Column("created_at", Float, nullable=False),
    UniqueConstraint("model_id", "version", name="uq_model_versions_number"),
    # The same package registers once: a cached rerun does not make a new version.
    UniqueConstraint("model_id", "artifact_id", name="uq_model_versions_package"),
    Index("ix_model_versions_run", "run_id"),  # a run page's registered versions (0005)
)

aliases = Table(
    "aliases",
    metadata,
    Column("model_id", ForeignKey("models.id"), primary_key=True),
    Column("alias", String(100), primary_key=True),
    Column("version_id", ForeignKey("model_versions.id"), nullable=False),
    Column("updated_at", Float, nullable=False),
)

alias_history = Table(
    "alias_history",
    metadata,
    Column("id", Integer, primary_key=True),  # append-only
    Column("model_id", ForeignKey("models.id"), nullable=False),
    Column("alias", String(100), nullable=False),
    Column("version_id", ForeignKey("model_versions.id"), nullable=True),  # None: removed
    Column("previous_version_id", ForeignKey("model_versions.id"), nullable=True),
    Column("time", Float, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("reason", Text, nullable=True),
    Index("ix_alias_history_model", "model_id", "alias"),
)

monitoring_reports = Table(
    "monitoring_reports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("window_start", Float, nullable=True),
    Column("window_end", Float, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("drift_share", Float, nullable=True),  # None: nothing compared (empty window)
    Column("dataset_drift", Boolean, nullable=False),
    Column("drifted", Text, nullable=False, default="[]"),  # JSON: drifted feature names
    # JSON: the flat signals alert rules read (drift_share, psi.<f>, metric.<m>, decay.<m>)
    Column("signals", Text, nullable=False, default="{}"),
    Column("artifact_id", ForeignKey("artifacts.id"), nullable=True),  # the full report
    Column("created_at", Float, nullable=False),
    Index("ix_monitoring_reports_model", "model", "window_end"),
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model", String(200), nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("row", Integer, nullable=False),  # the record within the request
    Column("label", Text, nullable=False),  # JSON: the true value
    Column("received_at", Float, nullable=False),
    UniqueConstraint("model", "request_id", "row", name="uq_feedback_record"),
)

locks = Table(
    "locks",
    metadata,
    Column("name", String(200), primary_key=True),  # e.g. "controller"
    Column("holder", String(200), nullable=False),  # user@host:pid
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("acquired_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=False),  # a lock not renewed in time is stale
)

state = Table(
    "state",
    metadata,
    Column("key", String(200), primary_key=True),  # e.g. "controller.canary"
    Column("value", Text, nullable=False),  # JSON
    Column("updated_at", Float, nullable=False),
)
