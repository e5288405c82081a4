"""Request bodies to a DataFrame: the shapes ``/predict`` and ``/invocations`` accept.

Three steps, each usable alone, and ``read_payload`` that runs them in order:

1. ``parse_json_body`` turns the raw bytes into JSON values; a body over the size limit is
   an error with ``status`` 413; bad UTF-8 or malformed JSON (named by line and column) one
   with ``status`` 422. (MLflow's other encoding, ``text/csv``, goes straight to a frame
   with ``csv_to_frame`` instead of steps 1 and 2.)
2. ``body_to_frame`` turns the JSON into a DataFrame of raw values, one row per record, from
   these shapes:

   ======================================================  ===============================
   body                                                    format
   ======================================================  ===============================
   ``[{"f1": 1.0, ...}, ...]``                             Loopline records
   ``{"records": [{...}, ...]}``                           Loopline records
   ``{"columns": ["f1", ...], "data": [[...], ...]}``      Loopline columns
   ``{"dataframe_split": {"columns", "data", "index"?}}``  MLflow (``columns`` optional:
                                                           the schema's order; ``index``
                                                           ignored)
   ``{"dataframe_records": [{...}, ...]}``                 MLflow
   ``{"instances": ...}``, ``{"inputs": ...}``             MLflow (TF-serving style): a
                                                           list of objects, a list of
                                                           lists in the schema's order, a
                                                           list of values for a one-field
                                                           schema, or an object of columns
   ======================================================  ===============================

   As in MLflow 3's scoring server (``mlflow/pyfunc/scoring_server``), an MLflow body holds
   exactly one of its four keys, and other keys (such as ``params``, which Loopline models
   do not take) are ignored. The answer shape ``{"predictions": [...]}`` is the app's.
3. ``check_frame`` (from ``_validation``, re-exported here) validates the values against
   the model's schema and coerces them to it.

Structural problems (a record that is not an object, a row of the wrong length) are all
listed, like value problems, up to ``max_errors``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import orjson
import pandas as pd

from loopline.components import Schema
from loopline.errors import InvalidInputError
from loopline.requestlog import Records
from loopline.serving._fast import fast_records
from loopline.serving._validation import (
    DEFAULT_MAX_ERRORS,
    DEFAULT_MAX_STRING_LENGTH,
    FieldError,
    PayloadError,
    Policy,
    ValidationResult,
    check_frame,
    field_error,
    json_type,
    short,
    shorten_list,
    validate_frame,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_ERRORS",
    "DEFAULT_MAX_ROWS",
    "DEFAULT_MAX_STRING_LENGTH",
    "BodyFormat",
    "FieldError",
    "PayloadError",
    "Policy",
    "ValidationResult",
    "body_to_frame",
    "check_frame",
    "parse_json_body",
    "read_payload",
    "validate_frame",
]

BodyFormat: TypeAlias = Literal["any", "loopline", "mlflow"]

#: Largest request body ``parse_json_body`` accepts by default (16 MiB).
DEFAULT_MAX_BYTES = 16 * 2**20
#: Most records one request may hold by default.
DEFAULT_MAX_ROWS = 10_000

_MLFLOW_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
_FORMATS = ("any", "loopline", "mlflow")
# Above this many digits an integer literal cannot be a finite double (1.8e308): it is kept
# as text for check_frame to call too large, and Python's int-parsing digit limit (4300,
# a ValueError) is never reached.
_MAX_INT_DIGITS = 309
# Digits become "0", all else " ": a run of 19 zeros after this is a run of 19 digits, which
# may be an integer orjson reads as a float (beyond int64). Ten times faster than a regex.
_DIGITS_AS_ZEROS = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))
_LONG_DIGITS = b"0" * 19
_JSON = "JSON (Content-Type: application/json)"


def read_payload(
    raw: bytes,
    schema: Schema,
    *,
    format: BodyFormat = "any",
    policy: Policy = "strict",
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_string_length: int = DEFAULT_MAX_STRING_LENGTH,
    max_errors: int = DEFAULT_MAX_ERRORS,
    csv: bool = False,
) -> ValidationResult:
    """Parse, structure and validate a request body in one call.

    Args:
        raw: The body's bytes.
        schema: The model's input schema.
        format: ``"loopline"``, ``"mlflow"`` or ``"any"`` (see ``body_to_frame``).
        policy: ``"strict"`` or ``"lenient"`` (see ``check_frame``).
        max_bytes: The largest body accepted.
        max_rows: The most records accepted.
        max_string_length: The longest text value accepted, in characters.
        max_errors: The most errors listed.
        csv: Whether the body is CSV (MLflow's ``text/csv``) rather than JSON.

    Returns:
        The validated result: its ``frame`` is ready for the model, its ``errors`` empty,
        its ``warnings`` worth returning to the client.

    Raises:
        PayloadError: For any problem with the body; its ``status`` is 413 or 422.

    Example:
        >>> from loopline.components import ColumnSchema, Schema
        >>> schema = Schema([ColumnSchema("x", "numeric", max=10.0)])
        >>> result = read_payload(b'{"records": [{"x": 3}, {"x": 12}]}', schema)
        >>> result.frame["x"].tolist()
        [3.0, 12.0]
        >>> [warning.message for warning in result.warnings]
        ["record 1, field 'x': 12 is above the largest value seen in training (10.0)"]
    """
    read = _read(
        raw, schema, format, policy, max_bytes, max_rows, max_string_length, max_errors, csv
    )
    return read if isinstance(read, ValidationResult) else ValidationResult(read.to_frame())


def read_records(
    raw: bytes,
    schema: Schema,
    *,
    format: BodyFormat = "any",
    policy: Policy = "strict",
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_string_length: int = DEFAULT_MAX_STRING_LENGTH,
    max_errors: int = DEFAULT_MAX_ERRORS,
    csv: bool = False,
) -> tuple[Records | pd.DataFrame, list[FieldError]]:
    """``read_payload`` for the prediction service: clean requests stay ``Records``.

    Returns:
        The validated records (``Records`` from the fast path, which the micro-batcher
        joins into one frame per batch, or the full path's frame) and the warnings.

    Raises:
        PayloadError: As ``read_payload``.
    """
    read = _read(
        raw, schema, format, policy, max_bytes, max_rows, max_string_length, max_errors, csv
    )
    return (read, []) if isinstance(read, Records) else (read.frame, read.warnings)


def _read(
    raw: bytes,
    schema: Schema,
    format: BodyFormat,
    policy: Policy,
    max_bytes: int,
    max_rows: int,
    max_string_length: int,
    max_errors: int,
    csv: bool,
) -> Records | ValidationResult:
    """The fast path's records, or else the full path's checked result."""
    if csv:
        frame, extra = _csv_frame(raw, schema, max_bytes, max_rows)
        return _checked(frame, extra, schema, policy, max_string_length, max_errors)
    # Clean bodies are decoded by orjson alone, straight from the bytes: three times faster
    # than the json module, whose per-number hooks (which keep out-of-range literals as text
    # for the full path's messages) cost more still. Whatever orjson refuses or reads
    # differently (a byte-order mark, NaN and infinities, ints beyond a double, bad JSON or
    # UTF-8, deep nesting) the fast path refuses or never sees, and the body is decoded
    # again, with the hooks, for the full checks and their messages.
    plain = _loads_plain(raw, max_bytes)
    if plain is not None:
        fast = fast_records(
            plain,
            schema,
            format=format,
            max_rows=max_rows,
            max_string_length=max_string_length,
        )
        if fast is not None:
            return fast
    if plain is not None and _LONG_DIGITS not in raw.translate(_DIGITS_AS_ZEROS):
        # What orjson read is what the hooks would give: it refuses NaN, infinities and
        # lone surrogates, and only an integer of 19 digits or more (beyond int64) becomes
        # a float. A refused body is no longer decoded twice (half its cost, issue 10).
        body = plain
    else:
        body = parse_json_body(raw, max_bytes=max_bytes)
    frame, extra = _body_frame(body, schema, format, max_rows, max_errors)
    return _checked(frame, extra, schema, policy, max_string_length, max_errors)


def _checked(
    frame: pd.DataFrame,
    extra: list[str],
    schema: Schema,
    policy: Policy,
    max_string_length: int,
    max_errors: int,
) -> ValidationResult:
    result = check_frame(
        frame,
        schema,
        policy=policy,
        max_errors=max_errors,
        max_string_length=max_string_length,
        extra_fields=extra,
    )
    result.raise_for_errors()
    return result


# -- step 1: bytes to JSON --------------------------------------------------------------------


def _text_of(raw: bytes, max_bytes: int, encoding: str) -> str:
    """The body as text, without a byte-order mark; 413 over the limit, 422 if not UTF-8."""
    if len(raw) > max_bytes:
        raise PayloadError(
            f"The request body is {len(raw):,} bytes, more than the limit of {max_bytes:,} bytes.",
            status=413,
            hint="Split the records over several requests.",
            size=len(raw),
            limit=max_bytes,
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(
            f"The request body is not valid UTF-8: byte 0x{raw[exc.start]:02x} at position "
            f"{exc.start} cannot be decoded.",
            hint=f"Send the body as UTF-8 encoded {encoding}.",
            position=exc.start,
        ) from exc
    return text.removeprefix("\ufeff")


def csv_to_frame(
    raw: bytes,
    schema: Schema,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> pd.DataFrame:
    """Read MLflow's ``text/csv`` body: a header of field names, then one record per line.

    Numbers and booleans are read as pandas reads a CSV (as MLflow's scoring server does);
    the schema's text fields (categories, datetimes) are read as text, so ``007`` stays
    ``"007"``. An empty cell is a missing value. ``check_frame`` judges the values. Only
    the schema's fields are read (the first column of each name): ``read_payload`` reports
    the header's other names.

    Raises:
        PayloadError: With ``status`` 413 over ``max_bytes`` or ``max_rows``; with 422 if
            the body is not UTF-8, has no header or no records, or is not CSV.

    Example:
        >>> from loopline.components import ColumnSchema, Schema
        >>> schema = Schema([ColumnSchema("x", "numeric"), ColumnSchema("c", "categorical")])
        >>> csv_to_frame(b"x,c\\n1.5,007\\n2,\\n", schema).to_dict("list")
        {'x': [1.5, 2.0], 'c': ['007', nan]}
    """
    return _csv_frame(raw, schema, max_bytes, max_rows)[0]


def _csv_frame(
    raw: bytes, schema: Schema, max_bytes: int, max_rows: int
) -> tuple[pd.DataFrame, list[str]]:
    """``csv_to_frame``'s frame of the schema's fields, and the header's other names.

    Only the schema's fields become columns (the first of each name), so that a header of
    20,000 unknown names costs no more than reading it; the other names (unknown ones,
    repeated ones) are returned for ``check_frame`` to judge.
    """
    text = _text_of(raw, max_bytes, "CSV (Content-Type: text/csv)")
    as_text = {c.name: str for c in schema.columns if c.kind in ("categorical", "datetime")}
    hint = "Send a header row of field names, then one record per line (DataFrame.to_csv)."
    header, records = _check_csv_widths(text, hint)
    known = set(schema.names)
    seen: set[str] = set()
    positions, extra = [], []
    for position, name in enumerate(header):
        if name in known and name not in seen:
            positions.append(position)
        else:
            extra.append(name)
        seen.add(name)
    if not header:
        raise PayloadError("The CSV body is empty; expected a header row.", hint=hint)
    if not positions:  # no known field (pandas would build 20,000 empty columns): count rows
        frame = pd.DataFrame(index=pd.RangeIndex(min(records, max_rows + 1)))
        return _counted(frame, max_rows), extra
    try:
        # index_col=False: a first column without a header name is not an index.
        frame = pd.read_csv(
            io.StringIO(text),
            dtype=as_text,
            nrows=max_rows + 1,
            index_col=False,
            usecols=positions,
        )
    except pd.errors.EmptyDataError as exc:
        raise PayloadError("The CSV body is empty; expected a header row.", hint=hint) from exc
    except (pd.errors.ParserError, ValueError) as exc:
        raise PayloadError(f"The request body is not valid CSV: {exc}", hint=hint) from exc
    return _counted(frame, max_rows), extra


def _counted(frame: pd.DataFrame, max_rows: int) -> pd.DataFrame:
    """``frame``, refused if it has no records or more than ``max_rows``."""
    if len(frame) > max_rows:
        raise PayloadError(
            f"The request has more than {max_rows:,} records, the limit.",
            status=413,
            hint=f"Split the records over requests of at most {max_rows:,}.",
            limit=max_rows,
        )
    if not len(frame):
        raise _no_records()
    return frame


def _check_csv_widths(text: str, hint: str) -> tuple[list[str], int]:
    """The header's names and the number of records; refuses records with more values than
    the header has names (pandas would drop them)."""
    try:
        reader = csv.reader(io.StringIO(text))
        header: list[str] | None = None
        records = 0
        for row in reader:
            if not row:
                continue  # pandas skips blank lines too
            if header is None:
                header = row
                continue
            records += 1
            if len(row) > len(header):
                line = reader.line_num
                raise PayloadError(
                    f"Line {line} of the CSV body has {len(row)} values, but the header names "
                    f"{len(header)} fields.",
                    hint=hint,
                    line=line,
                )
    except csv.Error as exc:
        raise PayloadError(f"The request body is not valid CSV: {exc}", hint=hint) from exc
    return header or [], records


def parse_json_body(raw: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """Decode a request body as UTF-8 JSON.

    ``NaN``, ``Infinity`` and ``-Infinity`` (which Python's and pandas' JSON writers emit)
    are read as floats, for ``check_frame`` to judge. A number literal too large to be a
    finite double is kept as its text, so that ``check_frame`` can say so.

    Args:
        raw: The body's bytes (a leading UTF-8 byte-order mark is allowed).
        max_bytes: The largest body accepted.

    Returns:
        The decoded JSON value.

    Raises:
        PayloadError: With ``status`` 413 if the body is longer than ``max_bytes``; with
            ``status`` 422 if it is empty, not UTF-8, not JSON (the message gives the line
            and column), or nested too deeply.

    Example:
        >>> parse_json_body(b'[{"x": 1.5, "y": NaN}]')
        [{'x': 1.5, 'y': nan}]
    """
    text = _text_of(raw, max_bytes, _JSON)
    if not text.strip():
        raise PayloadError(
            "The request body is empty; expected JSON records.",
            hint='Send for example [{"feature": 1.0}] or {"dataframe_split": {...}}.',
        )
    try:
        return json.loads(
            text,
            parse_constant=_parse_constant,
            parse_float=_parse_float,
            parse_int=_parse_int,
        )
    except json.JSONDecodeError as exc:
        raise PayloadError(
            f"The request body is not valid JSON: {exc.msg} at line {exc.lineno}, column "
            f"{exc.colno}.",
            hint="Check the JSON syntax near that position (quotes, commas, brackets).",
            line=exc.lineno,
            column=exc.colno,
        ) from exc
    except RecursionError as exc:
        raise PayloadError(
            "The request body is nested too deeply to be records of feature values.",
            hint="Send a list of flat objects, one per record.",
        ) from exc


def _loads_plain(raw: bytes, max_bytes: int) -> Any:
    """``raw`` decoded by orjson, or None if that fails (the careful decoding words why)."""
    if len(raw) > max_bytes:
        return None
    try:
        return orjson.loads(raw)
    except (orjson.JSONDecodeError, RecursionError):
        return None


def _parse_constant(name: str) -> float:
    """``NaN``, ``Infinity``, ``-Infinity`` as floats."""
    return float(name.replace("Infinity", "inf"))


def _parse_float(text: str) -> float | str:
    value = float(text)
    return value if math.isfinite(value) else text


def _parse_int(text: str) -> int | str:
    if len(text) <= _MAX_INT_DIGITS or len(text.lstrip("-")) <= _MAX_INT_DIGITS:
        return int(text)
    return text


# -- step 2: JSON to a frame of raw values ----------------------------------------------------


def body_to_frame(
    body: Any,
    schema: Schema,
    *,
    format: BodyFormat = "any",
    max_rows: int = DEFAULT_MAX_ROWS,
    max_errors: int = DEFAULT_MAX_ERRORS,
) -> pd.DataFrame:
    """Turn a decoded request body into a DataFrame of its raw values, one row per record.

    The accepted shapes are in this module's docstring. Values are not checked here
    (``check_frame`` does it); the structure is: each record must be an object (or a list
    of one value per column), and columns must have equal lengths. Only the schema's
    fields become columns: a body naming thousands of unknown fields (each record its
    own) builds no frame of records times names; ``read_payload`` reports those names.

    Args:
        body: The decoded JSON.
        schema: The model's input schema; gives the column order where the body has none.
        format: ``"loopline"`` for ``/predict`` shapes, ``"mlflow"`` for MLflow's
            ``/invocations`` shapes, ``"any"`` for both.
        max_rows: The most records accepted.
        max_errors: The most structural problems listed.

    Returns:
        The frame, with a ``RangeIndex`` (record ``i`` is row ``i``).

    Raises:
        PayloadError: With ``status`` 413 for more than ``max_rows`` records; with 422 for
            no records, a body of another shape, or records of the wrong structure.

    Example:
        >>> from loopline.components import ColumnSchema, Schema
        >>> schema = Schema([ColumnSchema("x", "numeric"), ColumnSchema("c", "categorical")])
        >>> body_to_frame({"inputs": [[1.0, "a"], [2.0, "b"]]}, schema).to_dict("list")
        {'x': [1.0, 2.0], 'c': ['a', 'b']}
    """
    return _body_frame(body, schema, format, max_rows, max_errors)[0]


def _body_frame(
    body: Any, schema: Schema, format: BodyFormat, max_rows: int, max_errors: int
) -> tuple[pd.DataFrame, list[str]]:
    """``body_to_frame``'s frame, and the names of the fields the schema does not know."""
    if format not in _FORMATS:
        raise InvalidInputError(
            f"The 'format' argument of body_to_frame must be one of {', '.join(_FORMATS)}. "
            f"Got {format!r} instead.",
            value=format,
        )
    builder = _Builder(schema, max_rows, max_errors)
    if isinstance(body, list):
        if format == "mlflow":
            raise PayloadError(
                "An MLflow scoring request must be a JSON object with exactly one of the keys "
                f"{_quoted(_MLFLOW_KEYS)}; got a list.",
                hint='Wrap the records: {"dataframe_records": [...]}.',
            )
        frame = builder.records(body, "records")
    elif isinstance(body, dict):
        frame = _frame_from_object(body, builder, format)
    else:
        raise PayloadError(
            f"The request body must be a JSON object or a list of records; got "
            f"{json_type(body)}: {short(body)}.",
            hint=f"Send a list of records, or an object with one of the keys {_keys(format)}.",
            value=short(body),
        )
    return frame, builder.unknown


def _frame_from_object(body: dict[str, Any], builder: _Builder, format: BodyFormat) -> pd.DataFrame:
    """The frame of an object body, by its keys."""
    mlflow = [key for key in _MLFLOW_KEYS if key in body] if format != "loopline" else []
    loopline = (
        [key for key in ("records", "columns", "data") if key in body] if format != "mlflow" else []
    )
    if len(mlflow) == 1 and not loopline:
        return _mlflow_frame(mlflow[0], body[mlflow[0]], builder)
    if loopline and not mlflow:
        # "index" is allowed (and ignored) so that pandas' to_dict(orient="split") fits.
        extra = sorted(set(body) - {"records", "columns", "data", "index"})
        if extra or ("records" in body and len(body) > 1):
            keys = extra or sorted(body)
            raise PayloadError(
                f"The request body has keys {_quoted(keys)} that do not fit together: send "
                "either 'records', or 'columns' and 'data'.",
                hint=f"Accepted shapes: a list of records, or an object with {_keys(format)}.",
            )
        if "records" in body:
            return builder.records(body["records"], "records")
        return builder.rows(body, "columns")
    found = _quoted(sorted(str(key) for key in body)) if body else "no keys"
    problem = "more than one of" if len(mlflow) > 1 or (mlflow and loopline) else "none of"
    raise PayloadError(
        f"The request body must be an object with exactly one of the keys {_keys(format)}; "
        f"it has {problem} them (keys: {found}).",
        hint='For example {"dataframe_split": {"columns": [...], "data": [[...]]}}.'
        if format == "mlflow"
        else 'For example [{"feature": 1.0}] or {"columns": [...], "data": [[...]]}.',
    )


def _mlflow_frame(key: str, value: Any, builder: _Builder) -> pd.DataFrame:
    """The frame of one of MLflow's four input formats."""
    if key == "dataframe_split":
        if not isinstance(value, dict):
            raise PayloadError(
                f"'dataframe_split' must be an object with 'columns' and 'data'; got "
                f"{json_type(value)}.",
                hint='Send {"dataframe_split": {"columns": [...], "data": [[...], ...]}}.',
            )
        extra = sorted(set(value) - {"columns", "data", "index"})
        if extra or "data" not in value:
            problem = f"unknown keys {_quoted(extra)}" if extra else "no 'data' key"
            raise PayloadError(
                f"'dataframe_split' must have a 'data' key and optionally 'columns' and "
                f"'index'; it has {problem}.",
                hint="This is pandas' to_dict(orient='split') without the index, if you like.",
            )
        return builder.rows(value, "dataframe_split")
    if key == "dataframe_records":
        return builder.records(value, key)
    # "instances" and "inputs" (TensorFlow Serving's row and column formats).
    if isinstance(value, dict):
        return builder.columns(value, key)
    if isinstance(value, list):
        # By the first item, so that every record of the wrong structure is then listed.
        if not value or isinstance(value[0], dict):
            return builder.records(value, key)
        if isinstance(value[0], list):
            return builder.rows({"data": value}, key)
        if len(builder.schema.columns) == 1 and not _has_containers(value):
            return builder.columns({builder.schema.columns[0].name: value}, key)
    raise PayloadError(
        f"'{key}' must be a list of objects (one per record), a list of lists (values in the "
        f"model's field order: {_field_list(builder.schema)}), or an object of columns; got "
        f"{json_type(value)}: {short(value)}.",
        hint=f'For example {{"{key}": [{{"{_first_name(builder.schema)}": ...}}]}}.',
    )


@dataclass
class _Builder:
    """Builds raw frames from the structural shapes, checking counts and record structure."""

    schema: Schema
    max_rows: int
    max_errors: int
    #: The names of fields the schema does not know, in order of appearance.
    unknown: list[str] = field(default_factory=list)

    def _known(self, names: Iterable[Any]) -> list[Any]:
        """The names the schema knows, in order; the others go to ``unknown``.

        Linear in the number of names, so that any body under the size limit is cheap.
        """
        known = set(self.schema.names)
        kept = []
        for name in names:
            if name in known:
                kept.append(name)
            else:
                self.unknown.append(str(name))
        return kept

    def records(self, value: Any, where: str) -> pd.DataFrame:
        """A frame from a list of objects."""
        if not isinstance(value, list):
            raise PayloadError(
                f"'{where}' must be a list of objects, one per record; got {json_type(value)}.",
                hint=f'Send {{"{where}": [{{"{_first_name(self.schema)}": ...}}, ...]}}.',
            )
        self._check_count(len(value))
        bad = [i for i, record in enumerate(value) if not isinstance(record, dict)]
        if bad:
            errors = [
                field_error(
                    i, None, f"expected an object of field values, got {short(value[i])}", value[i]
                )
                for i in bad[: self.max_errors]
            ]
            raise PayloadError.from_errors(errors, len(bad))
        names: dict[Any, None] = {}
        for record in value:
            names.update(dict.fromkeys(record))
        kept = self._known(names)
        if len(kept) < len(names):  # pandas would index every name of every record
            value = [{name: record[name] for name in kept if name in record} for record in value]
        return pd.DataFrame(value, columns=kept, index=pd.RangeIndex(len(value)))

    def rows(self, value: dict[str, Any], where: str) -> pd.DataFrame:
        """A frame from ``{"columns": [...]?, "data": [[...], ...]}``."""
        data = value.get("data")
        if not isinstance(data, list):
            raise PayloadError(
                f"'data' in '{where}' must be a list of rows (lists of values); got "
                f"{json_type(data)}.",
                hint='Send {"columns": ["a", "b"], "data": [[1, 2], [3, 4]]}.',
            )
        columns = value.get("columns", self.schema.names)
        if (
            not isinstance(columns, list)
            or not all(isinstance(name, str) for name in columns)
            or len(set(columns)) != len(columns)
        ):
            raise PayloadError(
                f"'columns' in '{where}' must be a list of distinct field names; got "
                f"{short(columns)}.",
                hint="Name each field once, in the order of the values in each row.",
            )
        self._check_count(len(data))
        width = len(columns)
        bad = [i for i, row in enumerate(data) if not isinstance(row, list) or len(row) != width]
        if bad:
            errors = [
                field_error(
                    i,
                    None,
                    f"expected a list of {width} values (one per column: "
                    f"{shorten_list(columns)}), got {short(data[i])}",
                    data[i],
                )
                for i in bad[: self.max_errors]
            ]
            raise PayloadError.from_errors(errors, len(bad))
        kept = self._known(columns)
        if len(kept) < width:  # only the known fields' values become columns
            position = {name: i for i, name in enumerate(columns)}
            at = [position[name] for name in kept]
            data = [[row[i] for i in at] for row in data]
        return pd.DataFrame(data, columns=kept) if data else pd.DataFrame(columns=kept)

    def columns(self, value: dict[str, Any], where: str) -> pd.DataFrame:
        """A frame from ``{"field": [values...], ...}`` (or one value per field: one record)."""
        if not value:
            raise _no_records()
        lists = [key for key, column in value.items() if isinstance(column, list)]
        if not lists:  # one record given as an object of values
            return pd.DataFrame([{name: value[name] for name in self._known(value)}], index=[0])
        if len(lists) != len(value):
            scalar = next(key for key in value if key not in lists)
            raise PayloadError(
                f"'{where}' mixes columns (lists of values) and single values: field "
                f"'{scalar}' is {json_type(value[scalar])} {short(value[scalar])}.",
                hint="Give every field a list with one value per record.",
            )
        lengths = {key: len(value[key]) for key in lists}
        first = lists[0]
        for key, length in lengths.items():
            if length != lengths[first]:
                raise PayloadError(
                    f"The columns in '{where}' have different lengths: field '{key}' has "
                    f"{length} values but field '{first}' has {lengths[first]}.",
                    hint="Give every field one value per record.",
                )
        self._check_count(lengths[first])
        kept = self._known(value)
        index = pd.RangeIndex(lengths[first])
        return pd.DataFrame({name: value[name] for name in kept}, index=index)

    def _check_count(self, count: int) -> None:
        if count == 0:
            raise _no_records()
        if count > self.max_rows:
            raise PayloadError(
                f"The request has {count:,} records, more than the limit of {self.max_rows:,}.",
                status=413,
                hint=f"Split the records over requests of at most {self.max_rows:,}.",
                rows=count,
                limit=self.max_rows,
            )


def _no_records() -> PayloadError:
    return PayloadError(
        "The request has no records; send at least one.",
        hint='For example [{"feature": 1.0}].',
    )


def _has_containers(values: list[Any]) -> bool:
    return any(isinstance(value, dict | list) for value in values)


def _quoted(names: list[str] | tuple[str, ...]) -> str:
    return ", ".join(f"'{name}'" for name in names)


def _keys(format: BodyFormat) -> str:
    loopline = "'records', or 'columns' and 'data'"
    mlflow = _quoted(_MLFLOW_KEYS)
    return {"loopline": loopline, "mlflow": mlflow}.get(format, f"{loopline}, or {mlflow}")


def _field_list(schema: Schema) -> str:
    return shorten_list(schema.names, 20) or "(none)"


def _first_name(schema: Schema) -> str:
    return schema.names[0] if schema.names else "feature"
