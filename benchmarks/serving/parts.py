"""CPU time of each part of a 1,000-row ``/predict`` request, before and after issue 12's
changes, measured side by side in one interpreter.

    python benchmarks/serving/parts.py --work DIR [--model lr|rf] [--repeats 15]

``DIR`` is ``scale.py``'s ``--work`` folder (its trained projects and ``thousand_rows.json``).
Each part is timed with ``time.thread_time`` (CPU of this thread, so the machine's load
matters less than for wall times), median of ``--repeats``. "Before" runs the code the
service used until then, kept here: the json module's decoding, a pandas frame converted
to Arrow for the request log, and the json module's response; "after" runs the service's
code. The Parquet write of the request log: pyarrow's defaults before, the log's options after.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from fastapi.responses import JSONResponse

from loopline.artifacts import ArtifactStore
from loopline.config import load_settings
from loopline.registry import Registry
from loopline.requestlog._log import (
    _direct_table,
    _Entry,
    _frame_of,
    _parquet_options,
    _to_arrow,
    prediction_outputs,
)
from loopline.requestlog._records import frame_of
from loopline.serving._app import _FastJSONResponse
from loopline.serving._payload import read_records
from loopline.store import Store

NAMES = {"lr": "bench_lr", "rf": "bench_rf"}


def cpu_ms(call: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.thread_time()
        call()
        times.append((time.thread_time() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", required=True)
    parser.add_argument("--model", choices=sorted(NAMES), default="lr")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    work = Path(args.work)
    raw = (work / "thousand_rows.json").read_bytes()
    project = work / NAMES[args.model]
    settings = load_settings(project)
    with Store(settings.store_url) as store:
        package = Registry(store, ArtifactStore(settings.artifacts_url)).load_package(
            f"{NAMES[args.model]}/1"
        )
    model, schema = package.model, package.schema
    records, _ = read_records(raw, schema)
    frame = frame_of([records])
    X = frame[package.features]
    proba = model.predict_proba(X)
    predictions = model.classes_[proba.argmax(axis=1)]
    entry = _Entry(
        NAMES[args.model], "1", uuid.uuid4().hex, records,
        prediction_outputs(predictions, proba, model.classes_), 12.5, datetime.now(timezone.utc),
    )  # fmt: skip
    labels = [str(c) for c in model.classes_.tolist()]

    def old_response() -> bytes:
        body = {"predictions": predictions.tolist(), "probabilities": [
            dict(zip(labels, map(float, row), strict=True)) for row in proba]}  # fmt: skip
        return JSONResponse(body).body

    def new_response() -> bytes:
        body = {"predictions": predictions.tolist(), "probabilities": [
            dict(zip(labels, row, strict=True)) for row in proba.tolist()]}  # fmt: skip
        return _FastJSONResponse(body).body

    def old_parquet() -> None:
        pq.write_table(_direct_table([entry]), io.BytesIO())

    def new_parquet() -> None:
        table = _direct_table([entry])
        pq.write_table(table, io.BytesIO(), **_parquet_options(table))

    assert json.loads(old_response()) == json.loads(new_response())
    table = _direct_table([entry])
    assert table is not None and table.equals(_to_arrow(_frame_of([entry])))
    import orjson

    r = args.repeats
    parts = [
        ("JSON decode", cpu_ms(lambda: json.loads(raw.decode()), r),
         cpu_ms(lambda: orjson.loads(raw), r)),
        ("read_records (decode + fast checks)", None, cpu_ms(lambda: read_records(raw, schema), r)),
        ("frame_of (the batch's DataFrame)", None, cpu_ms(lambda: frame_of([records]), r)),
        ("predict_proba (the service's predict)", None, cpu_ms(lambda: model.predict_proba(X), r)),
        ("in-process model.predict (the reference)", None, cpu_ms(lambda: model.predict(X), r)),
        ("response body", cpu_ms(old_response, r), cpu_ms(new_response, r)),
        ("request log: Arrow table", cpu_ms(lambda: _to_arrow(_frame_of([entry])), r),
         cpu_ms(lambda: _direct_table([entry]), r)),
        ("request log: Parquet write", cpu_ms(old_parquet, r), cpu_ms(new_parquet, r)),
    ]  # fmt: skip
    print(f"| part ({args.model}, 1,000 rows) | before (ms) | after (ms) |")
    print("| --- | ---: | ---: |")
    for name, before, after in parts:
        print(f"| {name} | {'' if before is None else f'{before:.1f}'} | {after:.1f} |")


if __name__ == "__main__":
    main()
