"""The commands. Each imports what it needs when it runs, so ``loopline --help`` is quick."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from .._version import __version__
from ._main import state

app = typer.Typer(
    name="loopline",
    help="Loopline: data → validated, registered, served and monitored models, "
    "retrained on drift — on one machine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
runs_app = typer.Typer(help="List and inspect runs.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")
models_app = typer.Typer(
    help="The model registry: versions, approvals, aliases.", no_args_is_help=True
)
app.add_typer(models_app, name="models")

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON on standard output (for scripts).")
]
ProjectOption = Annotated[
    Path | None,
    typer.Option(
        "--project", "-C", help="Project folder (default: found from the current folder)."
    ),
]


def _version(value: bool) -> None:
    if value:
        print(f"loopline {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    state["debug"] = debug


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder of the new project.")] = Path("."),
    name: Annotated[str | None, typer.Option(help="Project name (default: the folder's).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing loopline.toml.")] = False,
    data: Annotated[
        str | None, typer.Option(help="Training data: a CSV or Parquet path or glob.")
    ] = None,
    target: Annotated[str | None, typer.Option(help="The column to predict.")] = None,
    task: Annotated[
        str | None, typer.Option(help="classification or regression (inferred when absent).")
    ] = None,
) -> None:
    """Create a project: loopline.toml (with the training workflow when --data is given)."""
    from ._init import init_project

    init_project(directory, name=name, force=force, data=data, target=target, task=task)


@app.command()
def run(
    pipeline: Annotated[
        str | None,
        typer.Argument(help="A name from [pipelines], 'module:function' or 'file.py:function'."),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            help="A pipeline parameter KEY=VALUE (VALUE parsed as JSON when it can be).",
        ),
    ] = None,
    resume: Annotated[
        str | None, typer.Option(help="Resume this failed or interrupted run.")
    ] = None,
    executor: Annotated[
        str | None, typer.Option(help="inprocess (default), process or ray.")
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(
            help="Ray cluster of --executor ray: auto, HOST:PORT, ray://HOST:10001 or local "
            "(default: [run] address, else RAY_ADDRESS, else the cluster 'ray start' runs "
            "here, else a private Ray)."
        ),
    ] = None,
    rerun: Annotated[
        list[str] | None,
        typer.Option(
            "--rerun",
            metavar="STEP",
            help="Run this step again even if its outputs are cached (repeatable).",
        ),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Run every step again; reuse nothing.")
    ] = False,
    project: ProjectOption = None,
) -> None:
    """Run a pipeline, showing each step live; unchanged steps come from cache."""
    from ._run import run_command

    params = _parse_params(param or [])
    result = run_command(
        pipeline,
        params,
        resume=resume,
        executor=executor,
        address=address,
        project=project,
        rerun=rerun or [],
        cache=not no_cache,
    )
    raise typer.Exit(0 if result else 1)


def _parse_params(items: list[str]) -> dict[str, object]:
    from ..errors import InvalidInputError

    params: dict[str, object] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise InvalidInputError(
                f"--param takes KEY=VALUE. Got {item!r} instead.", hint="E.g. --param epochs=10."
            )
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    return params


@runs_app.command("list")
def runs_list(
    limit: Annotated[int, typer.Option(help="How many runs to show.")] = 20,
    status: Annotated[str | None, typer.Option(help="Only runs with this status.")] = None,
    as_json: JsonOption = False,
    project: ProjectOption = None,
) -> None:
    """List the latest runs."""
    from ._runs import list_runs

    list_runs(project, limit=limit, status=status, as_json=as_json)


@runs_app.command("show")
def runs_show(
    run_id: Annotated[str, typer.Argument(help="A run id or a unique prefix of one.")],
    as_json: JsonOption = False,
    project: ProjectOption = None,
) -> None:
    """Show a run: its steps, artifacts, params, metrics and errors."""
    from ._runs import show_run

    show_run(project, run_id, as_json=as_json)


@app.command()
def lineage(
    target: Annotated[
        str, typer.Argument(help="A run id (or prefix), an artifact id, or a sha256 prefix.")
    ],
    down: Annotated[
        bool,
        typer.Option("--down", help="Show what the artifact fed instead of where it came from."),
    ] = False,
    project: ProjectOption = None,
) -> None:
    """Show lineage: what produced an artifact (or what it fed), or a run's graph."""
    from ._runs import show_lineage

    show_lineage(project, target, down=down)


@app.command()
def serve(
    model: Annotated[str, typer.Argument(help="What answers: NAME@ALIAS, NAME/VERSION or NAME.")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    canary: Annotated[
        str | None, typer.Option(help="A second model answering --canary-weight of requests.")
    ] = None,
    canary_weight: Annotated[float, typer.Option(help="Share of requests for the canary.")] = 0.1,
    shadow: Annotated[
        str | None, typer.Option(help="A second model scoring a copy of each request.")
    ] = None,
    max_batch_size: Annotated[int, typer.Option(help="Most rows in one model call.")] = 64,
    max_wait_ms: Annotated[float, typer.Option(help="Longest wait to fill a batch.")] = 2.0,
    max_body_bytes: Annotated[int, typer.Option(help="Largest request body.")] = 1 << 20,
    lenient: Annotated[
        bool | None,
        typer.Option(
            "--lenient/--strict",
            help="Let unseen categories and unknown fields through with warnings, or refuse "
            "them (default: [schema] policy of loopline.toml, else strict).",
        ),
    ] = None,
    poll_interval: Annotated[
        float, typer.Option(help="Seconds between checks for alias moves.")
    ] = 2.0,
    workers: Annotated[
        int, typer.Option(help="Server processes sharing the port (one per core).")
    ] = 1,
    log_level: Annotated[
        str, typer.Option(help="Lowest level logged: critical, error, warning, info, debug.")
    ] = "info",
    log_format: Annotated[
        str, typer.Option(help="text, or json (one object per line, for log shippers).")
    ] = "text",
    access_log: Annotated[
        bool, typer.Option(help="A line per request (off by default: it costs throughput).")
    ] = False,
    project: ProjectOption = None,
) -> None:
    """Serve predictions over HTTP; follows alias moves with a hot swap.

    Tokens come from the environment: LOOPLINE_TOKEN protects /predict and /invocations;
    LOOPLINE_ADMIN_TOKEN enables /admin/*. With --workers N, every process follows the
    aliases on its own, so all swap within --poll-interval of a move.
    """
    from ._serve import serve_command

    serve_command(
        project,
        model,
        host=host,
        port=port,
        canary=canary,
        canary_weight=canary_weight,
        shadow=shadow,
        max_batch_size=max_batch_size,
        max_wait_ms=max_wait_ms,
        max_body_bytes=max_body_bytes,
        lenient=lenient,
        poll_interval=poll_interval,
        workers=workers,
        log_level=log_level,
        log_format=log_format,
        access_log=access_log,
    )


@app.command()
def predict(
    model: Annotated[str, typer.Argument(help="NAME@ALIAS, NAME/VERSION or NAME.")],
    input: Annotated[Path, typer.Argument(help="A CSV or Parquet file of records.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write (CSV or Parquet).")
    ],
    chunk_size: Annotated[int, typer.Option(help="Records scored at a time.")] = 50_000,
    lenient: Annotated[
        bool | None,
        typer.Option(
            "--lenient/--strict",
            help="Score records with unseen categories or unknown fields (warnings), or "
            "refuse them as /predict does (default: [schema] policy, else strict).",
        ),
    ] = None,
    project: ProjectOption = None,
) -> None:
    """Score a CSV or Parquet file in chunks, with the same checks as /predict."""
    from ._serve import predict_command

    predict_command(project, model, input, output, chunk_size=chunk_size, lenient=lenient)


@app.command()
def monitor(
    model: Annotated[str, typer.Argument(help="NAME@ALIAS, NAME/VERSION or NAME.")],
    window: Annotated[
        str | None,
        typer.Option(
            help="How far back to look: 30m, 1h, 2d, or '500 rows', '300 labelled rows', "
            "'20 batches' (default: all)."
        ),
    ] = None,
    last: Annotated[int | None, typer.Option(help="Only the latest N records.")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also write the HTML report here.")
    ] = None,
    as_json: JsonOption = False,
    project: ProjectOption = None,
) -> None:
    """Compare a window of requests with the model's training data: drift and performance."""
    from ._monitor import monitor_command

    monitor_command(project, model, window=window, last=last, output=output, as_json=as_json)


@app.command()
def feedback(
    file: Annotated[Path, typer.Argument(help="CSV or JSON with request_id, label (and row).")],
    model: Annotated[str, typer.Option(help="The model the requests went to.")],
    project: ProjectOption = None,
) -> None:
    """Attach ground-truth labels to logged requests (for performance monitoring)."""
    from ._monitor import feedback_command

    feedback_command(project, file, model)


@app.command()
def watch(
    once: Annotated[
        bool, typer.Option("--once", help="Check once, act, and exit (for cron).")
    ] = False,
    interval: Annotated[float, typer.Option(help="Seconds between checks.")] = 60.0,
    as_json: JsonOption = False,
    project: ProjectOption = None,
) -> None:
    """Run the controller: monitor, alert, retrain on triggers, bless, canary, promote."""
    from ..errors import InvalidInputError
    from ._watch import watch_command

    if as_json and not once:
        raise InvalidInputError("--json goes with --once.", hint="loopline watch --once --json")
    watch_command(project, once=once, interval=interval, as_json=as_json)


@app.command()
def retrain(project: ProjectOption = None) -> None:
    """Retrain now (a manual trigger): bless, register and promote as the policy says."""
    from ._watch import retrain_command

    retrain_command(project)


@app.command()
def events(
    limit: Annotated[int, typer.Option(help="How many events to show.")] = 50,
    kind: Annotated[
        str | None, typer.Option(help="Only this kind, or a prefix like 'alert.*'.")
    ] = None,
    as_json: JsonOption = False,
    project: ProjectOption = None,
) -> None:
    """The decisions and changes of the project, newest last, with who and why."""
    from ._watch import events_command

    events_command(project, limit=limit, kind=kind, as_json=as_json)


@app.command()
def check(as_json: JsonOption = False, project: ProjectOption = None) -> None:
    """Check loopline.toml (every key, duration, amount, cron expression, alert rule) and
    print the loop's settings with their defaults filled in."""
    from ._check import check_command

    check_command(project, as_json=as_json)


@app.command()
def report(
    run_id: Annotated[str, typer.Argument(help="A run id or a unique prefix of one.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="HTML file to write (default: report-RUN.html)."),
    ] = None,
    project: ProjectOption = None,
) -> None:
    """Write a self-contained HTML report of a run: validation, statistics, models, blessing."""
    from ._report import write_run_report

    write_run_report(project, run_id, output)


@app.command()
def demo(
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Project folder to create (default: a new temporary folder)."),
    ] = None,
) -> None:
    """Run the whole loop on generated data, narrated: train, serve, drift, retrain, promote."""
    from ._demo import run_demo

    run_demo(directory)


ReasonOption = Annotated[str, typer.Option("--reason", help="Why: recorded with the decision.")]
AliasOption = Annotated[str, typer.Option("--alias", help="The alias to move.")]


@models_app.command("list")
def models_list(as_json: JsonOption = False, project: ProjectOption = None) -> None:
    """List the registered models with their aliases."""
    from ._models import list_models

    list_models(project, as_json=as_json)


@models_app.command("show")
def models_show(
    name: Annotated[str, typer.Argument(help="The model's name.")],
    as_json: JsonOption = False,
    project: ProjectOption = None,
) -> None:
    """Show every version of a model: status, aliases, blessing, infra validation, metrics."""
    from ._models import show_model

    show_model(project, name, as_json=as_json)


@models_app.command("approve")
def models_approve(
    name: Annotated[str, typer.Argument(help="The model's name.")],
    version: Annotated[int, typer.Argument(help="The version number.")],
    reason: ReasonOption,
    project: ProjectOption = None,
) -> None:
    """Approve a version, so that it may reach production."""
    from ._models import set_approval

    set_approval(project, name, version, reason, approve=True)


@models_app.command("reject")
def models_reject(
    name: Annotated[str, typer.Argument(help="The model's name.")],
    version: Annotated[int, typer.Argument(help="The version number.")],
    reason: ReasonOption,
    project: ProjectOption = None,
) -> None:
    """Reject a version: it can take no alias."""
    from ._models import set_approval

    set_approval(project, name, version, reason, approve=False)


@models_app.command("promote")
def models_promote(
    name: Annotated[str, typer.Argument(help="The model's name.")],
    version: Annotated[int, typer.Argument(help="The version number.")],
    alias: AliasOption = "production",
    reason: Annotated[str | None, typer.Option(help="Why: recorded with the move.")] = None,
    project: ProjectOption = None,
) -> None:
    """Point an alias (production by default) at a version, after infra validation."""
    from ._models import promote

    promote(project, name, version, alias, reason)


@models_app.command("rollback")
def models_rollback(
    name: Annotated[str, typer.Argument(help="The model's name.")],
    alias: AliasOption = "production",
    reason: Annotated[str | None, typer.Option(help="Why: recorded with the move.")] = None,
    project: ProjectOption = None,
) -> None:
    """Point an alias back at the version it pointed at before."""
    from ._models import rollback

    rollback(project, name, alias, reason)


@models_app.command("history")
def models_history(
    name: Annotated[str, typer.Argument(help="The model's name.")], project: ProjectOption = None
) -> None:
    """Which version each alias pointed at, when, and who moved it; and every event."""
    from ._models import history

    history(project, name)


@models_app.command("export")
def models_export(
    ref: Annotated[str, typer.Argument(help="NAME/VERSION, NAME@ALIAS or NAME.")],
    folder: Annotated[Path, typer.Argument(help="A new folder to write the model into.")],
    format: Annotated[str, typer.Option("--format", help="The format: mlflow.")] = "mlflow",
    project: ProjectOption = None,
) -> None:
    """Export a version in MLflow's model format (mlflow.pyfunc.load_model reads it)."""
    from ._models import export_model

    export_model(project, ref, folder, format)


@models_app.command("import-mlflow")
def models_import_mlflow(
    path: Annotated[Path, typer.Argument(help="An MLflow model folder (with its MLmodel file).")],
    name: Annotated[str, typer.Option("--name", help="The registered model's name.")],
    data: Annotated[
        Path,
        typer.Option(
            "--data", help="A CSV or Parquet sample of the training rows: the drift baseline."
        ),
    ],
    target: Annotated[
        str | None, typer.Option(help="The target column in --data: adds holdout metrics.")
    ] = None,
    approve: Annotated[
        bool, typer.Option("--approve", help="Approve the version now (approval policy auto).")
    ] = False,
    project: ProjectOption = None,
) -> None:
    """Register an MLflow scikit-learn model as a version, served and monitored like any other."""
    from ._models import import_mlflow_model

    import_mlflow_model(project, path, name=name, data=data, target=target, approve=approve)


schema_app = typer.Typer(
    help="The input schema: show it, export it to edit, import it to pin it.",
    no_args_is_help=True,
)
app.add_typer(schema_app, name="schema")
SchemaModelArgument = Annotated[
    str | None,
    typer.Argument(
        help="NAME@ALIAS, NAME/VERSION or NAME (default: the latest training run's schema, "
        "else one inferred from the data)."
    ),
]


@schema_app.command("show")
def schema_show(model: SchemaModelArgument = None, project: ProjectOption = None) -> None:
    """Show the schema's columns: kind, nullable, categories, range."""
    from ._schema import show_schema

    show_schema(project, model)


@schema_app.command("export")
def schema_export(
    model: SchemaModelArgument = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="The JSON file to write.")] = Path(
        "schema.json"
    ),
    project: ProjectOption = None,
) -> None:
    """Write the schema as JSON, to review or edit and import."""
    from ._schema import export_schema

    export_schema(project, model, output)


@schema_app.command("import")
def schema_import(
    path: Annotated[Path, typer.Argument(help="A schema JSON file (from export, edited).")],
    project: ProjectOption = None,
) -> None:
    """Check a schema file and pin it: training validates against it from the next run."""
    from ._schema import import_schema

    import_schema(project, path)


@app.command()
def ui(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    project: ProjectOption = None,
) -> None:
    """Browse runs, lineage, the registry and monitoring in a web browser.

    Tokens come from the environment, as for serve: LOOPLINE_TOKEN lets viewers read (open
    when unset); LOOPLINE_ADMIN_TOKEN lets operators approve, reject, promote and roll back
    (off when unset).
    """
    from ._ui import ui_command

    ui_command(project, host=host, port=port)
