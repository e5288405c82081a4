"""Benchmark: Loopline's data-quality core against the cheapest summary pandas can give.

Run::

    python benchmarks/statistics_validate.py [--rows 1000000] [--repeats 3] [--json out.json]

It generates one frame with a fixed seed (``--rows`` x 25 columns: 20 float columns, 5 text
columns of 10 to 30 categories, 1% missing values in every column) and measures, in one run:

(a) the floor: ``df.describe()`` plus ``value_counts()`` of each categorical column;
(b) Loopline: ``compute_statistics(df)``, ``infer_schema(stats)`` and
    ``validate(df, schema, statistics=stats, previous=stats)``, i.e. the validation a pipeline
    runs on a new span, drift check included.

Time: after one untimed warm-up of each side, both sides run alternately ``--repeats`` times
in this process; the median of the ``time.perf_counter`` wall times is reported.

Memory: each side runs once more in a fresh subprocess that builds the same frame, then resets
the kernel's peak-RSS mark (``/proc/self/clear_refs``, Linux) and reports the peak resident
memory above the frame's baseline (``VmHWM - VmRSS``). This counts every allocation, numpy's
and pyarrow's alike. Where ``clear_refs`` is unavailable it falls back to ``tracemalloc``'s
peak, which misses memory that pyarrow allocates, and says so.

The target is Loopline within 2x of the floor's time.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from _common import proc_status, release_free_memory  # noqa: E402 - beside this script

from loopline.components._schema import infer_schema
from loopline.components._statistics import compute_statistics
from loopline.components._validate import validate

SEED = 20240501
NUMERIC_COLUMNS = 20
CATEGORICAL_COLUMNS = 5
TARGET_RATIO = 2.0


def make_frame(rows: int) -> pd.DataFrame:
    """The benchmark frame: 20 float and 5 text columns, 1% missing in each, fixed seed."""
    rng = np.random.default_rng(SEED)
    columns: dict[str, Any] = {}
    for i in range(NUMERIC_COLUMNS):
        values = rng.normal(loc=i, scale=1 + i, size=rows) if i % 2 else rng.gamma(2.0, 10.0, rows)
        values[rng.random(rows) < 0.01] = np.nan
        columns[f"num_{i:02d}"] = values
    for i in range(CATEGORICAL_COLUMNS):
        levels = np.array([f"level_{i}_{j:02d}" for j in range(10 + 5 * i)], dtype=object)
        weights = rng.dirichlet(np.ones(levels.size))
        values = levels[rng.choice(levels.size, size=rows, p=weights)]
        values[rng.random(rows) < 0.01] = None
        columns[f"cat_{i}"] = values
    frame = pd.DataFrame(columns)
    for i in range(CATEGORICAL_COLUMNS):  # pandas 3's default text dtype
        frame[f"cat_{i}"] = frame[f"cat_{i}"].astype("str")
    return frame


def run_floor(df: pd.DataFrame) -> object:
    """(a) The floor: describe() and value_counts() per categorical column."""
    categorical = [c for c in df.columns if c.startswith("cat_")]
    return df.describe(), [df[c].value_counts() for c in categorical]


def run_loopline(df: pd.DataFrame) -> object:
    """(b) Loopline: statistics, schema, and validation with the drift check."""
    stats = compute_statistics(df)
    schema = infer_schema(stats)
    return validate(df, schema, statistics=stats, previous=stats)


SIDES: dict[str, Callable[[pd.DataFrame], object]] = {
    "floor": run_floor,
    "loopline": run_loopline,
}


def time_sides(df: pd.DataFrame, repeats: int) -> dict[str, list[float]]:
    """Wall times of each side: one warm-up each, then ``repeats`` alternating runs."""
    for run in SIDES.values():
        run(df)
    times: dict[str, list[float]] = {name: [] for name in SIDES}
    for _ in range(repeats):
        for name, run in SIDES.items():
            gc.collect()
            start = time.perf_counter()
            run(df)
            times[name].append(time.perf_counter() - start)
    return times


def time_parts(df: pd.DataFrame, repeats: int) -> dict[str, float]:
    """Median time of each Loopline part, and of validate without the span's statistics."""
    stats = compute_statistics(df)
    schema = infer_schema(stats)
    parts: dict[str, Callable[[], object]] = {
        "compute_statistics": lambda: compute_statistics(df),
        "infer_schema": lambda: infer_schema(stats),
        "validate (statistics + previous given)": lambda: validate(
            df, schema, statistics=stats, previous=stats
        ),
        "validate (previous only; scans the data itself)": lambda: validate(
            df, schema, previous=stats
        ),
    }
    medians = {}
    for name, call in parts.items():
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            call()
            samples.append(time.perf_counter() - start)
        medians[name] = statistics.median(samples)
    return medians


def child_peak_memory(side: str, rows: int) -> dict[str, Any]:
    """Run one side once in this (fresh) process and measure its peak memory."""
    df = make_frame(rows)
    gc.collect()
    release_free_memory()
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
        baseline = proc_status()["VmRSS"]
        SIDES[side](df)
        peak = proc_status()["VmHWM"]
        return {"peak_bytes": peak - baseline, "method": "VmHWM - VmRSS after clear_refs"}
    except OSError:
        tracemalloc.start()
        SIDES[side](df)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return {"peak_bytes": peak, "method": "tracemalloc peak (misses pyarrow memory)"}


def measure_memory(rows: int) -> dict[str, dict[str, Any]]:
    """Peak memory of each side, each in a fresh subprocess."""
    results = {}
    for side in SIDES:
        output = subprocess.run(
            [sys.executable, __file__, "--child", side, "--rows", str(rows)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        results[side] = json.loads(output)
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table; write JSON to ``--json`` or stdout."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="write the results to this file instead of stdout")
    parser.add_argument("--child", choices=sorted(SIDES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child_peak_memory(args.child, args.rows)))
        return 0

    df = make_frame(args.rows)
    report = run_loopline(df)
    times = time_sides(df, args.repeats)
    parts = time_parts(df, args.repeats)
    memory = measure_memory(args.rows)
    median = {name: statistics.median(samples) for name, samples in times.items()}
    ratio = median["loopline"] / median["floor"]
    memory_ratio = memory["loopline"]["peak_bytes"] / max(memory["floor"]["peak_bytes"], 1)

    print(
        f"frame: {args.rows:,} rows x {df.shape[1]} columns "
        f"({NUMERIC_COLUMNS} float, {CATEGORICAL_COLUMNS} text), "
        f"{df.memory_usage(deep=True).sum() / 2**20:,.0f} MiB, seed {SEED}"
    )
    print(f"time: median of {args.repeats} alternating runs after a warm-up (time.perf_counter)")
    print(f"memory: one run per side in a fresh subprocess; {memory['floor']['method']}")
    print()
    print(f"{'side':<44} {'median s':>9} {'peak MiB':>9}   runs s")
    labels = {
        "floor": "(a) floor: describe() + value_counts() x5",
        "loopline": "(b) loopline: statistics + schema + validate",
    }
    for name in SIDES:
        runs = ", ".join(f"{t:.3f}" for t in times[name])
        peak = memory[name]["peak_bytes"] / 2**20
        print(f"{labels[name]:<44} {median[name]:>9.3f} {peak:>9.0f}   {runs}")
    print(f"{'ratio loopline / floor':<44} {ratio:>8.2f}x {memory_ratio:>8.2f}x")
    print()
    print("loopline parts (median s):")
    for name, seconds in parts.items():
        print(f"  {name:<50} {seconds:.3f}")
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    print(f"\ntarget: loopline within {TARGET_RATIO:g}x of the floor: {verdict} ({ratio:.2f}x)")
    print(f"validation of the benchmark frame: {report.summary()}")  # type: ignore[attr-defined]

    results = {
        "rows": args.rows,
        "columns": int(df.shape[1]),
        "seed": SEED,
        "repeats": args.repeats,
        "seconds": {name: {"median": median[name], "runs": times[name]} for name in SIDES},
        "ratio": ratio,
        "target_ratio": TARGET_RATIO,
        "target_met": ratio <= TARGET_RATIO,
        "loopline_parts_seconds": parts,
        "peak_memory": memory,
        "peak_memory_ratio": memory_ratio,
        "environment": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
        },
    }
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(results, out, indent=2)
        print(f"results written to {args.json}")
    else:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
