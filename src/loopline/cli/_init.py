"""``loopline init``: write a commented loopline.toml and create the store."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConflictError, InvalidInputError
from ._output import console

TEMPLATE = """# Loopline project file. Every key is optional; LOOPLINE_* variables override them.

[project]
name = "{name}"

# The metadata & lineage store: a SQLAlchemy URL. Default: a SQLite file in .loopline/.
# [store]
# url = "postgresql+psycopg://user:password@localhost/loopline"

# The artifact store: a folder or an fsspec URL. Default: .loopline/artifacts.
# [artifacts]
# url = "s3://my-bucket/loopline"

[run]
# "inprocess" runs steps one by one in the loopline process; "process" runs
# independent steps in parallel worker processes.
executor = "inprocess"

# Pipelines 'loopline run NAME' knows by name: "module:function" or "file.py:function".
[pipelines]
# train = "pipelines.py:train"
"""


WORKFLOW_TEMPLATE = """
# ---- the training workflow: 'loopline run' with no argument runs it ----

[data]
source = "{source}"        # a CSV or Parquet file or glob, relative to this folder
target = "{target}"        # the column to predict
{task_line}# id_column = "id"
# timestamp_column = "ts"  # makes the split and cross-validation time-ordered
# drop_columns = []

[split]
# method = "stratified"    # stratified | random | time (default: by task and timestamp)
test_size = 0.2
seed = 0

[training]
# metric = "accuracy"      # default: accuracy (classification) or rmse (regression)
folds = 5
trials = 20                # Optuna trials for the best candidate (0: no tuning)
# timeout = 300            # seconds of tuning at most
# Candidates default to built-ins (linear model, random forest, gradient boosting).
# [[training.candidates]]
# estimator = "sklearn.ensemble.RandomForestClassifier"
# params = {{ n_estimators = 200 }}
# search_space = {{ max_depth = {{ type = "int", low = 2, high = 20 }} }}

[blessing]
# thresholds = {{ accuracy = 0.8 }}   # absolute bounds a candidate must meet
absolute_margin = 0.0      # how much worse than the champion is tolerated
relative_margin = 0.01
# slices = ["region"]      # columns whose values are evaluated and compared one by one

[model]
name = "{name}"
# manual: NOTHING reaches production until you run 'loopline models approve NAME VERSION'
# (the controller registers blessed candidates and waits). auto: blessed candidates go
# through the canary below to production without you.
approval = "manual"

# ---- closing the loop: 'loopline serve', labels on /feedback, 'loopline watch' ----
# Amounts of data are "N rows" (logged records), "N labelled rows", "N batches" (requests);
# durations are 30s, 10m, 1h, 2d.

[monitoring]
window = "500 rows"        # each check looks at the production version's latest 500 records
min_rows = 100             # fewer (labelled, for decay) records: no verdict, no trigger
# drift_share = 0.5        # share of features that must drift for dataset drift
# psi_threshold = 0.2
# ks_threshold = 0.1

[triggers]
drift = true               # dataset drift of the features in the window
# decay = {{ accuracy = "5%" }}   # default: the training metric falling 5% below its holdout
# decay_z = 3.0            # ...and by more than 3 standard errors of the window's value
# schedule = "0 3 * * *"   # cron: also retrain at 03:00 every day
# new_data = false         # also retrain when the [data] source changes
cooldown = "300 labelled rows"  # after a successful retraining, wait for this much new data

[automation]
# The rows a retraining learns from:
#   since_change           labelled requests since the detected change point (where the
#                          production model's errors or the drifted features shifted),
#                          topped up with the rows before it to min_window_rows
#   sliding                the latest window_rows rows: the source, then labelled requests
#   reference_plus_recent  the whole source plus every labelled request
#   all                    the [data] source as it is (requests are not used)
data_window = "since_change"
window_rows = 3000         # the most rows a window keeps (sliding, since_change)
min_window_rows = 500      # since_change: topped up to at least this many rows
# promotion = "auto"       # default: [model] approval
canary_rows = 200          # judge the canary on 200 labelled rows (0: no canary)
canary_minutes = 60        # ...or after this long with fewer
# canary_margin = 0.0      # it fails only if worse by more than this and by more than
# canary_z = 2.0           # 2 standard errors of the paired difference

# [[alerts]]
# name = "drift"
# when = "drift_share > 0.3"
# send = ["console", "file:alerts.jsonl"]
"""


def init_project(
    directory: Path,
    *,
    name: str | None,
    force: bool,
    data: str | None = None,
    target: str | None = None,
    task: str | None = None,
) -> Path:
    """Create ``loopline.toml`` and ``.loopline/`` in ``directory``.

    Raises:
        ConflictError: A loopline.toml exists there and ``force`` is not set.
    """
    from ..config import PROJECT_FILE, load_settings
    from ..store import Store

    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / PROJECT_FILE
    if path.exists() and not force:
        raise ConflictError(
            f"{path} already exists.",
            hint="Use --force to overwrite it, or edit it by hand.",
            path=str(path),
        )
    if (data is None) != (target is None):
        raise InvalidInputError(
            "--data and --target go together.",
            hint="E.g. loopline init --name wine --data wine.csv --target target.",
        )
    text = TEMPLATE.format(name=name or directory.name)
    if data is not None:
        task_line = (
            f'task = "{task}"\n' if task else '# task = "classification"  # inferred when absent\n'
        )
        text += WORKFLOW_TEMPLATE.format(
            source=data, target=target, task_line=task_line, name=name or directory.name
        )
    path.write_text(text, encoding="utf-8")
    settings = load_settings(directory)
    if data is not None:
        from ..components import parse_workflow_config

        parse_workflow_config(settings.raw, path)
    Store(settings.store_url).close()
    console().print(f"Created a Loopline project in [bold]{directory}[/]")
    console().print(f"  {PROJECT_FILE}: settings (store, artifacts, executor, pipelines)")
    console().print(f"  {settings.state_dir.name}/: the metadata store and artifacts")
    if data is not None:
        console().print("Next: [bold]loopline run[/] trains, validates and packages a model.")
        console().print(
            "  approval = \"manual\": nothing is promoted to production until you run "
            "'loopline models approve' (set approval = \"auto\" to close the loop)."
        )
    return path
