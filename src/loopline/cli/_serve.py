"""``loopline serve`` (the HTTP service on uvicorn) and ``loopline predict`` (batch scoring)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInputError, NotFoundError
from ._output import console

if TYPE_CHECKING:
    from ..serving._validation import Policy


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
    log_level: str = "info",
    log_format: str = "text",
    access_log: bool = False,
) -> None:
    """Build the service from the project's registry and run it until interrupted."""
    import uvicorn

    from ..artifacts import ArtifactStore
    from ..config import load_settings
    from ..registry import Registry
    from ..serving import PredictionService, ServingOptions, create_app, log_config
    from ..store import Store

    try:
        logging = log_config(log_level, log_format, access_log)
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
    settings = load_settings(project)
    from ._check import load_project

    load_project(settings.project_dir)  # a wrong loop section fails here, not hours later
    store = Store(settings.store_url)
    registry = Registry(store, ArtifactStore(settings.artifacts_url))
    # Fail now with the registry's message on a bad reference or an altered package,
    # rather than as a traceback from the server's startup (issue 10, item 9).
    registry.verify_package(registry.resolve(model))
    for other in (canary, shadow):
        if other:
            try:
                version = registry.resolve(other)
            except NotFoundError:
                continue  # an alias that points nowhere yet is served when it does
            registry.verify_package(version)
    options = ServingOptions(
        canary_weight=canary_weight if canary else 0.0,
        max_batch_size=max_batch_size,
        max_wait_ms=max_wait_ms,
        max_body_bytes=max_body_bytes,
        policy=project_policy(settings.raw, lenient),
        poll_interval=poll_interval,
        token=os.environ.get("LOOPLINE_TOKEN") or None,
        admin_token=os.environ.get("LOOPLINE_ADMIN_TOKEN") or None,
        request_log_dir=settings.state_dir / "requests",
    )
    service = PredictionService(registry, model, canary=canary, shadow=shadow, options=options)
    console().print(f"Serving {model} on http://{host}:{port} (docs at /docs, metrics at /metrics)")
    try:
        uvicorn.run(
            create_app(service),
            host=host,
            port=port,
            log_config=logging,
            access_log=access_log,
        )
    finally:
        store.close()


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
    """Score ``source`` in chunks with the checks /predict applies (same policy); write ``output``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from ..artifacts import ArtifactStore
    from ..config import load_settings
    from ..registry import Registry
    from ..serving._validation import check_frame
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
