"""``loopline serve`` (the HTTP service on uvicorn) and ``loopline predict`` (batch scoring)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInputError, NotFoundError
from ._output import console

if TYPE_CHECKING:
    from ..serving import Policy

#: The environment variable that hands ``serve --workers`` options to each worker process.
_WORKER_OPTIONS = "LOOPLINE_SERVE_WORKER_OPTIONS"


@dataclass(frozen=True)
class ServeSpec:
    """What ``loopline serve`` serves and how: everything a worker process needs."""

    project: str | None
    model: str
    canary: str | None
    canary_weight: float
    shadow: str | None
    max_batch_size: int
    max_wait_ms: float
    max_body_bytes: int
    lenient: bool | None  # None: [schema] policy
    poll_interval: float


def serve_command(
    project: Path | None,
    model: str,
    *,
    host: str,
    port: int,
    canary: str | None,
    canary_weight: float,
    shadow: str | None,
    max_batch_size: int,
    max_wait_ms: float,
    max_body_bytes: int,
    lenient: bool | None,
    poll_interval: float,
    workers: int = 1,
    log_level: str = "info",
    log_format: str = "text",
    access_log: bool = False,
) -> None:
    """Build the service from the project's registry and run it until interrupted.

    With ``workers`` > 1, that many uvicorn processes serve the port, each with a socket of
    its own that the kernel spreads connections over (``_workers``); one that dies is
    replaced. Each loads the models, follows the aliases on its own (so all swap within
    ``poll_interval`` of a move) and writes request-log files of its own (their names are
    unique, so the log needs no coordination).
    """
    import uvicorn

    from ..serving import log_config

    try:
        logging_config = log_config(log_level, log_format, access_log)
    except ValueError as exc:
        raise InvalidInputError(
            str(exc), hint="See loopline serve --help.", value=f"{log_level}/{log_format}"
        ) from exc
    if canary and shadow:
        raise InvalidInputError(
            "--canary and --shadow go one at a time.",
            hint="Try the new version as a shadow first, then as a canary.",
        )
    if not 0.0 <= canary_weight <= 1.0:
        raise InvalidInputError(
            f"--canary-weight must be between 0 and 1. Got {canary_weight} instead.",
            value=canary_weight,
        )
    if workers < 1:
        raise InvalidInputError(
            f"--workers must be 1 or more. Got {workers} instead.",
            hint="One worker per CPU core the server may use is a good start.",
            value=workers,
        )
    if poll_interval <= 0:
        raise InvalidInputError(
            f"--poll-interval must be a number of seconds > 0. Got {poll_interval} instead.",
            value=poll_interval,
        )
    spec = ServeSpec(
        str(project) if project is not None else None,
        model,
        canary,
        canary_weight,
        shadow,
        max_batch_size,
        max_wait_ms,
        max_body_bytes,
        lenient,
        poll_interval,
    )
    from ..config import load_settings
    from ._check import load_project

    settings = load_settings(project)
    load_project(settings.project_dir)  # a wrong loop section fails here
    from ..requestlog import check_request_log

    # A wrong request-log URL or a missing bucket fails here, not in each worker's startup.
    check_request_log(settings.request_log_url)
    # Fail now with the registry's message on a bad reference, an unreachable store or an
    # altered package, rather than as a traceback from the server's startup (issue 10, 9).
    with _Registry(spec) as registry:
        registry.verify_package(registry.resolve(model))
        for other in (canary, shadow):
            if other:
                try:
                    version = registry.resolve(other)
                except NotFoundError:
                    continue  # an alias that points nowhere yet is served when it does
                registry.verify_package(version)
    from ._workers import check_port, listening_sockets, run_workers

    # Bound (or checked) before the announcement: a port in use is a clear error, not a log.
    sockets = listening_sockets(host, port, workers) if workers > 1 else None
    if sockets is None:
        check_port(host, port)
    what = f"{workers} workers" if workers > 1 else "1 worker"
    console().print(
        f"Serving {model} on http://{host}:{port} with {what} (docs at /docs, metrics at /metrics)"
    )
    if sockets is None:
        app, opened = _app(spec)
        try:
            uvicorn.run(app, host=host, port=port, log_config=logging_config, access_log=access_log)
        finally:
            opened.store.close()
        return
    import logging.config

    logging.config.dictConfig(logging_config)  # the supervisor's own messages, as the workers'
    os.environ[_WORKER_OPTIONS] = json.dumps(asdict(spec))  # read by worker_app in each worker
    options = {
        "app": f"{__name__}:worker_app",
        "factory": True,
        "host": host,
        "port": port,
        "log_config": logging_config,
        "access_log": access_log,
    }
    code = run_workers(sockets, options)
    if code:
        raise SystemExit(code)


def worker_app() -> Any:
    """The app of one ``serve --workers`` process (uvicorn calls this in each worker)."""
    raw = os.environ.get(_WORKER_OPTIONS)
    if raw is None:
        raise InvalidInputError(
            f"{_WORKER_OPTIONS} is not set: worker_app runs inside 'loopline serve --workers'.",
            hint="Start the server with 'loopline serve MODEL --workers N'.",
        )
    # The store's connections end with the worker process.
    return _app(ServeSpec(**json.loads(raw)))[0]


class _Registry:
    """A registry on the project's store and artifacts, closing the store on exit."""

    def __init__(self, spec: ServeSpec) -> None:
        from ..artifacts import ArtifactStore
        from ..config import load_settings
        from ..registry import Registry
        from ..store import Store

        self.settings = load_settings(spec.project)
        self.store = Store(self.settings.store_url)
        self.registry = Registry(self.store, ArtifactStore(self.settings.artifacts_url))

    def __enter__(self) -> Any:
        return self.registry

    def __exit__(self, *exc: object) -> None:
        self.store.close()


def _app(spec: ServeSpec) -> tuple[Any, _Registry]:
    """The FastAPI app serving ``spec``, and the registry it reads (to close its store)."""
    from ..serving import PredictionService, ServingOptions, create_app

    opened = _Registry(spec)
    options = ServingOptions(
        canary_weight=spec.canary_weight if spec.canary else 0.0,
        max_batch_size=spec.max_batch_size,
        max_wait_ms=spec.max_wait_ms,
        max_body_bytes=spec.max_body_bytes,
        policy=project_policy(opened.settings.raw, spec.lenient),
        poll_interval=spec.poll_interval,
        token=os.environ.get("LOOPLINE_TOKEN") or None,
        admin_token=os.environ.get("LOOPLINE_ADMIN_TOKEN") or None,
        request_log_dir=opened.settings.request_log_url,
    )
    service = PredictionService(
        opened.registry, spec.model, canary=spec.canary, shadow=spec.shadow, options=options
    )
    return create_app(service), opened


def project_policy(raw: dict[str, Any], lenient: bool | None) -> Policy:
    """The validation policy: ``--lenient/--strict`` if given, else ``[schema] policy``."""
    from ..components import check_policy

    if lenient is not None:
        return "lenient" if lenient else "strict"
    section = raw.get("schema")
    value = section.get("policy", "strict") if isinstance(section, dict) else "strict"
    return check_policy(value)


def predict_command(
    project: Path | None,
    model: str,
    source: Path,
    output: Path,
    *,
    chunk_size: int,
    lenient: bool | None = None,
) -> None:
    """Score ``source`` in chunks with /predict's checks (same policy); write ``output``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from ..artifacts import ArtifactStore
    from ..config import load_settings
    from ..registry import Registry
    from ..serving import check_frame
    from ..store import Store

    settings = load_settings(project)
    policy = project_policy(settings.raw, lenient)
    with Store(settings.store_url) as store:
        registry = Registry(store, ArtifactStore(settings.artifacts_url))
        version = registry.resolve(model)
        package = registry.load_package(f"{version.model}/{version.version}")
    chunks, total = _chunks(source, chunk_size)
    writer = _Writer(output)
    done = warned = 0
    example = ""
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console(),
        transient=False,
    ) as progress:
        task = progress.add_task(f"Scoring with {version.ref}", total=total)
        for start, chunk in chunks:
            checked = check_frame(chunk, package.schema, policy=policy)
            if checked.errors:
                first = checked.errors[0]
                row = None if first.row is None else first.row + start
                problem = first.message
                if row is not None:  # the message names the record within its chunk
                    problem = problem.split(": ", 1)[-1]
                    field = "" if first.field is None else f", field '{first.field}'"
                    line = f" (CSV line {row + 2})" if source.suffix.lower() == ".csv" else ""
                    problem = f"record {row}{field}{line}: {problem}"
                raise InvalidInputError(
                    f"{source}: {problem} "
                    f"({checked.total_errors} problems in this chunk; policy {policy}).",
                    hint="Fix the input file (the model's schema: loopline schema show "
                    f"{version.ref}), or score with --lenient to treat unseen categories as "
                    "unknown and ignore unknown fields.",
                    value=str(source),
                    errors=[error.to_dict() for error in checked.errors],
                )
            warned += checked.total_warnings
            if checked.warnings and not example:
                example = checked.warnings[0].message
            X = checked.frame[package.features]
            scored = chunk.copy()
            scored["prediction"] = package.model.predict(X)
            if package.task == "classification" and hasattr(package.model, "predict_proba"):
                for label, column in zip(
                    package.model.classes_, package.model.predict_proba(X).T, strict=True
                ):
                    scored[f"proba.{label}"] = column
            writer.write(scored)
            done += len(chunk)
            progress.update(task, completed=done)
    writer.close()
    console().print(f"Wrote {done:,} predictions of {version.ref} to {output}")
    if warned:
        from rich.markup import escape

        console().print(f"{warned:,} warnings (policy {policy}), e.g. {escape(example)}")


def _chunks(source: Path, size: int) -> tuple[Any, int | None]:
    """(start row, frame) pairs of ``source`` and its row count when cheap to know."""
    import pandas as pd

    if not source.is_file():
        raise InvalidInputError(f"Input file {source} does not exist.", value=str(source))
    if source.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(source)

        def batches() -> Any:
            start = 0
            for batch in parquet.iter_batches(batch_size=size):
                frame = batch.to_pandas()
                yield start, frame
                start += len(frame)

        return batches(), parquet.metadata.num_rows

    def csv_chunks() -> Any:
        start = 0
        for frame in pd.read_csv(source, chunksize=size):
            yield start, frame
            start += len(frame)

    return csv_chunks(), None


class _Writer:
    """Appends scored chunks to a CSV or Parquet file, written under a temporary name."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.tmp")
        self.parquet = path.suffix.lower() in (".parquet", ".pq")
        self._writer: Any = None
        self._first = True

    def write(self, frame: Any) -> None:
        if self.parquet:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._writer is None:
                self._writer = pq.ParquetWriter(self.tmp, table.schema)
            self._writer.write_table(table)
        else:
            frame.to_csv(
                self.tmp, mode="w" if self._first else "a", header=self._first, index=False
            )
        self._first = False

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self.tmp.exists():
            os.replace(self.tmp, self.path)
