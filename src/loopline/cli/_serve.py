"""``loopline serve`` (the HTTP service on uvicorn) and ``loopline predict`` (batch scoring)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError
from ._output import console


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
    lenient: bool,
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
    registry.resolve(model)  # fail now, with the registry's message, on a bad reference
    options = ServingOptions(
        canary_weight=canary_weight if canary else 0.0,
        max_batch_size=max_batch_size,
        max_wait_ms=max_wait_ms,
        max_body_bytes=max_body_bytes,
        policy="lenient" if lenient else "strict",
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


def predict_command(
    project: Path | None, model: str, source: Path, output: Path, *, chunk_size: int
) -> None:
    """Score ``source`` in chunks with the model's own validation; write ``output``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from ..artifacts import ArtifactStore
    from ..config import load_settings
    from ..registry import Registry
    from ..serving._validation import check_frame
    from ..store import Store

    settings = load_settings(project)
    with Store(settings.store_url) as store:
        registry = Registry(store, ArtifactStore(settings.artifacts_url))
        version = registry.resolve(model)
        package = registry.load_package(f"{version.model}/{version.version}")
    chunks, total = _chunks(source, chunk_size)
    writer = _Writer(output)
    done = 0
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
            checked = check_frame(chunk, package.schema, policy="lenient")
            if checked.errors:
                first = checked.errors[0]
                row = None if first.row is None else first.row + start
                raise InvalidInputError(
                    f"{source}: record {row}, field {first.field!r}: {first.message} "
                    f"({checked.total_errors} problems in this chunk).",
                    hint="Fix the input file; the model's schema is in its model card.",
                    value=str(source),
                )
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
