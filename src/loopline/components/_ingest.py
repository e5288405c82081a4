"""Reading the training data: files by path or glob (CSV, Parquet) or a SQL query.

The source is resolved when the pipeline is built (:func:`resolve_source`), so a glob that
matches nothing fails before anything runs, and the files' sizes and modification times
become parameters of the ingest step: changed files invalidate its cache, unchanged ones
are served from it. :func:`read_source` reads inside the step and :func:`check_training_frame`
refuses data that cannot train a model, before any expensive step starts.

Files inside the project folder are recorded by their path relative to it, so the span
(and the model package that carries it) does not change when the project folder moves:
the cache holds and no duplicate version is registered (loopline issue 10, item 10).
Absolute paths recorded by earlier versions still read, and :func:`same_source` compares
them with relative ones.
"""

from __future__ import annotations

import csv
import difflib
import glob
import hashlib
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ConfigError, InvalidInputError
from ._config import DataConfig

_FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet"}


def resolve_source(data: DataConfig, project_dir: Path) -> dict[str, Any]:
    """Describe the source as JSON: the matched files with size and mtime, or the query.

    Raises:
        ConfigError: The glob or path matches no file, or a file's format is unknown.
    """
    if data.sql is not None:
        return {"kind": "sql", "sql": data.sql, "url": data.url}
    assert data.source is not None  # DataConfig guarantees one of source or sql
    pattern = data.source if os.path.isabs(data.source) else str(project_dir / data.source)
    matches = sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
    if not matches:
        raise ConfigError(
            f"data.source {data.source!r} matches no file (looked for {pattern}).",
            hint="Check the path or glob in [data] source of loopline.toml; it is relative "
            "to the project folder.",
            value=data.source,
            key="data.source",
        )
    files = []
    for path in matches:
        stat = os.stat(path)
        files.append(
            {
                "path": _recorded_path(path, project_dir),
                "format": data.format or _format_of(path),
                "size": stat.st_size,
                "mtime_ns": stat.st_mtime_ns,
            }
        )
    return {"kind": "files", "files": files, "encoding": data.encoding}


def _recorded_path(path: str, project_dir: Path) -> str:
    """``path`` relative to the project folder (POSIX separators) if inside it, else absolute."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(os.path.abspath(project_dir)).as_posix()
    except ValueError:
        return str(absolute)


def source_path(path: str, root: str | os.PathLike[str] | None) -> str:
    """Where a recorded file path is now: relative ones are under the project folder ``root``."""
    if root is None or os.path.isabs(path):
        return path
    return str(Path(root, path))


def same_source(
    recorded: dict[str, Any] | None, current: dict[str, Any], root: str | os.PathLike[str]
) -> bool:
    """Whether a recorded source (maybe with an earlier version's absolute paths) is ``current``.

    Both are compared with every file path made absolute against the project folder.
    """
    if recorded is None:
        return False

    def absolute(source: dict[str, Any]) -> dict[str, Any]:
        if source.get("kind") != "files":
            return source
        files = [
            {**f, "path": os.path.normpath(source_path(f["path"], root))}
            for f in source.get("files", [])
        ]
        return {**source, "files": files}

    return absolute(recorded) == absolute(current)


def _format_of(path: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in _FORMATS:
        raise ConfigError(
            f"Cannot tell the format of {path}: its extension {suffix!r} is neither CSV "
            "nor Parquet.",
            hint='Set [data] format = "csv" or "parquet".',
            value=path,
            key="data.format",
        )
    return _FORMATS[suffix]


def read_source(source: dict[str, Any], root: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Read every file of a resolved source (or run its query) into one DataFrame.

    Args:
        source: What :func:`resolve_source` returned.
        root: The project folder that relative file paths are under.

    Raises:
        InvalidInputError: A file is empty, not UTF-8, has duplicate column names, or the
            files do not share their columns.
    """
    return read_source_with_origins(source, root)[0]


def read_source_with_origins(
    source: dict[str, Any], root: str | os.PathLike[str] | None = None
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """``read_source``, and where the rows came from: ``{"path", "format", "rows"}`` per file
    in row order (empty for a query), so a row can be named by its file and line.

    Raises:
        InvalidInputError: As ``read_source``.
    """
    if source["kind"] == "sql":
        try:
            return pd.read_sql(source["sql"], source["url"]), []
        except Exception as exc:
            raise InvalidInputError(
                f"The query in [data] sql failed on {source['url']}: {exc}",
                hint="Check the query and that the database is reachable.",
            ) from exc
    paths = [source_path(f["path"], root) for f in source["files"]]
    frames = [
        _read_file(path, f["format"], source.get("encoding", "utf-8"))
        for path, f in zip(paths, source["files"], strict=True)
    ]
    origins = [
        {"path": path, "format": spec["format"], "rows": len(frame)}
        for path, spec, frame in zip(paths, source["files"], frames, strict=True)
    ]
    columns = list(frames[0].columns)
    for path, frame in zip(paths[1:], frames[1:], strict=True):
        if list(frame.columns) != columns:
            raise InvalidInputError(
                f"{path} has columns {list(frame.columns)}, but {paths[0]} has {columns}.",
                hint="Every file of a glob must have the same columns in the same order.",
                value=path,
            )
    return (frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)), origins


def _read_file(path: str, fmt: str, encoding: str) -> pd.DataFrame:
    if os.path.getsize(path) == 0:
        raise InvalidInputError(
            f"{path} is empty.",
            hint="Point [data] source at a file with a header and rows.",
            value=path,
        )
    if fmt == "parquet":
        frame = pd.read_parquet(path)
    else:
        _check_csv_header(path, encoding)
        try:
            frame = pd.read_csv(path, encoding=encoding)
        except UnicodeDecodeError as exc:
            raise _not_text(path, encoding, exc) from exc
        except pd.errors.EmptyDataError as exc:
            raise InvalidInputError(f"{path} has no columns.", value=path) from exc
    if frame.empty:
        raise InvalidInputError(
            f"{path} has a header but no rows.",
            hint="Point [data] source at a file with data rows.",
            value=path,
        )
    return frame


def _check_csv_header(path: str, encoding: str) -> None:
    """Refuse duplicate column names (pandas would silently rename them ``x.1``)."""
    try:
        with open(path, newline="", encoding=encoding) as fh:
            header = next(csv.reader(fh), [])
            fh.read(1 << 16)  # decode a first chunk: a wrong encoding shows early
    except UnicodeDecodeError as exc:
        raise _not_text(path, encoding, exc) from exc
    dupes = sorted(name for name, n in Counter(header).items() if n > 1)
    if dupes:
        raise InvalidInputError(
            f"{path} has duplicate column names: {', '.join(map(repr, dupes))}.",
            hint="Give every column a distinct name in the header row.",
            value=dupes,
        )


def _not_text(path: str, encoding: str, exc: UnicodeDecodeError) -> InvalidInputError:
    return InvalidInputError(
        f"{path} is not valid {encoding} text (byte {exc.start}: {exc.reason}).",
        hint="Convert it (e.g. iconv -f latin1 -t utf-8), or set [data] encoding to the "
        'file\'s encoding, e.g. encoding = "latin-1".',
        value=path,
    )


def check_training_frame(
    frame: pd.DataFrame,
    data: DataConfig,
    *,
    folds: int,
    test_size: float,
) -> None:
    """Refuse data that cannot train a model, with every reason at once.

    Raises:
        InvalidInputError: The target or a declared column is missing, the target has
            one value, a column is entirely missing, or there are fewer training rows
            than cross-validation folds.
    """
    problems: list[str] = []
    columns = [str(c) for c in frame.columns]
    for key in ("target", "id_column", "timestamp_column"):
        name = getattr(data, key)
        if name is not None and name not in columns:
            close = difflib.get_close_matches(name, columns, n=1)
            problems.append(
                f"data.{key} {name!r} is not a column of the data"
                + (f" (did you mean {close[0]!r}?)" if close else "")
            )
    unknown_drops = [c for c in data.drop_columns if c not in columns]
    if unknown_drops:
        problems.append(f"data.drop_columns names columns that do not exist: {unknown_drops}")
    if data.target in columns:
        target = frame[data.target].dropna()
        if target.empty:
            problems.append(f"the target column {data.target!r} is entirely missing")
        elif target.nunique(dropna=True) < 2:
            problems.append(
                f"the target column {data.target!r} has a single value "
                f"({_plain(target.iloc[0])!r}); a model needs at least two"
            )
    empty = [c for c in columns if c not in data.drop_columns and frame[c].isna().all()]
    if empty:
        problems.append(
            f"column(s) {empty} are entirely missing; add them to data.drop_columns or fix the data"
        )
    labelled = int(frame[data.target].notna().sum()) if data.target in columns else len(frame)
    train_rows = int(labelled * (1 - test_size))
    if train_rows < folds:
        problems.append(
            f"{labelled} rows with a target leave {train_rows} for training, fewer than the "
            f"{folds} cross-validation folds (training.folds)"
        )
    if problems:
        raise InvalidInputError(
            "The training data cannot be used: " + "; ".join(problems) + ".",
            hint="Fix the data or the [data] and [training] sections of loopline.toml.",
            problems=problems,
        )


def describe_span(
    frame: pd.DataFrame, source: dict[str, Any], timestamp_column: str | None
) -> dict[str, Any]:
    """What was ingested: rows, columns, a content hash, the files or the time range."""
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    span: dict[str, Any] = {
        "kind": source["kind"],
        "rows": int(len(frame)),
        "columns": [str(c) for c in frame.columns],
        "content_hash": digest.hexdigest(),
    }
    if source["kind"] == "files":
        span["files"] = [
            {"path": f["path"], "size": f["size"], "mtime_ns": f["mtime_ns"]}
            for f in source["files"]
        ]
    if timestamp_column and timestamp_column in frame.columns:
        stamps = pd.to_datetime(frame[timestamp_column], errors="coerce", utc=True)
        if stamps.notna().any():
            span["start"] = stamps.min().isoformat()
            span["end"] = stamps.max().isoformat()
    return span


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds, for readable messages."""
    return value.item() if hasattr(value, "item") else value


#: How many rows with a missing target are named (by file and line) in messages.
EXAMPLE_ROWS = 5


def drop_missing_targets(
    frame: pd.DataFrame,
    target: str,
    origins: list[dict[str, Any]],
    *,
    policy: str = "drop",
    encoding: str = "utf-8",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Drop the rows whose target is missing, or refuse them (``policy = "fail"``).

    Args:
        frame: The data as read (row positions as ``read_source_with_origins`` made them).
        target: The target column.
        origins: Where the rows came from, to name the first few by CSV line number (the
            header is line 1) or Parquet row; an empty list names them by row position.
        policy: ``"drop"`` (``[data] missing_target``'s default) or ``"fail"``.
        encoding: The CSV files' encoding.

    Returns:
        The frame without those rows (index reset), and ``{"count", "examples"}`` where
        ``examples`` are strings like ``"data.csv line 7"``.

    Raises:
        InvalidInputError: ``policy`` is ``"fail"`` and some target is missing.
    """
    missing = frame[target].isna().to_numpy()
    count = int(missing.sum())
    if not count:
        return frame, {"count": 0, "examples": []}
    positions = [int(i) for i in missing.nonzero()[0][:EXAMPLE_ROWS]]
    examples = _name_rows(positions, origins, encoding)
    shown = ", ".join(examples) + (", ..." if count > len(examples) else "")
    if policy == "fail":
        raise InvalidInputError(
            f"{count:,} of {len(frame):,} rows have no value in the target column "
            f"{target!r} ({shown}).",
            hint='Fill or remove those rows, or set [data] missing_target = "drop" to drop '
            "them at ingest.",
            count=count,
            examples=examples,
        )
    kept = frame.loc[~missing].reset_index(drop=True)
    return kept, {"count": count, "examples": examples}


def _name_rows(positions: list[int], origins: list[dict[str, Any]], encoding: str) -> list[str]:
    """``"data.csv line 7"`` (or ``"part.parquet row 3"``, ``"row 3"``) for each position."""
    if not origins:
        return [f"row {p + 1}" for p in positions]
    named: dict[int, str] = {}
    start = 0
    for origin in origins:
        local = [p - start for p in positions if start <= p < start + origin["rows"]]
        if local:
            name = os.path.basename(origin["path"])
            if origin["format"] == "csv":
                lines = _csv_lines(origin["path"], encoding, local)
                named.update({start + r: f"{name} line {lines[r]}" for r in local})
            else:
                named.update({start + r: f"{name} row {r + 1}" for r in local})
        start += origin["rows"]
    return [named[p] for p in positions]


def _csv_lines(path: str, encoding: str, records: list[int]) -> dict[int, int]:
    """The line on which each data record (0-based, header excluded) starts.

    Counts as pandas reads: quoted fields may span lines, blank lines are skipped.
    """
    wanted = set(records)
    last = max(records)
    found: dict[int, int] = {}
    with open(path, newline="", encoding=encoding) as fh:
        reader = csv.reader(fh)
        next(reader, None)  # the header
        record = -1
        previous_end = reader.line_num
        for row in reader:
            first_line = previous_end + 1
            previous_end = reader.line_num
            if not row:
                continue  # a blank line: pandas skips it
            record += 1
            if record in wanted:
                found[record] = first_line
            if record >= last:
                break
    return found
