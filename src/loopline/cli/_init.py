"""``loopline init``: write a commented loopline.toml and create the store."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..errors import ConflictError, InvalidInputError
from ._output import console

TEMPLATE = """# Loopline project file. Every key is optional; LOOPLINE_* variables override them.

[project]
name = {name}

# The metadata & lineage store: a SQLAlchemy URL. Default: a SQLite file in .loopline/.
# [store]
# url = "postgresql+psycopg://user:password@localhost/loopline"

# The artifact store: a folder or an fsspec URL. Default: .loopline/artifacts.
# [artifacts]
# url = "s3://my-bucket/loopline"

[run]
# "inprocess" runs steps one by one in the loopline process; "process" runs
# independent steps in parallel worker processes; "ray" runs them as Ray tasks
# (pip install 'loopline[ray]'), and tuning trials in parallel on Ray workers.
executor = "inprocess"
# address = "auto"    # ray: the cluster ('auto', 'HOST:PORT', 'ray://HOST:10001')

# Pipelines 'loopline run NAME' knows by name: "module:function" or "file.py:function".
[pipelines]
# train = "pipelines.py:train"
"""


WORKFLOW_TEMPLATE = """
# ---- the training workflow: 'loopline run' with no argument runs it ----

[data]
source = {source}        # a CSV or Parquet file or glob, relative to this folder
target = {target}        # the column to predict
{task_line}# id_column = "id"
# timestamp_column = "ts"  # makes the split and cross-validation time-ordered
# drop_columns = []
# missing_target = "drop"  # rows without a target: "drop" them (counted, first CSV lines
#                          # named in the run) or "fail" the run
{columns_block}
[schema]
# path = "schema.json"     # pin a schema: 'loopline schema export' writes one to edit,
#                          # 'loopline schema import FILE' checks it and sets this key
policy = "strict"          # what serving, 'loopline predict' and validation do with an
#                          # unseen category or an unknown field: "strict" refuses it,
#                          # "lenient" warns and lets the model treat it as unknown

[split]
# method = "stratified"    # stratified | random | time (default: by task and timestamp)
test_size = 0.2
seed = 0

[training]
# metric = "accuracy"      # or balanced_accuracy, f1, average_precision, roc_auc, "module:function"
                           # default: accuracy (balanced_accuracy if imbalanced) or rmse
folds = 5
trials = 20                # Optuna trials for the best candidate (0: no tuning)
# timeout = 300            # seconds of tuning at most
# time_budget = 300        # seconds for selection + tuning + the final fit together
# cv_rows = 20000          # CV and tuning on a stratified sample of this many rows
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
# beat_baseline = true     # a candidate no better than the dummy (majority class / mean)
#                          # is never blessed

[model]
name = {name}
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
    from ..config import PROJECT_FILE, check_name, load_settings
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
    name = check_name(name, what="project name") if name is not None else _slug(directory.name)
    text = TEMPLATE.format(name=toml_string(name))
    guess = None
    if data is not None and target is not None:
        guess = _inspect_data(directory, data, target, task)
        task_line = (
            f"task = {toml_string(task)}\n"
            if task
            else '# task = "classification"  # inferred when absent\n'
        )
        text += WORKFLOW_TEMPLATE.format(
            source=toml_string(data),
            target=toml_string(target),
            task_line=task_line,
            name=toml_string(name),
            columns_block=_columns_block(guess),
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
    if guess is not None:
        _print_guess(guess, target or "")
    if data is not None:
        console().print("Next: [bold]loopline run[/] trains, validates and packages a model.")
        console().print(
            '  approval = "manual": nothing is promoted to production until you run '
            "'loopline models approve' (set approval = \"auto\" to close the loop)."
        )
    return path


def toml_string(value: str) -> str:
    """``value`` as a TOML basic string: quotes, backslashes and control characters escaped
    (a name with a newline and ``[store]`` can no longer add a section)."""
    out = ['"']
    for char in value:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif 0xD800 <= ord(char) <= 0xDFFF:
            out.append("\\uFFFD")  # a lone surrogate: no character TOML (or UTF-8) can hold
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _slug(folder: str) -> str:
    """A valid name (``loopline.config.NAME_RULE``) from a folder's name."""
    import re

    slug = re.sub(r"[^A-Za-z0-9_.\-]+", "-", folder).lstrip("_.-")[:128]
    return slug or "project"


ROLES_HELP = """
# Column roles: how each column feeds the model. 'loopline init' inferred them from the
# data; edit any line (columns left out are inferred at every run):
#   numeric      imputed and scaled          categorical  one-hot (target-encoded when
#   boolean      true/false                               many values)
#   datetime     calendar parts (year, month, day, weekday, day of year, hour) and elapsed
#                days, inside the model: a date never seen in training scores fine
#   text         free text, TF-IDF of its words
#   identifier   dropped (mostly unique values carry nothing a model can reuse)
#   constant     dropped (a single value)
[data.columns]
"""


class _DataGuess:
    """What init found in the data: each column's role, the task and its classes."""

    def __init__(
        self, roles: list[Any], task: str | None, classes: list[str], rows: int, note: str = ""
    ) -> None:
        self.roles = roles
        self.task = task
        self.classes = classes
        self.rows = rows
        self.note = note


def _inspect_data(directory: Path, data: str, target: str, task: str | None) -> _DataGuess:
    """Read the data once to infer column roles and the task; a note if it cannot be read."""
    from ..components import DataConfig, infer_roles, infer_task, read_source, resolve_source
    from ..errors import LooplineError

    try:
        config = DataConfig(source=data, target=target)
        source = resolve_source(config, directory)
        source["files"] = source["files"][:1]  # the first file of a glob is enough to guess
        frame = read_source(source, directory)
    except LooplineError as exc:
        return _DataGuess([], None, [], 0, f"could not read the data to infer roles: {exc}")
    if target not in frame.columns:
        raise InvalidInputError(
            f"--target {target!r} is not a column of {data}. Its columns are: "
            f"{', '.join(map(str, frame.columns))}.",
            hint="Pass the name of the column to predict.",
            value=target,
        )
    roles = infer_roles(frame, exclude=[target])
    labels = frame[target].dropna()
    inferred = task or (infer_task(labels) if not labels.empty else None)
    classes: list[str] = []
    if inferred == "classification":
        counts = labels.astype(str).value_counts()
        classes = [f"{value} ({count:,})" for value, count in counts.items()]
    return _DataGuess(roles, inferred, classes, len(frame))


def _columns_block(guess: _DataGuess) -> str:
    if not guess.roles:
        return (
            "\n# [data.columns]           # column roles (see the README); inferred when absent\n"
        )
    width = max(len(_toml_key(r.name)) for r in guess.roles)
    lines = [
        f"{_toml_key(r.name):<{width}} = {json.dumps(r.role):<14} # {r.reason}" for r in guess.roles
    ]
    return ROLES_HELP + "\n".join(lines) + "\n"


def _toml_key(name: str) -> str:
    """A bare TOML key when it can be one, else a quoted one."""
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)


def _print_guess(guess: _DataGuess, target: str) -> None:
    from rich.markup import escape
    from rich.table import Table

    out = console()
    if guess.note:
        out.print(f"[yellow]Note[/]: {escape(guess.note)}")
        return
    table = Table(title=escape(f"Column roles ({guess.rows:,} rows; edit them in [data.columns])"))
    table.add_column("column")
    table.add_column("role")
    table.add_column("why")
    for role in guess.roles:
        style = "yellow" if role.is_dropped else ""
        table.add_row(
            escape(role.name),
            f"[{style}]{role.role}[/]" if style else role.role,
            escape(role.reason),
        )
    out.print(table)
    for role in guess.roles:
        if role.is_dropped:
            out.print(
                f"[yellow]Warning[/]: column {escape(repr(role.name))} will be dropped "
                f"({role.role}: {escape(role.reason)}); set another role in "
                f"{escape('[data.columns]')} to keep it."
            )
    if guess.task == "classification":
        shown = ", ".join(guess.classes[:10]) + (", ..." if len(guess.classes) > 10 else "")
        out.print(
            f"Task: [bold]classification[/] of {escape(repr(target))}, "
            f"{len(guess.classes)} classes: {escape(shown)}"
        )
    elif guess.task == "regression":
        out.print(f"Task: [bold]regression[/] of {escape(repr(target))}")
