"""The request log, with its real background writer and real folders and processes."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from loopline.errors import ConflictError, InvalidInputError
from loopline.requestlog import (
    BASE_COLUMNS,
    NUMERIC,
    TEXT,
    Records,
    RequestLog,
    append_error,
    count_errors,
    prediction_outputs,
    read_request_log,
)
from loopline.requestlog._log import _direct_table, _Entry, _frame_of, _table_of, _to_arrow

from .conftest import LogRoot as Root

UTC = timezone.utc
T0 = datetime(2024, 5, 1, 23, 50, tzinfo=UTC)


def inputs(rows: int, start: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": np.arange(start, start + rows),
            "color": ["red", "blue", None][:rows] + ["red"] * max(0, rows - 3),
        }
    )


def outputs(rows: int) -> dict[str, np.ndarray]:
    probabilities = np.tile([0.25, 0.75], (rows, 1))
    return prediction_outputs(np.array(["yes"] * rows), probabilities, ["no", "yes"])


def part_files(root: Path) -> list[Path]:
    return sorted(root.rglob("part-*.parquet"))


def wait_for(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_rows_round_trip_one_row_per_record(root: Root) -> None:
    with RequestLog(root.url) as log:
        log.append("churn", 3, "r1", inputs(2), outputs(2), 4.5, T0)
        log.append("churn", "3", "r2", inputs(3, 10), outputs(3), 7.0, T0 + timedelta(seconds=1))

    frame, stats = read_request_log(root.url, "churn")

    assert list(frame.columns) == [
        *BASE_COLUMNS,
        "in.age",
        "in.color",
        "out.prediction",
        "out.proba.no",
        "out.proba.yes",
    ]
    assert frame["request_id"].tolist() == ["r1", "r1", "r2", "r2", "r2"]
    assert frame["row"].tolist() == [0, 1, 0, 1, 2]
    assert frame["version"].tolist() == ["3"] * 5
    assert frame["model"].tolist() == ["churn"] * 5
    assert frame["latency_ms"].tolist() == [4.5, 4.5, 7.0, 7.0, 7.0]
    assert frame["timestamp"].tolist() == [T0] * 2 + [T0 + timedelta(seconds=1)] * 3
    assert str(frame["timestamp"].dtype) == "datetime64[us, UTC]"
    assert frame["in.age"].tolist() == [0.0, 1.0, 10.0, 11.0, 12.0]
    assert frame["in.color"].tolist()[:4] == ["red", "blue", "red", "blue"]
    assert pd.isna(frame["in.color"][4])
    assert frame["out.prediction"].tolist() == ["yes"] * 5
    assert frame["out.proba.yes"].tolist() == [0.75] * 5
    assert (stats.files_read, stats.files_skipped, stats.rows) == (1, 0, 5)
    assert log.stats.written_rows == 5 and log.stats.pending_rows == 0


def test_records_and_frames_are_logged_alike(root: Root) -> None:
    # The service logs the fast path's Records; requests that took the full path are frames.
    def records(age: float, color: str) -> Records:
        return Records(("age", "color"), ([age], [color]), (NUMERIC, TEXT))

    with RequestLog(root.url) as log:
        log.append("churn", 1, "r1", records(30, "red"), outputs(1), 1.0, T0)
        log.append("churn", 1, "r2", inputs(2, 40), outputs(2), 1.0, T0)
        log.append("churn", 1, "r3", records(50.5, "blue"), outputs(1), 1.0, T0)
        log.append("churn", 1, "r4", records(60, "green"), outputs(1), 1.0, T0)

    frame, _ = read_request_log(root.url, "churn")
    assert frame["request_id"].tolist() == ["r1", "r2", "r2", "r3", "r4"]
    assert frame["in.age"].tolist() == [30.0, 40.0, 41.0, 50.5, 60.0]
    assert frame["in.color"].tolist() == ["red", "red", "blue", "blue", "green"]
    assert len(root.files()) == 1


def test_files_are_partitioned_by_model_date_and_hour(root: Root) -> None:
    stamps = [
        T0,  # 2024-05-01 23:50
        T0 + timedelta(minutes=15),  # 2024-05-02 00:05
        T0 + timedelta(minutes=40),  # 2024-05-02 00:30
        datetime(2024, 5, 2, 1, 0),  # naive: UTC, 01:00
    ]
    with RequestLog(root.url) as log:
        for i, stamp in enumerate(stamps):
            log.append("churn", 1, f"r{i}", inputs(1, i), outputs(1), 1.0, stamp)
        log.append("fraud", 2, "f0", inputs(1), outputs(1), 1.0, T0)

    folders = sorted(name.rsplit("/", 1)[0] for name in root.files())
    assert folders == [
        "model=churn/date=2024-05-01/hour=23",
        "model=churn/date=2024-05-02/hour=00",
        "model=churn/date=2024-05-02/hour=01",
        "model=fraud/date=2024-05-01/hour=23",
    ]
    assert all(
        re.fullmatch(r"part-\d{8}T\d{12}Z-[0-9a-f]{32}\.parquet", name.rsplit("/", 1)[1])
        for name in root.files()
    )

    # A broken file in an hour outside the range is never opened: pruned by its folder name.
    root.write("model=churn/date=2024-05-01/hour=23/part-junk.parquet", b"not parquet")
    since, until = datetime(2024, 5, 2, 0, 10, tzinfo=UTC), datetime(2024, 5, 2, 1, 0, tzinfo=UTC)
    frame, stats = read_request_log(root.url, "churn", since=since, until=until)
    assert frame["request_id"].tolist() == ["r2"]
    assert (stats.files_read, stats.files_skipped) == (1, 0)

    frame, stats = read_request_log(root.url, "churn", last=timedelta(hours=1), until=until)
    assert frame["request_id"].tolist() == ["r1", "r2"]
    frame, _ = read_request_log(root.url, "churn", since=since)
    assert frame["request_id"].tolist() == ["r2", "r3"]


def test_last_rows_reads_the_newest_partitions_first(root: Root) -> None:
    with RequestLog(root.url) as log:
        for hour in range(5):
            stamp = T0 + timedelta(hours=hour)
            log.append("churn", 1, f"r{hour}", inputs(2, hour), outputs(2), 1.0, stamp)

    frame, stats = read_request_log(root.url, "churn", last=3)
    assert list(zip(frame["request_id"], frame["row"], strict=True)) == [
        ("r3", 1),
        ("r4", 0),
        ("r4", 1),
    ]
    assert stats.files_read == 2  # the three older hours were not opened


def test_close_flushes_what_the_interval_has_not(tmp_path: Path) -> None:
    log = RequestLog(tmp_path, flush_rows=1_000_000, flush_interval=3600)
    log.append("churn", 1, "r1", inputs(3), outputs(3), 2.0)
    time.sleep(0.05)
    assert part_files(tmp_path) == []
    assert log.stats.pending_rows == 3

    log.close()

    assert len(part_files(tmp_path)) == 1
    assert read_request_log(tmp_path, "churn")[1].rows == 3
    with pytest.raises(ConflictError, match="The request log is closed and takes no more rows."):
        log.append("churn", 1, "r2", inputs(1), outputs(1), 2.0)
    log.close()  # twice is fine


def test_flush_rows_and_flush_interval_write_in_the_background(tmp_path: Path) -> None:
    with RequestLog(tmp_path / "rows", flush_rows=5, flush_interval=3600) as log:
        for i in range(5):
            log.append("churn", 1, f"r{i}", inputs(1), outputs(1), 1.0)
        wait_for(lambda: len(part_files(tmp_path / "rows")) == 1)
        assert log.stats.written_rows == 5
    with RequestLog(tmp_path / "time", flush_rows=1000, flush_interval=0.05) as log:
        log.append("churn", 1, "r", inputs(1), outputs(1), 1.0)
        wait_for(lambda: len(part_files(tmp_path / "time")) == 1)


def test_flush_waits_until_the_rows_are_on_disk(tmp_path: Path) -> None:
    log = RequestLog(tmp_path, flush_interval=3600)
    log.append("churn", 1, "r1", inputs(2), outputs(2), 1.0)
    assert log.flush(timeout=10)
    assert read_request_log(tmp_path, "churn")[1].rows == 2
    log.close()


def test_append_is_cheap(tmp_path: Path) -> None:
    frame, out = inputs(2), outputs(2)
    with RequestLog(tmp_path) as log:
        started = time.perf_counter()
        for i in range(2000):
            log.append("churn", 1, f"r{i}", frame, out, 1.0)
        elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"2000 appends took {elapsed:.2f} s"
    assert read_request_log(tmp_path, "churn")[1].rows == 4000


def test_later_changes_to_the_inputs_do_not_reach_the_log(tmp_path: Path) -> None:
    frame = inputs(2)
    with RequestLog(tmp_path) as log:
        log.append("churn", 1, "r1", frame, outputs(2), 1.0)
        frame.loc[0, "age"] = 999.0
    assert read_request_log(tmp_path, "churn")[0]["in.age"].tolist() == [0.0, 1.0]


def test_a_truncated_file_is_skipped_counted_and_logged(
    root: Root, caplog: pytest.LogCaptureFixture
) -> None:
    with RequestLog(root.url) as log:
        log.append("churn", 1, "r1", inputs(3), outputs(3), 1.0, T0)
    (real,) = root.files()
    data = root.read(real)
    cut = real.rsplit("/", 1)[0] + "/part-20240501T235959000000Z-cut.parquet"
    root.write(cut, data[: len(data) // 2])

    with caplog.at_level(logging.WARNING, logger="loopline.requestlog"):
        frame, stats = read_request_log(root.url, "churn")

    assert len(frame) == 3
    assert (stats.files_read, stats.files_skipped, stats.rows) == (1, 1, 3)
    assert stats.skipped == (root.shown(cut),)
    assert f"Skipped unreadable request-log file {root.shown(cut)}" in caplog.text


def test_files_with_different_columns_are_unified(root: Root) -> None:
    with RequestLog(root.url, flush_interval=3600) as log:
        log.append("churn", 1, "old", pd.DataFrame({"age": [1.0]}), {"prediction": [0]}, 1.0, T0)
        log.flush()
        new_inputs = pd.DataFrame({"age": [2.0], "tenure": [5.0]})
        stamp = T0 + timedelta(seconds=1)
        log.append("churn", 2, "new", new_inputs, outputs(1), 1.0, stamp)

    frame, stats = read_request_log(root.url, "churn")

    assert stats.files_read == 2
    assert frame["request_id"].tolist() == ["old", "new"]
    assert np.isnan(frame["in.tenure"][0]) and frame["in.tenure"][1] == 5.0
    # Types no promotion unifies (int and text) are read as they are, in an object column.
    assert frame["out.prediction"].tolist() == [0, "yes"]
    assert pd.isna(frame["out.proba.yes"][0]) and frame["out.proba.yes"][1] == 0.75


def test_columns_selects_what_is_read(root: Root) -> None:
    with RequestLog(root.url) as log:
        log.append("churn", 1, "r1", inputs(2), outputs(2), 1.0)
    frame, _ = read_request_log(root.url, "churn", columns=["in.age", "in.unknown"])
    assert list(frame.columns) == [*BASE_COLUMNS, "in.age"]


def test_reading_a_model_never_logged_gives_an_empty_frame(root: Root) -> None:
    frame, stats = read_request_log(root.url, "nobody")
    assert list(frame.columns) == list(BASE_COLUMNS) and len(frame) == 0
    assert (stats.files_read, stats.files_skipped, stats.rows) == (0, 0, 0)


def test_rows_beyond_the_pending_limit_are_dropped_not_blocked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING), RequestLog(tmp_path, max_pending_rows=3) as log:
        log.append("churn", 1, "big", inputs(5), outputs(5), 1.0)
        log.append("churn", 1, "small", inputs(2), outputs(2), 1.0)
    assert log.stats.dropped_rows == 5 and log.stats.written_rows == 2
    assert "dropped the 5 rows of request big" in caplog.text


def test_a_failed_write_is_logged_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "model=churn").write_text("a file where a folder should be")
    with caplog.at_level(logging.ERROR), RequestLog(tmp_path) as log:
        log.append("churn", 1, "r1", inputs(2), outputs(2), 1.0)
        log.append("fraud", 1, "f1", inputs(1), outputs(1), 1.0)
    assert log.stats.dropped_rows == 2 and log.stats.written_rows == 1
    assert "Could not write 2 request-log rows to" in caplog.text
    assert list(tmp_path.rglob(".part-*")) == []


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda log: log.append("../etc", 1, "r", inputs(1), outputs(1), 1.0),
            "A model name in the request log must be 1 to 128 letters, digits, '_', '.' or "
            "'-', not starting with '.' or '-' (it names a folder). Got '../etc' instead.",
        ),
        (
            lambda log: log.append("m", 1, "r", inputs(2), {"prediction": [1]}, 1.0),
            "Output 'prediction' has 1 values for 2 input records; give one value per record.",
        ),
        (
            lambda log: log.append("m", 1, "r", inputs(2), {"prediction": 1}, 1.0),
            "Output 'prediction' has a single value for 2 input records",
        ),
        (
            lambda log: log.append("m", 1, "r", [1, 2], {}, 1.0),
            "RequestLog.append needs the inputs as a DataFrame. Got list instead.",
        ),
        (
            lambda log: read_request_log(log.root, "m", since=T0, last=timedelta(hours=1)),
            "read_request_log takes 'since' or a timedelta 'last', not both.",
        ),
    ],
)
def test_bad_arguments(tmp_path: Path, call: object, message: str) -> None:
    with RequestLog(tmp_path) as log, pytest.raises(InvalidInputError, match=re.escape(message)):
        call(log)  # type: ignore[operator]


def test_bad_constructor_arguments(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=re.escape("'flush_rows' argument of RequestLog")):
        RequestLog(tmp_path, flush_rows=0)
    with pytest.raises(InvalidInputError, match=re.escape("'flush_interval' argument")):
        RequestLog(tmp_path, flush_interval=0)


APPENDER = textwrap.dedent(
    """
    import sys
    import pandas as pd
    from loopline.requestlog import RequestLog

    log = RequestLog(sys.argv[1], flush_rows=200, flush_interval=0.02)
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", None]})
    i = 0
    while True:
        log.append("churn", 7, f"r{i}", frame, {"prediction": [0, 1, 0]}, 1.5)
        i += 1
    """
)


def test_kill_9_mid_append_leaves_every_flushed_file_readable(tmp_path: Path) -> None:
    root = tmp_path / "log"
    process = subprocess.Popen([sys.executable, "-c", APPENDER, str(root)], cwd=tmp_path)
    try:
        wait_for(lambda: len(part_files(root)) >= 8 or process.poll() is not None, timeout=60)
        assert process.poll() is None, "the appending process died on its own"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    files = part_files(root)
    rows_on_disk = sum(pq.read_table(path).num_rows for path in files)
    frame, stats = read_request_log(root, "churn")

    assert stats.files_skipped == 0 and stats.files_read == len(files) >= 8
    assert stats.rows == rows_on_disk == len(frame) and len(frame) % 3 == 0
    assert set(frame["version"]) == {"7"}
    assert frame.groupby("request_id")["row"].apply(list).map(lambda r: r == [0, 1, 2]).all()


def test_a_crashed_writers_temporary_files_are_removed_once_stale(tmp_path: Path) -> None:
    folder = tmp_path / "model=churn" / "date=2024-05-01" / "hour=23"
    folder.mkdir(parents=True)
    stale, fresh = folder / ".part-old.parquet.tmp", folder / ".part-new.parquet.tmp"
    stale.write_bytes(b"PAR1 cut off")
    fresh.write_bytes(b"PAR1 being written")
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))

    with RequestLog(tmp_path) as log:
        log.flush()  # the writer thread sweeps before it takes the first entry

    assert not stale.exists()
    assert fresh.exists()  # it may be another live writer's


def test_errors_are_counted_by_window_from_one_file_per_day(tmp_path: Path) -> None:
    before, late, next_day = T0 - timedelta(hours=2), T0, T0 + timedelta(minutes=20)
    for moment in (before, late, late, next_day):
        append_error(tmp_path, "churn", 422, "record 0: bad", when=moment.timestamp())
    append_error(tmp_path, "other", 500, "boom", when=late.timestamp())

    files = sorted(p.name for p in (tmp_path / "model=churn" / "errors").iterdir())
    assert files == ["date=2024-05-01.jsonl", "date=2024-05-02.jsonl"]
    end = T0 + timedelta(hours=1)
    assert count_errors(tmp_path, "churn", None, end) == 4
    assert count_errors(tmp_path, "churn", T0 - timedelta(minutes=5), end) == 3
    assert count_errors(tmp_path, "churn", T0 + timedelta(minutes=1), end) == 1
    assert count_errors(tmp_path, "churn", None, T0) == 1  # the end is excluded
    assert count_errors(tmp_path, "nobody", None, end) == 0


def test_an_error_line_cut_off_by_a_crash_is_skipped(tmp_path: Path) -> None:
    append_error(tmp_path, "churn", 422, "first", when=T0.timestamp())
    day_file = tmp_path / "model=churn" / "errors" / "date=2024-05-01.jsonl"
    with open(day_file, "a", encoding="utf-8") as handle:
        handle.write('{"time": 17145\n')  # what a kill -9 mid-write could leave
    append_error(tmp_path, "churn", 422, "third", when=T0.timestamp() + 1)
    assert count_errors(tmp_path, "churn", None, T0 + timedelta(hours=1)) == 2


def test_errors_are_counted_by_window_wherever_the_log_is(root: Root) -> None:
    # One at a time (as a process without a RequestLog writes them), and batched by a log.
    before, late, next_day = T0 - timedelta(hours=2), T0, T0 + timedelta(minutes=20)
    append_error(root.url, "churn", 422, "record 0: bad", when=before.timestamp())
    with RequestLog(root.url) as log:
        for moment in (late, late, next_day):
            log.append_error("churn", 422, "record 0: bad", when=moment.timestamp())
        log.append_error("other", 500, "boom", when=late.timestamp())
    assert log.stats.failed_writes == log.stats.dropped_errors == 0

    end = T0 + timedelta(hours=1)
    assert count_errors(root.url, "churn", None, end) == 4
    assert count_errors(root.url, "churn", T0 - timedelta(minutes=5), end) == 3
    assert count_errors(root.url, "churn", T0 + timedelta(minutes=1), end) == 1
    assert count_errors(root.url, "churn", None, T0) == 1  # the end is excluded
    assert count_errors(root.url, "other", None, end) == 1
    assert count_errors(root.url, "nobody", None, end) == 0
    if isinstance(root.url, str):  # an object store cannot append: a folder per day
        import s3fs

        fs = s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False)
        base = root.url.removeprefix("s3://") + "/model=churn/errors"
        names = [path.removeprefix(base + "/") for path in fs.find(base)]
        assert [name.split("/")[0] for name in sorted(names)] == [
            "date=2024-05-01",
            "date=2024-05-01",  # one object of the log's two errors of that day
            "date=2024-05-02",
        ]
        assert all(
            re.fullmatch(r"date=[\d-]{10}/\d{8}T\d{12}Z-[0-9a-f]{32}\.jsonl", n) for n in names
        )


def test_count_errors_reads_both_layouts_in_a_local_folder(tmp_path: Path) -> None:
    # A remote log copied to a local folder (aws s3 sync) has a folder per day.
    append_error(tmp_path, "churn", 422, "a line of the day's file", when=T0.timestamp())
    batch = tmp_path / "model=churn" / "errors" / "date=2024-05-01"
    batch.mkdir()
    lines = [{"time": T0.timestamp() + i, "status": 500, "error": "boom"} for i in (1, 2)]
    (batch / "20240501T235001000000Z-0a.jsonl").write_text(
        "".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8"
    )
    (batch / "notes.txt").write_text("not ours", encoding="utf-8")
    assert count_errors(tmp_path, "churn", None, T0 + timedelta(hours=1)) == 3
    assert count_errors(tmp_path, "churn", T0 + timedelta(seconds=2), T0 + timedelta(hours=1)) == 1


def test_a_failed_remote_write_is_logged_counted_and_shows_no_credentials(
    s3_bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    import s3fs

    url = f"{s3_bucket}/requests"
    log = RequestLog(url, flush_interval=3600)
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    fs.rm(s3_bucket.removeprefix("s3://"), recursive=True)  # gone after the log opened
    with caplog.at_level(logging.WARNING, logger="loopline.requestlog"):
        log.append("churn", 1, "r1", inputs(2), outputs(2), 1.0, T0)
        log.append_error("churn", 422, "bad", when=T0.timestamp())
        assert log.flush(timeout=60)  # the writer survives: the service keeps serving
        log.append("churn", 1, "r2", inputs(1), outputs(1), 1.0, T0)
        log.close()

    stats = log.stats
    assert (stats.written_rows, stats.dropped_rows, stats.pending_rows) == (0, 3, 0)
    assert (stats.failed_writes, stats.dropped_errors) == (3, 1)
    assert (
        f"Could not write 2 request-log rows to {url}/model=churn/date=2024-05-01/hour=23: "
        in caplog.text
    )
    assert (
        f"Could not write 1 request-log error records to {url}/model=churn/errors/"
        "date=2024-05-01: " in caplog.text
    )
    assert os.environ["AWS_SECRET_ACCESS_KEY"] not in caplog.text
    assert "Traceback" not in caplog.text


def _entries(*specs: tuple[Records | pd.DataFrame, dict[str, object]]) -> list[_Entry]:
    return [
        _Entry("churn", str(i), f"r{i}", rows, out, 1.5 + i, T0 + timedelta(seconds=i))
        for i, (rows, out) in enumerate(specs)
    ]


def _records(ages: list[float] | np.ndarray, colors: list[str]) -> Records:
    return Records(("age", "color"), (ages, colors), (NUMERIC, TEXT))


@pytest.mark.parametrize(
    "entries",
    [
        # The service's case: Records, labels and class probabilities.
        _entries((_records([30, 41.5], ["red", "blue"]), outputs(2))),
        _entries(
            (_records([30], ["red"]), outputs(1)),
            (_records([1.0, 2.0, 3.0], ["a", "b", "c"]), outputs(3)),
        ),
        # A long request's numeric column is the float64 array the service checked it as.
        _entries(
            (_records(np.linspace(18, 90, 70), ["red"] * 70), outputs(70)),
            (_records([30], ["red"]), outputs(1)),
        ),
        # Numeric, boolean and object-text predictions; a 2-D output.
        _entries((_records([1.0], ["x"]), {"prediction": np.array([3], dtype=np.int32)})),
        _entries((_records([1.0, 2.0], ["x", "y"]), {"prediction": np.array([True, False])})),
        _entries(
            (_records([1.0], ["x"]), {"prediction": np.array(["no"], dtype=object)}),
            (_records([2.0], ["y"]), {"prediction": np.array(["yes"])}),
        ),
        _entries((_records([1.0, 2.0], ["x", "y"]), {"emb": np.ones((2, 3))})),
        # Not for the direct path: frames, mixed columns, differing outputs.
        _entries((inputs(3), outputs(3)), (_records([1.0], ["x"]), outputs(1))),
        _entries(
            (_records([1.0], ["x"]), outputs(1)),
            (Records(("age",), ([2.0],), (NUMERIC,)), outputs(1)),
        ),
        _entries(
            (_records([1.0], ["x"]), {"prediction": np.array([1])}),
            (_records([2.0], ["y"]), {"prediction": np.array([1.5])}),
        ),
        _entries((_records([1.0], ["x"]), {"prediction": np.array([None], dtype=object)})),
    ],
)
def test_the_direct_table_equals_the_pandas_one(entries: list[_Entry]) -> None:
    # The writer builds Arrow tables straight from Records; files must not depend on which
    # path wrote them (readers unify on Arrow types).
    expected = _to_arrow(_frame_of(entries))
    direct = _direct_table(entries)
    assert _table_of(entries).equals(expected)
    if direct is not None:
        assert direct.schema == expected.schema
        assert direct.equals(expected)


def test_the_service_case_takes_the_direct_path() -> None:
    entries = _entries((_records([30, 41.5], ["red", "blue"]), outputs(2)))
    assert _direct_table(entries) is not None
