"""The request log: every record the service predicted, as Parquet files monitoring reads.

``RequestLog.append`` is cheap and never blocks on disk: it queues the request, and a
background thread writes what is queued every ``flush_rows`` rows or ``flush_interval``
seconds, one file per model and hour::

    <root>/model=<name>/date=YYYY-MM-DD/hour=HH/part-<YYYYMMDDTHHMMSSffffff>Z-<uuid>.parquet

(the date and hour of the request's timestamp, UTC; ``<time>`` is when the file was written).
Each file is written under a temporary name (``.part-....parquet.tmp``, which readers
ignore) and then renamed, so a crash or ``kill -9`` loses at most the rows not yet flushed
and never leaves a half-written file under a final name. The temporary files such a crash
leaves behind are deleted by the next ``RequestLog`` on the folder once they are
``STALE_AFTER`` seconds old (a live writer's exist for milliseconds).

One row per input record, with these columns:

==================  ===================  ===================================================
column              type                 meaning
==================  ===================  ===================================================
``request_id``      string               the request's id
``row``             int64                the record's position within the request
``timestamp``       timestamp[us, UTC]   when the request was served
``model``           string               the model's name
``version``         string               the model version that answered (as text, so that
                                         ``3`` and ``"3-canary"`` share one type)
``latency_ms``      double               the request's latency
``in.<feature>``    the feature's type   the record's input values, as the model got them
``out.<name>``      the output's type    one output value per record: ``out.prediction``,
                                         ``out.proba.<class>`` (see ``prediction_outputs``)
==================  ===================  ===================================================

Requests the service refused or failed have no rows; ``append_error`` records each as one
JSON line in ``<root>/model=<name>/errors/date=YYYY-MM-DD.jsonl`` (a file per UTC day, so
monitoring reads only the days of its window: ``count_errors``).

The root may also be an fsspec URL (``s3://bucket/prefix``; the setting is ``[serving]
request_log`` or ``LOOPLINE_REQUEST_LOG_URL``), so that replicas on several hosts write one
log that the controller reads. Object stores have neither rename nor append, so there each
file is put as one whole object under its final name (a PUT is atomic: readers see all of
it or nothing, and no temporary files exist), and the errors of each flush are one small
object per model and day, ``<root>/model=<name>/errors/date=YYYY-MM-DD/<time>Z-<uuid>.jsonl``.
``count_errors`` reads both layouts, wherever they are. A bucket that does not exist is an
error when the log is opened (once, not per flush); a write that fails later is logged as a
warning with the URL (never credentials) and counted in ``LogStats``, and its rows are
dropped, as a failed local write's are.

Flat ``in.``/``out.`` columns keep reads fast (Parquet reads only the columns asked for)
and drift computation simple (a feature is one column). A file holds the columns of its
requests; ``read_request_log`` unifies files whose columns differ (a column a file lacks
reads as missing), prunes partitions by directory name, and skips unreadable files (for
example one cut off by an external copy) with a logged warning, counting them.
"""

from __future__ import annotations

import json
import logging
import math
import os
import queue
import re
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from loopline.artifacts import backend_errors
from loopline.config import NAME_PATTERN
from loopline.errors import ConflictError, InvalidInputError

from ._location import Location, location_of, redact
from ._records import NUMERIC, TEXT, Records, column_of, frame_of

__all__ = [
    "BASE_COLUMNS",
    "LogStats",
    "ReadStats",
    "RequestLog",
    "append_error",
    "count_errors",
    "has_requests",
    "prediction_outputs",
    "read_request_log",
]

logger = logging.getLogger(__name__)

#: Columns every request-log file has, in order, before the ``in.`` and ``out.`` columns.
BASE_COLUMNS = ("request_id", "row", "timestamp", "model", "version", "latency_ms")

_MODEL_NAME = re.compile(NAME_PATTERN)  # the one name rule (loopline.config.NAME_RULE)
_DATE_DIR = re.compile(r"date=(\d{4})-(\d{2})-(\d{2})")
_HOUR_DIR = re.compile(r"hour=(\d{2})")
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)
_MICROSECOND = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: Seconds after which a temporary file can only be a crashed writer's leftover.
STALE_AFTER = 600.0


@dataclass(frozen=True)
class LogStats:
    """Counters of a ``RequestLog`` since it was opened.

    Attributes:
        appended_rows: Rows given to ``append``.
        written_rows: Rows written to files.
        dropped_rows: Rows lost: refused because too many were pending, or in a failed
            write (both are logged).
        files_written: Files written.
        pending_rows: Rows appended and not yet written or dropped.
        failed_writes: Files (and error objects) that could not be written, each logged;
            their rows are in ``dropped_rows``.
        dropped_errors: Error records lost in a failed write (remote logs batch them).
    """

    appended_rows: int
    written_rows: int
    dropped_rows: int
    files_written: int
    pending_rows: int
    failed_writes: int = 0
    dropped_errors: int = 0


@dataclass(frozen=True)
class ReadStats:
    """What ``read_request_log`` read.

    Attributes:
        files_read: Files read.
        files_skipped: Files that could not be read (each logged as a warning).
        rows: Rows returned.
        skipped: The paths of the skipped files.
    """

    files_read: int
    files_skipped: int
    rows: int
    skipped: tuple[str, ...] = ()


@dataclass
class _Entry:
    model: str
    version: str
    request_id: str
    inputs: pd.DataFrame | Records
    outputs: dict[str, Any]
    latency_ms: float
    timestamp: datetime


@dataclass
class _Error:
    model: str
    day: date
    record: dict[str, Any]


@dataclass
class _Flush:
    done: threading.Event = field(default_factory=threading.Event)
    stop: bool = False


class RequestLog:
    """Appends served requests to Parquet files from a background thread.

    The layout and columns are in this module's docstring.

    Args:
        root: The log's folder (created if needed), or an fsspec URL such as
            ``s3://bucket/prefix`` (its bucket must exist). Several processes may share
            it: file names are unique.
        flush_rows: Write once this many rows are pending.
        flush_interval: Write rows at most this many seconds after they were appended.
        max_pending_rows: Refuse (drop and count) rows beyond this many pending, so a slow
            disk cannot exhaust memory; ``append`` never blocks.
        fsync: Sync each file to disk before renaming it into place, so a power loss
            cannot leave an empty file under a final name either.

    Raises:
        InvalidInputError: If an argument is invalid.
        ConfigError: If ``root`` is a URL of an unknown scheme, or its bucket does not exist.
        BackendUnavailableError: If a remote ``root`` cannot be reached.

    Example:
        >>> import tempfile
        >>> folder = tempfile.TemporaryDirectory()
        >>> with RequestLog(folder.name) as log:
        ...     log.append("churn", 3, "req-1", pd.DataFrame({"age": [31.0, 47.0]}),
        ...                {"prediction": [0, 1]}, latency_ms=4.2)
        >>> frame, stats = read_request_log(folder.name, "churn")
        >>> frame[["request_id", "row", "version", "in.age", "out.prediction"]].values.tolist()
        [['req-1', 0, '3', 31.0, 0], ['req-1', 1, '3', 47.0, 1]]
        >>> stats.files_read, stats.rows
        (1, 2)
        >>> folder.cleanup()
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        flush_rows: int = 50_000,
        flush_interval: float = 1.0,
        max_pending_rows: int = 1_000_000,
        fsync: bool = True,
    ) -> None:
        for name, value in (("flush_rows", flush_rows), ("max_pending_rows", max_pending_rows)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInputError(
                    f"The '{name}' argument of RequestLog must be an int >= 1. Got {value!r} "
                    "instead.",
                    value=value,
                )
        if not 0 < flush_interval < math.inf:
            raise InvalidInputError(
                "The 'flush_interval' argument of RequestLog must be a number of seconds > 0. "
                f"Got {flush_interval!r} instead.",
                value=flush_interval,
            )
        self._location = location_of(root)
        #: The folder, or the URL of a remote log (as given, without credentials).
        self.root: Path | str = self._location.folder or self._location.url
        self.flush_rows = flush_rows
        self.flush_interval = float(flush_interval)
        self.max_pending_rows = max_pending_rows
        self.fsync = fsync
        if self._location.folder is not None:
            self._location.folder.mkdir(parents=True, exist_ok=True)
        else:
            self._location.check()  # once: a missing bucket fails here, not at each flush
        self._queue: queue.SimpleQueue[_Entry | _Error | _Flush] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._appended = self._written = self._dropped = self._files = self._pending = 0
        self._failed = self._dropped_errors = 0
        name = self._location.path.rstrip("/").rsplit("/", 1)[-1]
        self._thread = threading.Thread(
            target=self._run, name=f"loopline-request-log-{name}", daemon=True
        )
        self._thread.start()

    def append(
        self,
        model: str,
        version: int | str,
        request_id: str,
        inputs: pd.DataFrame | Records,
        outputs: Mapping[str, Any],
        latency_ms: float,
        timestamp: datetime | None = None,
    ) -> None:
        """Queue one request's records for writing; returns at once.

        Args:
            model: The model's name (letters, digits, ``_``, ``.``, ``-``; it names a folder).
            version: The model version that answered.
            request_id: The request's id.
            inputs: The records as the model got them, one row each (a DataFrame, or the
                service's ``Records``).
            outputs: Output name to values, one per record: a list or 1-D array is column
                ``out.<name>``; a 2-D array or a DataFrame is one column per column
                (``out.<name>.<column>``). ``prediction_outputs`` builds this mapping.
            latency_ms: The request's latency in milliseconds.
            timestamp: When the request was served (default: now); naive means UTC.

        Raises:
            InvalidInputError: If an argument is of the wrong type or an output's length
                differs from the number of records.
            ConflictError: If the log is closed.
        """
        _check_model_name(model)
        if not isinstance(inputs, pd.DataFrame | Records):
            raise InvalidInputError(
                f"RequestLog.append needs the inputs as a DataFrame. Got "
                f"{type(inputs).__name__} instead.",
                value=type(inputs).__name__,
            )
        rows = len(inputs)
        for name, values in outputs.items():
            if np.ndim(values) == 0 or len(values) != rows:
                got = "a single value" if np.ndim(values) == 0 else f"{len(values)} values"
                raise InvalidInputError(
                    f"Output '{name}' has {got} for {rows} input records; give one value per "
                    "record.",
                    output=name,
                )
        stamp = timestamp if timestamp is not None else datetime.now(timezone.utc)
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=timezone.utc)
        # A shallow copy under copy-on-write: later changes to the caller's frame do not
        # reach the log, and no data is copied now. Records are never changed once made.
        entry = _Entry(
            model,
            str(version),
            str(request_id),
            inputs.copy(deep=False) if isinstance(inputs, pd.DataFrame) else inputs,
            dict(outputs),
            float(latency_ms),
            stamp.astimezone(timezone.utc),
        )
        with self._lock:
            if self._closed:
                raise ConflictError(
                    "The request log is closed and takes no more rows.",
                    hint="Append before close(), or open a new RequestLog.",
                )
            self._appended += rows
            if self._pending + rows > self.max_pending_rows:
                self._dropped += rows
                dropped = True
            else:
                self._pending += rows
                self._queue.put(entry)
                dropped = False
        if dropped:
            logger.warning(
                "Request log %s is %d rows behind; dropped the %d rows of request %s.",
                self.root,
                self._pending,
                rows,
                request_id,
            )

    def append_error(
        self, model: str, status: int, message: str, *, when: float | None = None
    ) -> None:
        """Record one refused or failed request of ``model`` (see ``append_error``).

        A local log writes the line at once, as the module's ``append_error`` does; a
        remote one queues it, and the writer puts each flush's errors as one object per
        model and day (an object store cannot append).

        Args:
            model: The model's name.
            status: The HTTP status answered.
            message: What was wrong (the first 300 characters are kept).
            when: The time, in seconds since the epoch (default: now).
        """
        if self._location.folder is not None:
            append_error(self._location.folder, model, status, message, when=when)
            return
        _check_model_name(model)
        record, day = _error_record(status, message, when)
        with self._lock:
            if not self._closed:
                self._queue.put(_Error(model, day, record))
                return
        self._write_errors({(model, day): [record]})  # closed: no writer thread to batch it

    def flush(self, timeout: float | None = None) -> bool:
        """Write every row appended so far, and wait until it is on disk.

        Args:
            timeout: The longest to wait, in seconds (``None``: as long as it takes).

        Returns:
            Whether the rows were written within ``timeout``.

        Raises:
            ConflictError: If the log is closed.
        """
        marker = _Flush()
        with self._lock:
            if self._closed:
                raise ConflictError("The request log is closed; close() already flushed it.")
            self._queue.put(marker)
        return marker.done.wait(timeout)

    def close(self, timeout: float | None = None) -> None:
        """Write every pending row and stop the writer thread (graceful shutdown).

        Safe to call more than once.

        Args:
            timeout: The longest to wait for the writer, in seconds (``None``: no limit).
        """
        with self._lock:
            if not self._closed:
                self._closed = True
                self._queue.put(_Flush(stop=True))
        self._thread.join(timeout)

    @property
    def stats(self) -> LogStats:
        """The log's counters (rows appended, written, dropped; files written)."""
        with self._lock:
            return LogStats(
                self._appended,
                self._written,
                self._dropped,
                self._files,
                self._pending,
                self._failed,
                self._dropped_errors,
            )

    def __enter__(self) -> RequestLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- the writer thread --------------------------------------------------------------------

    def _run(self) -> None:
        if self._location.folder is not None:
            _remove_stale_files(self._location.folder)
        buffer: dict[tuple[str, date, int], list[_Entry]] = {}
        errors: dict[tuple[str, date], list[dict[str, Any]]] = {}
        rows = 0
        oldest: float | None = None
        while True:
            wait = (
                None
                if oldest is None
                else max(0.0, oldest + self.flush_interval - time.monotonic())
            )
            try:
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                item = None
            if isinstance(item, _Entry):
                key = (item.model, item.timestamp.date(), item.timestamp.hour)
                buffer.setdefault(key, []).append(item)
                rows += len(item.inputs)
                oldest = time.monotonic() if oldest is None else oldest
            elif isinstance(item, _Error):  # only a remote log queues errors
                errors.setdefault((item.model, item.day), []).append(item.record)
                oldest = time.monotonic() if oldest is None else oldest
            due = oldest is not None and time.monotonic() - oldest >= self.flush_interval
            if isinstance(item, _Flush) or rows >= self.flush_rows or due:
                self._write_all(buffer)
                if errors:
                    self._write_errors(errors)
                buffer, rows, oldest, errors = {}, 0, None, {}
            if isinstance(item, _Flush):
                item.done.set()
                if item.stop:
                    return

    def _write_all(self, buffer: dict[tuple[str, date, int], list[_Entry]]) -> None:
        folder = self._location.folder
        for (model, day, hour), entries in buffer.items():
            count = sum(len(entry.inputs) for entry in entries)
            parts = (f"model={model}", f"date={day.isoformat()}", f"hour={hour:02d}")
            try:
                if folder is not None:
                    self._write_file(folder.joinpath(*parts), _table_of(entries))
                else:
                    self._put_file(parts, _table_of(entries))
            except Exception as exc:
                if folder is not None:
                    logger.exception(
                        "Could not write %d request-log rows to %s; they are lost.",
                        count,
                        folder.joinpath(*parts),
                    )
                else:  # the URL and the backend's message, never a credential
                    logger.warning(
                        "Could not write %d request-log rows to %s: %s; they are lost.",
                        count,
                        self._location.shown(self._location.join(*parts)),
                        redact(str(exc)) or type(exc).__name__,
                    )
                with self._lock:
                    self._dropped += count
                    self._pending -= count
                    self._failed += 1
                continue
            with self._lock:
                self._written += count
                self._files += 1
                self._pending -= count

    def _write_file(self, directory: Path, table: pa.Table) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        written = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        name = f"part-{written}Z-{uuid.uuid4().hex}.parquet"
        temporary = directory / f".{name}.tmp"
        try:
            with open(temporary, "wb") as handle:
                pq.write_table(table, handle, **_parquet_options(table))
                if self.fsync:
                    handle.flush()
                    os.fsync(handle.fileno())
            # Atomic on POSIX and Windows: readers see the whole file or none of it.
            os.replace(temporary, directory / name)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise

    def _put_file(self, parts: tuple[str, ...], table: pa.Table) -> None:
        """Put one file as one whole object under its final name (no rename on S3)."""
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, **_parquet_options(table))
        written = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        path = self._location.join(*parts, f"part-{written}Z-{uuid.uuid4().hex}.parquet")
        self._location.fs.pipe_file(path, sink.getvalue().to_pybytes())

    def _error_folder(self, model: str, day: date) -> str:
        return self._location.join(f"model={model}", "errors", f"date={day.isoformat()}")

    def _write_errors(self, errors: dict[tuple[str, date], list[dict[str, Any]]]) -> None:
        for (model, day), records in errors.items():
            try:
                _put_errors(self._location, model, day, records)
            except Exception as exc:
                logger.warning(
                    "Could not write %d request-log error records to %s: %s; they are lost.",
                    len(records),
                    self._location.shown(self._error_folder(model, day)),
                    redact(str(exc)) or type(exc).__name__,
                )
                with self._lock:
                    self._dropped_errors += len(records)
                    self._failed += 1


def _parquet_options(table: pa.Table) -> dict[str, Any]:
    """Dictionary-encode text only, and keep min/max statistics for the base columns only.

    Floats are rarely repeated, so dictionary-encoding them is work Parquet then throws away,
    and statistics of every feature are not what readers prune on (time is): writing a
    1,000-row, 25-column file takes a third of the default's CPU, and the file is smaller.
    """
    text = [
        field.name
        for field in table.schema
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type)
    ]
    base = [name for name in BASE_COLUMNS if name in table.column_names]
    return {"use_dictionary": text, "write_statistics": base}


def _remove_stale_files(root: Path) -> None:
    """Delete temporary files a crashed writer left (never a live writer's: too recent)."""
    cutoff = time.time() - STALE_AFTER
    removed = 0
    for path in root.glob("model=*/date=*/hour=*/.part-*.parquet.tmp"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except OSError:  # gone meanwhile, or not ours to delete: leave it
            continue
    if removed:
        logger.info("Removed %d temporary file(s) of an interrupted writer in %s", removed, root)


def prediction_outputs(
    predictions: Sequence[Any] | np.ndarray,
    probabilities: np.ndarray | None = None,
    classes: Sequence[Any] | np.ndarray | None = None,
) -> dict[str, Any]:
    """Build ``append``'s ``outputs``: ``prediction`` and one ``proba.<class>`` per class.

    Args:
        predictions: One prediction per record.
        probabilities: A ``(records, classes)`` array of class probabilities, or ``None``.
        classes: The class labels of its columns (default: ``0``, ``1``, ...).

    Returns:
        ``{"prediction": ..., "proba.<class>": ..., ...}``.

    Example:
        >>> import numpy as np
        >>> sorted(prediction_outputs(["no"], np.array([[0.8, 0.2]]), ["no", "yes"]))
        ['prediction', 'proba.no', 'proba.yes']
    """
    outputs: dict[str, Any] = {"prediction": np.asarray(predictions)}
    if probabilities is not None:
        matrix = np.asarray(probabilities)
        labels = list(classes) if classes is not None else list(range(matrix.shape[1]))
        for i, label in enumerate(labels):
            outputs[f"proba.{label}"] = matrix[:, i]
    return outputs


def _table_of(entries: list[_Entry]) -> pa.Table:
    """The Arrow table of some requests: built directly when it can be, else through pandas."""
    table = _direct_table(entries)
    return table if table is not None else _to_arrow(_frame_of(entries))


def _direct_table(entries: list[_Entry]) -> pa.Table | None:
    """The table ``_to_arrow(_frame_of(entries))`` gives, built from the lists, no pandas.

    For the common case, the service's: every request's inputs are ``Records`` of the same
    columns and types, and its outputs the same names of numeric (or boolean) arrays. This
    skips building a DataFrame only to convert it (two thirds of the writer's time for wide
    requests). Anything else returns None, and the pandas path writes it; the two give equal
    tables (``tests/requestlog/test_request_log.py``).
    """
    first = entries[0].inputs
    if not isinstance(first, Records):
        return None
    for entry in entries:
        inputs = entry.inputs
        if not (
            isinstance(inputs, Records)
            and inputs.names == first.names
            and inputs.dtypes == first.dtypes
        ):
            return None
    outputs = [_flat_outputs(entry.outputs) for entry in entries]
    names = list(outputs[0])
    for part in outputs:
        if list(part) != names:
            return None
    lengths = np.array([len(entry.inputs) for entry in entries], dtype=np.int64)
    stamps = np.array(
        [(entry.timestamp - _EPOCH) // _MICROSECOND for entry in entries], dtype=np.int64
    )
    columns: dict[str, pa.Array] = {
        "request_id": _repeated([e.request_id for e in entries], lengths),
        "row": pa.array(np.concatenate([np.arange(n, dtype=np.int64) for n in lengths])),
        "timestamp": pa.array(np.repeat(stamps, lengths), type=pa.timestamp("us", tz="UTC")),
        "model": _repeated([e.model for e in entries], lengths),
        "version": _repeated([e.version for e in entries], lengths),
        "latency_ms": pa.array(
            np.repeat(np.array([e.latency_ms for e in entries], dtype=np.float64), lengths)
        ),
    }
    try:
        for i, (name, dtype) in enumerate(zip(first.names, first.dtypes, strict=True)):
            values = column_of([cast(Records, e.inputs) for e in entries], i)
            if dtype == NUMERIC:
                # from_pandas: NaN is missing, as pandas' conversion makes it.
                array = pa.array(np.asarray(values, dtype=np.float64), from_pandas=True)
            elif dtype == TEXT and all(type(value) is str for value in values):
                array = pa.array(values, type=pa.string())
            else:
                return None
            columns[f"in.{name}"] = array
        for name in names:
            arrays = [part[name] for part in outputs]
            kinds = {array.dtype.kind for array in arrays}
            joined = np.concatenate(arrays)
            if kinds <= {"U"} or (
                kinds <= {"O"} and all(type(value) is str for value in joined.tolist())
            ):
                # Labels: pandas makes text its ``str`` dtype, which Arrow writes as large_string.
                columns[name] = pa.array(joined, type=pa.large_string())
            elif len({array.dtype for array in arrays}) == 1 and kinds <= {"b", "i", "u", "f"}:
                columns[name] = pa.array(joined, from_pandas=True)
            else:
                return None
    except _ARROW_ERRORS:
        return None
    if len(columns) != 6 + len(first.names) + len(names):
        return None  # an input and an output share a column name: pandas' rules apply
    return pa.table(columns)


def _repeated(values: list[str], lengths: np.ndarray) -> pa.Array:
    """One text column (large_string, as pandas writes its ``str`` columns): each value
    repeated its request's number of rows."""
    if len(values) == 1:
        return pa.array([values[0]] * int(lengths[0]), type=pa.large_string())
    return pa.array(np.repeat(np.array(values, dtype=object), lengths), type=pa.large_string())


def _frame_of(entries: list[_Entry]) -> pd.DataFrame:
    """The rows of some requests: base columns, then ``in.`` and ``out.`` columns."""
    lengths = np.array([len(entry.inputs) for entry in entries], dtype=np.int64)
    stamps = np.array(
        [(entry.timestamp - _EPOCH) // _MICROSECOND for entry in entries], dtype=np.int64
    )
    base = pd.DataFrame(
        {
            "request_id": np.repeat(
                np.array([e.request_id for e in entries], dtype=object), lengths
            ),
            "row": np.concatenate([np.arange(n, dtype=np.int64) for n in lengths]),
            "timestamp": pd.to_datetime(np.repeat(stamps, lengths), unit="us", utc=True),
            "model": np.repeat(np.array([e.model for e in entries], dtype=object), lengths),
            "version": np.repeat(np.array([e.version for e in entries], dtype=object), lengths),
            "latency_ms": np.repeat([e.latency_ms for e in entries], lengths).astype(np.float64),
        }
    )
    inputs = frame_of([entry.inputs for entry in entries]).add_prefix("in.")
    outputs = _outputs_frame([_flat_outputs(entry.outputs) for entry in entries], lengths)
    return pd.concat([base, inputs, outputs], axis=1)


def _flat_outputs(outputs: dict[str, Any]) -> dict[str, np.ndarray]:
    """Outputs as ``out.<name>`` 1-D arrays (2-D arrays and frames one column each)."""
    flat: dict[str, np.ndarray] = {}
    for name, values in outputs.items():
        if isinstance(values, pd.DataFrame):
            for column in values.columns:
                flat[f"out.{name}.{column}"] = values[column].to_numpy()
            continue
        array = np.asarray(values)
        if array.ndim == 2:
            for i in range(array.shape[1]):
                flat[f"out.{name}.{i}"] = array[:, i]
        elif array.ndim == 1:
            flat[f"out.{name}"] = array
        else:  # one value per record, each an array: kept whole, as a list
            flat[f"out.{name}"] = _object_array([value.tolist() for value in array])
    return flat


def _outputs_frame(parts: list[dict[str, np.ndarray]], lengths: np.ndarray) -> pd.DataFrame:
    """One column per output name; rows of requests without that output are missing."""
    names = list(dict.fromkeys(name for part in parts for name in part))
    columns: dict[str, np.ndarray] = {}
    for name in names:
        arrays = [
            part[name] if name in part else np.full(length, None, dtype=object)
            for part, length in zip(parts, lengths.tolist(), strict=True)
        ]
        if len({array.dtype for array in arrays}) > 1:
            arrays = [array.astype(object) for array in arrays]
        columns[name] = np.concatenate(arrays)
    return pd.DataFrame(columns, index=pd.RangeIndex(int(lengths.sum())))


def _to_arrow(frame: pd.DataFrame) -> pa.Table:
    """``frame`` as an Arrow table; object columns Arrow cannot type are written as text."""
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except _ARROW_ERRORS:
        fixed = frame.copy()
        for name in fixed.columns:
            if fixed[name].dtype == object:
                try:
                    pa.array(fixed[name], from_pandas=True)
                except _ARROW_ERRORS:
                    text = fixed[name].map(str).astype(object)
                    fixed[name] = text.where(fixed[name].notna(), None)
        table = pa.Table.from_pandas(fixed, preserve_index=False)
    # Without pandas' metadata, files of different requests unify on Arrow types alone.
    return table.replace_schema_metadata(None)


# -- refused and failed requests ----------------------------------------------------------------


def append_error(
    root: str | os.PathLike[str],
    model: str,
    status: int,
    message: str,
    *,
    when: float | None = None,
) -> None:
    """Record one refused or failed request of ``model`` (what ``error_rate`` counts).

    In a local folder: one ``write`` of one line to a file opened for appending, so lines
    of concurrent writers do not interleave, and a crash can cut off at most the line being
    written. On a remote filesystem: one small object holding the line (a ``RequestLog``
    batches a flush's errors into one object instead).

    Args:
        root: The request log's folder or URL.
        model: The model's name.
        status: The HTTP status answered.
        message: What was wrong (the first 300 characters are kept).
        when: The time, in seconds since the epoch (default: now).

    Raises:
        BackendUnavailableError: A remote log could not be written.
    """
    _check_model_name(model)
    location = location_of(root)
    record, day = _error_record(status, message, when)
    if location.folder is None:
        try:
            _put_errors(location, model, day, [record])
        except backend_errors() as exc:
            raise location.unavailable("write to", exc) from exc
        return
    folder = location.folder / f"model={model}" / "errors"
    folder.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record) + "\n"
    handle = os.open(
        folder / f"date={day.isoformat()}.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644
    )
    try:
        os.write(handle, line.encode("utf-8"))
    finally:
        os.close(handle)


def _error_record(status: int, message: str, when: float | None) -> tuple[dict[str, Any], date]:
    """An error's JSON record, and its UTC day (which file or folder holds it)."""
    stamp = time.time() if when is None else float(when)
    day = datetime.fromtimestamp(stamp, timezone.utc).date()
    return {"time": stamp, "status": int(status), "error": message[:300]}, day


def _put_errors(location: Location, model: str, day: date, records: list[dict[str, Any]]) -> None:
    """One object of JSON lines under the day's folder of a remote log (no append there)."""
    written = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    name = f"{written}Z-{uuid.uuid4().hex}.jsonl"
    path = location.join(f"model={model}", "errors", f"date={day.isoformat()}", name)
    text = "".join(json.dumps(record) + "\n" for record in records)
    location.fs.pipe_file(path, text.encode("utf-8"))


def count_errors(
    root: str | os.PathLike[str], model: str, start: datetime | None, end: datetime
) -> int:
    """How many refused or failed requests of ``model`` were recorded in ``[start, end)``.

    Only the files of the window's days are read, in either layout (a file per day, or a
    folder per day of batch files); a line cut off by a crash is skipped.

    Raises:
        BackendUnavailableError: A remote log could not be read.
    """
    low = _utc(start)
    high = _utc(end)
    assert high is not None
    first = low.date() if low is not None else date.min
    count = 0
    for line in _error_lines(location_of(root), model, first, high.date()):
        try:
            stamp = float(json.loads(line)["time"])
        except (ValueError, KeyError, TypeError):
            continue  # a line cut off by a crash
        moment = datetime.fromtimestamp(stamp, timezone.utc)
        count += (low is None or low <= moment) and moment < high
    return count


def _error_lines(location: Location, model: str, first: date, last: date) -> Iterator[str]:
    """The lines of every error file of ``model`` whose day is in ``[first, last]``."""
    errors = location.join(f"model={model}", "errors")
    if location.folder is not None:
        entries = [str(path) for path in Path(errors).glob("date=*")]
    else:
        entries = _remote_list(location, errors)
    files: list[str] = []
    folders: list[str] = []
    for entry in sorted(entries):
        name = entry.rstrip("/").rsplit("/", 1)[-1]
        try:
            day = date.fromisoformat(name.removeprefix("date=").removesuffix(".jsonl"))
        except ValueError:
            continue  # not a file of ours
        if first <= day <= last:
            (files if name.endswith(".jsonl") else folders).append(entry)
    if location.folder is not None:
        files += [str(path) for folder in folders for path in sorted(Path(folder).glob("*.jsonl"))]
        for path in files:
            if os.path.isfile(path):
                with open(path, encoding="utf-8", errors="replace") as handle:
                    yield from handle
        return
    for folder in folders:
        files += [path for path in _remote_list(location, folder) if path.endswith(".jsonl")]
    try:
        contents = location.fs.cat(files, on_error="omit") if files else {}
    except backend_errors() as exc:
        raise location.unavailable("read", exc) from exc
    for path in files:  # in name order; a file gone meanwhile is omitted
        if path in contents:
            yield from bytes(contents[path]).decode("utf-8", errors="replace").splitlines()


def has_requests(root: str | os.PathLike[str], model: str) -> bool:
    """Whether the request log at ``root`` holds anything of ``model``.

    Raises:
        BackendUnavailableError: A remote log could not be read.
    """
    _check_model_name(model)
    location = location_of(root)
    if location.folder is not None:
        return (location.folder / f"model={model}").exists()
    return bool(_remote_list(location, location.join(f"model={model}")))


def _remote_list(location: Location, path: str) -> list[str]:
    """The paths of the entries right under ``path`` (none if it does not exist)."""
    try:
        return [str(entry) for entry in location.fs.ls(path, detail=False)]
    except FileNotFoundError:
        return []
    except backend_errors() as exc:
        raise location.unavailable("read", exc) from exc


# -- reading ----------------------------------------------------------------------------------


def read_request_log(
    root: str | os.PathLike[str],
    model: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    last: timedelta | int | None = None,
    columns: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, ReadStats]:
    """Read a model's logged requests in a time range.

    Only the hour partitions that overlap the range are opened. Unreadable files (cut off,
    or not Parquet) are skipped with a logged warning and counted; files whose columns
    differ are unified (a column a file lacks reads as missing).

    Args:
        root: The request log's folder or URL (``s3://bucket/prefix``).
        model: The model's name.
        since: The earliest timestamp to include (naive means UTC).
        until: The timestamp to stop before (exclusive; naive means UTC).
        last: A ``timedelta``: the window that far back from ``until`` (or now), instead of
            ``since``; an ``int``: only the latest this many rows (newest partitions are
            read first, and older ones only if needed).
        columns: The columns to read (the base columns are always read); ``None``: all.

    Returns:
        The rows sorted by timestamp (a request's rows stay in order), with a
        ``RangeIndex``, and what was read.

    Raises:
        InvalidInputError: If ``model`` is not a valid name, both ``since`` and a
            ``timedelta`` ``last`` are given, or ``last`` is negative.
        ConfigError: If ``root`` is a URL of an unknown scheme.
        BackendUnavailableError: If a remote log could not be listed or read.
    """
    _check_model_name(model)
    start, end = _utc(since), _utc(until)
    newest: int | None = None
    if isinstance(last, timedelta):
        if since is not None:
            raise InvalidInputError(
                "read_request_log takes 'since' or a timedelta 'last', not both.",
                hint="Pass since=... for a fixed start, or last=timedelta(...) for a window.",
            )
        if last < timedelta(0):
            raise InvalidInputError(f"'last' must not be negative. Got {last!r} instead.")
        start = (end or datetime.now(timezone.utc)) - last
    elif last is not None:
        if isinstance(last, bool) or not isinstance(last, int) or last < 0:
            raise InvalidInputError(
                f"'last' must be a timedelta or an int >= 0. Got {last!r} instead.", value=last
            )
        newest = last
    wanted = None if columns is None else list(dict.fromkeys([*BASE_COLUMNS, *columns]))
    location = location_of(root)
    partitions: Sequence[Sequence[Path | str]]
    if location.folder is not None:
        partitions = _partitions(location.folder / f"model={model}", start, end)
    else:
        partitions = _remote_partitions(location, model, start, end)
    tables: list[pa.Table] = []
    skipped: list[str] = []
    files_read = 0
    rows = 0
    ordered: Iterable[Sequence[Path | str]] = (
        reversed(partitions) if newest is not None else partitions
    )
    for files in ordered:
        if newest is not None and rows >= newest:
            break
        for path in files:
            table = _read_file(path, wanted, start, end, location)
            if table is None:
                skipped.append(location.shown(str(path)))
                continue
            files_read += 1
            rows += table.num_rows
            tables.append(table)
    frame = _sorted(_combine(tables))
    if newest is not None:
        frame = frame.iloc[len(frame) - min(newest, len(frame)) :].reset_index(drop=True)
    return frame, ReadStats(files_read, len(skipped), len(frame), tuple(skipped))


def _partitions(folder: Path, start: datetime | None, end: datetime | None) -> list[list[Path]]:
    """The part files of each hour partition overlapping [start, end), oldest hour first."""
    if not folder.is_dir():
        return []
    found: list[tuple[datetime, list[Path]]] = []
    for day_dir in folder.iterdir():
        day_match = _DATE_DIR.fullmatch(day_dir.name)
        if day_match is None or not day_dir.is_dir():
            continue
        for hour_dir in day_dir.iterdir():
            hour_match = _HOUR_DIR.fullmatch(hour_dir.name)
            if hour_match is None or not hour_dir.is_dir():
                continue
            try:
                year, month, day = (int(part) for part in day_match.groups())
                opens = datetime(year, month, day, int(hour_match.group(1)), tzinfo=timezone.utc)
            except ValueError:  # date=2024-13-40: not ours
                continue
            if (start is not None and opens + _HOUR <= start) or (end is not None and opens >= end):
                continue
            found.append((opens, sorted(hour_dir.glob("part-*.parquet"))))
    return [files for _, files in sorted(found, key=lambda item: item[0])]


def _remote_partitions(
    location: Location, model: str, start: datetime | None, end: datetime | None
) -> list[list[str]]:
    """``_partitions`` of a remote log: one listing of the model, then one recursive
    listing per day that overlaps [start, end) (not one per hour)."""
    found: dict[datetime, list[str]] = {}
    for day_path in _remote_list(location, location.join(f"model={model}")):
        day_match = _DATE_DIR.fullmatch(day_path.rstrip("/").rsplit("/", 1)[-1])
        if day_match is None:
            continue
        try:
            year, month, day = (int(part) for part in day_match.groups())
            midnight = datetime(year, month, day, tzinfo=timezone.utc)
        except ValueError:  # date=2024-13-40: not ours
            continue
        if (start is not None and midnight + _DAY <= start) or (
            end is not None and midnight >= end
        ):
            continue
        try:
            paths = location.fs.find(day_path)
        except backend_errors() as exc:
            raise location.unavailable("read", exc) from exc
        prefix = day_path.rstrip("/") + "/"
        for path in paths:
            hour_name, _, name = str(path).removeprefix(prefix).partition("/")
            hour_match = _HOUR_DIR.fullmatch(hour_name)
            if hour_match is None or not (name.startswith("part-") and name.endswith(".parquet")):
                continue
            if "/" in name or not int(hour_match.group(1)) < 24:
                continue
            opens = midnight + int(hour_match.group(1)) * _HOUR
            if (start is not None and opens + _HOUR <= start) or (end is not None and opens >= end):
                continue
            found.setdefault(opens, []).append(str(path))
    return [sorted(found[opens]) for opens in sorted(found)]


def _read_file(
    path: Path | str,
    columns: list[str] | None,
    start: datetime | None,
    end: datetime | None,
    location: Location,
) -> pa.Table | None:
    """The file's rows in [start, end), or ``None`` (and a warning) if it cannot be read."""
    source: Path | str | pa.BufferReader = path
    if location.fs is not None:
        # One GET for the whole object: a file is one flush (at most flush_rows rows), and
        # ranged reads of the footer and then of each column would take several round trips.
        try:
            source = pa.BufferReader(location.fs.cat_file(path))
        except FileNotFoundError as exc:  # deleted since it was listed
            shown = location.shown(str(path))
            logger.warning("Skipped unreadable request-log file %s: %s", shown, exc)
            return None
        except backend_errors() as exc:
            raise location.unavailable("read", exc) from exc
    try:
        with pq.ParquetFile(source) as parquet:
            names = parquet.schema_arrow.names
            if "timestamp" not in names:
                raise ValueError("it has no 'timestamp' column")
            selected = names if columns is None else [c for c in columns if c in names]
            table = parquet.read(columns=selected)
        stamps = table.column("timestamp")
        if start is not None:
            table = table.filter(pc.greater_equal(stamps, pa.scalar(start, stamps.type)))
            stamps = table.column("timestamp")
        if end is not None:
            table = table.filter(pc.less(stamps, pa.scalar(end, stamps.type)))
        return table
    except (OSError, ValueError, *_ARROW_ERRORS) as exc:
        logger.warning("Skipped unreadable request-log file %s: %s", location.shown(str(path)), exc)
        return None


def _combine(tables: list[pa.Table]) -> pd.DataFrame:
    """One frame from tables whose columns may differ."""
    if not tables:
        return pd.DataFrame({name: pd.Series(dtype=_EMPTY_DTYPES[name]) for name in BASE_COLUMNS})
    try:
        return pa.concat_tables(tables, promote_options="permissive").to_pandas()
    except _ARROW_ERRORS:
        # Types that cannot be promoted (a column of text in one file, numbers in another).
        return pd.concat([table.to_pandas() for table in tables], ignore_index=True)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows sorted by timestamp (stably: a request's rows keep their order)."""
    return frame.sort_values("timestamp", kind="stable", ignore_index=True)


_EMPTY_DTYPES = {
    "request_id": "str",
    "row": "int64",
    "timestamp": "datetime64[us, UTC]",
    "model": "str",
    "version": "str",
    "latency_ms": "float64",
}


def _object_array(values: list[Any]) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def _check_model_name(model: object) -> None:
    if not isinstance(model, str) or _MODEL_NAME.fullmatch(model) is None:
        raise InvalidInputError(
            f"A model name in the request log must be 1 to 128 letters, digits, '_', '.' or "
            f"'-', not starting with '.' or '-' (it names a folder). Got {model!r} instead.",
            value=model,
        )
