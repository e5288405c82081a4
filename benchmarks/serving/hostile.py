"""Hostile request bodies (issue 10): time and peak memory of checking them, in process.

Each body is what a careless or hostile client sends: one record naming thousands of
fields the model does not know, thousands of records each naming its own unknown field,
a CSV header of thousands of unknown names. The model's schema has 13 numeric features
(like wine's). Each shape is checked by ``read_records`` (what ``/predict`` runs) under
both policies; the time is the median of ``--repeats`` runs (interleaved), the memory the
peak that ``tracemalloc`` sees in one further run.

    python benchmarks/serving/hostile.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
import tracemalloc
from collections.abc import Callable

from loopline.components import ColumnSchema, Schema
from loopline.errors import InvalidInputError
from loopline.serving._payload import read_records

SCHEMA = Schema([ColumnSchema(f"f{i}", "numeric") for i in range(13)])
BASE = {f"f{i}": 1.0 for i in range(13)}


def one_record(n: int) -> bytes:
    return json.dumps([{**BASE, **{f"unknown_{i}": 1 for i in range(n)}}]).encode()


def many_records(n: int) -> bytes:
    return json.dumps([{**BASE, f"u{i}": 1} for i in range(n)]).encode()


def csv_header(n: int) -> bytes:
    head = ",".join([*BASE, *(f"u{i}" for i in range(n))])
    return (head + "\n" + ",".join(["1"] * (13 + n)) + "\n").encode()


SHAPES: list[tuple[str, Callable[[int], bytes], list[int], bool]] = [
    ("one record, N unknown fields", one_record, [2_000, 20_000], False),
    ("N records, each its own unknown field", many_records, [600, 6_000], False),
    ("CSV header of N unknown names", csv_header, [2_000, 20_000], True),
]


def check(raw: bytes, policy: str, csv: bool) -> None:
    with contextlib.suppress(InvalidInputError):
        read_records(raw, SCHEMA, policy=policy, max_bytes=1 << 20, csv=csv)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print("| body | N | bytes | policy | median time | peak memory |")
    print("| --- | ---: | ---: | --- | ---: | ---: |")
    for label, make, sizes, csv in SHAPES:
        for n in sizes:
            raw = make(n)
            for policy in ("strict", "lenient"):
                times = []
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    check(raw, policy, csv)
                    times.append(time.perf_counter() - start)
                tracemalloc.start()
                check(raw, policy, csv)
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
                median = sorted(times)[len(times) // 2]
                print(
                    f"| {label} | {n:,} | {len(raw):,} | {policy} | {median * 1000:,.1f} ms "
                    f"| {peak / 1e6:,.1f} MB |"
                )


if __name__ == "__main__":
    main()
