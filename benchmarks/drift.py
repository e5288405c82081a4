"""Benchmark: Loopline's drift detector against a plain numpy/scipy floor and Evidently.

Run::

    python benchmarks/drift.py [--rows 1000000] [--repeats 3] [--evidently]
                               [--evidently-rows 100000 1000000] [--json PATH]

Two frames of ``--rows`` x 25 columns (20 float, 5 text of 6 to 14 categories, 1% missing in
each) come from one fixed seed: a reference (the training data) and a current window in which
exactly 5 numeric columns moved by half a standard deviation and 2 categorical columns had
their frequencies reversed. Measured in one run:

(a) Loopline: ``compute_statistics(reference)`` once, reported on its own (at training time
    the model package already carries it), then ``DriftDetector().fit(stats)`` and
    ``.score(current)``, which scans only the current window;
(b) the floor: what plain numpy/scipy needs for the same answers from the raw frames, both
    scanned: PSI on the reference's decile bins (``np.quantile`` + ``np.histogram``), KS by
    ``scipy.stats.ks_2samp`` and chi-square by ``scipy.stats.chisquare`` on value counts;
(c) with ``--evidently``: Evidently's default data drift preset,
    ``Report([DataDriftPreset()]).run(current, reference)`` (Evidently 0.7), in its own
    virtual environment (``benchmarks/.peers/evidently``, built once with ``evidently==0.7.*``
    and ``pandas<3``, which 0.7 needs; never a Loopline dependency). The frames reach it as
    Parquet files. At ``--evidently-rows`` other than ``--rows``, Loopline is timed again on
    frames of that size, so every ratio compares equal work.

Time: one untimed warm-up of (a) and (b), then ``--repeats`` alternating runs in this process;
the median of the ``time.perf_counter`` wall times. Evidently: the median of ``--repeats``
runs below 500,000 rows, one run at or above (a run takes minutes).

Memory: each side runs once more in a fresh process that builds (or reads) both frames, then
resets the kernel's peak-RSS mark (``/proc/self/clear_refs``, Linux) and reports the peak
resident memory above that point (``VmHWM - VmRSS``: what the side itself allocated) and the
process's peak (``VmHWM``: frames, interpreter and libraries included). Where ``clear_refs``
is unavailable, ``resource.getrusage`` gives the process peak only.

Targets (from the issue): Loopline at least 50x faster than Evidently, no slower than the
floor, and peak memory under 1.5x the two frames' size, read as the frames plus the peak the
side allocates above them (the interpreter and its libraries, about 200 MiB whatever the
data, are left out; the process peak is printed beside it).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import proc_status, release_free_memory  # noqa: E402 - beside this script
from scipy import stats as scipy_stats

from loopline.components._statistics import compute_statistics
from loopline.monitoring import DriftDetector

BENCH_DIR = Path(__file__).resolve().parent
SEED = 20240601
NUMERIC = [f"num_{i:02d}" for i in range(20)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]
SHIFTED = [*NUMERIC[:5], *CATEGORICAL[:2]]
TARGETS = {"vs_evidently": 50.0, "vs_floor": 1.0, "memory_vs_frames": 1.5}
EVIDENTLY_REQUIREMENTS = ["evidently==0.7.*", "pandas<3", "pyarrow"]
EVIDENTLY_SINGLE_RUN_ROWS = 500_000


# -- the data ---------------------------------------------------------------------------------


def make_frames(rows: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and current frames: same distributions but for the ``SHIFTED`` columns."""
    rng = np.random.default_rng(SEED)
    levels = [np.array([f"level_{i}_{j:02d}" for j in range(6 + 2 * i)]) for i in range(5)]
    weights = [np.sort(rng.dirichlet(np.ones(level.size)))[::-1] for level in levels]
    return _frame(rng, rows, levels, weights, False), _frame(rng, rows, levels, weights, True)


def _frame(
    rng: np.random.Generator,
    rows: int,
    levels: list[np.ndarray],
    weights: list[np.ndarray],
    shift: bool,
) -> pd.DataFrame:
    columns: dict[str, Any] = {}
    for i, name in enumerate(NUMERIC):
        if i % 2:
            values, std = rng.normal(i, 1 + i, rows), 1.0 + i
        else:
            values, std = rng.gamma(2.0, 5.0 + i, rows), np.sqrt(2.0) * (5.0 + i)
        if shift and name in SHIFTED:
            values += 0.5 * std
        values[rng.random(rows) < 0.01] = np.nan
        columns[name] = values
    for i, name in enumerate(CATEGORICAL):
        p = weights[i][::-1] if shift and name in SHIFTED else weights[i]
        values = levels[i].astype(object)[rng.choice(p.size, rows, p=p)]
        values[rng.random(rows) < 0.01] = None
        columns[name] = pd.array(values, dtype="str")  # pandas 3's text dtype
    return pd.DataFrame(columns)


def frame_bytes(*frames: pd.DataFrame) -> int:
    """In-memory size of the frames (deep)."""
    return int(sum(frame.memory_usage(deep=True).sum() for frame in frames))


# -- the sides --------------------------------------------------------------------------------


def run_loopline(statistics: dict[str, Any], current: pd.DataFrame) -> list[str]:
    """(a) fit on the stored statistics, score the window; the drifted features."""
    report = DriftDetector().fit(statistics).score(current)
    return report.drifted_features


def run_floor(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, dict[str, float]]:
    """(b) PSI + KS + chi-square per column with plain numpy/scipy, both frames scanned."""
    return {**floor_numeric(reference, current), **floor_categorical(reference, current)}


def floor_numeric(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, dict[str, float]]:
    """PSI on the reference's decile bins and the two-sample KS test of each float column."""
    out = {}
    for name in NUMERIC:
        ref = reference[name].to_numpy()
        cur = current[name].to_numpy()
        ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
        edges = np.unique(np.quantile(ref, np.linspace(0.0, 1.0, 11)))
        edges[0], edges[-1] = min(edges[0], cur.min()), max(edges[-1], cur.max())
        expected = np.histogram(ref, edges)[0] / ref.size
        actual = np.histogram(cur, edges)[0] / cur.size
        p, q = np.maximum(expected, 1e-4), np.maximum(actual, 1e-4)
        ks = scipy_stats.ks_2samp(ref, cur)
        out[name] = {
            "psi": float(np.sum((q - p) * np.log(q / p))),
            "ks": float(ks.statistic),
            "ks_p": float(ks.pvalue),
        }
    return out


def floor_categorical(
    reference: pd.DataFrame, current: pd.DataFrame
) -> dict[str, dict[str, float]]:
    """Chi-square of the current counts against the reference frequencies."""
    out = {}
    for name in CATEGORICAL:
        ref, cur = reference[name].value_counts(), current[name].value_counts()
        cells = ref.index.union(cur.index)
        expected = ref.reindex(cells, fill_value=0).to_numpy(dtype=float) + 0.5  # no 0 cell
        observed = cur.reindex(cells, fill_value=0).to_numpy(dtype=float)
        test = scipy_stats.chisquare(observed, expected / expected.sum() * observed.sum())
        out[name] = {"chi2": float(test.statistic), "chi2_p": float(test.pvalue)}
    return out


def time_sides(
    reference: pd.DataFrame, current: pd.DataFrame, statistics: dict[str, Any], repeats: int
) -> dict[str, list[float]]:
    """Wall times of Loopline and the floor: one warm-up each, then alternating runs."""
    sides: dict[str, Callable[[], object]] = {
        "loopline": lambda: run_loopline(statistics, current),
        "floor": lambda: run_floor(reference, current),
    }
    for run in sides.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(repeats):
        for name, run in sides.items():
            gc.collect()
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return times


def time_parts(
    reference: pd.DataFrame, current: pd.DataFrame, statistics: dict[str, Any], repeats: int
) -> dict[str, float]:
    """Median seconds of each part of the two sides."""
    detector = DriftDetector().fit(statistics)
    parts: dict[str, Callable[[], object]] = {
        "loopline: compute_statistics(reference) [training time]": lambda: compute_statistics(
            reference
        ),
        "loopline: DriftDetector().fit(statistics)": lambda: DriftDetector().fit(statistics),
        "loopline: score(current)": lambda: detector.score(current),
        "floor: PSI + ks_2samp, 20 float columns": lambda: floor_numeric(reference, current),
        "floor: chisquare, 5 text columns": lambda: floor_categorical(reference, current),
    }
    return {name: _median_time(call, repeats) for name, call in parts.items()}


def _median_time(call: Callable[[], object], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


# -- memory -----------------------------------------------------------------------------------


def child_peak_memory(side: str, rows: int) -> dict[str, Any]:
    """Run one side once in this fresh process; its peak memory above the frames and total."""
    reference, current = make_frames(rows)
    statistics = compute_statistics(reference) if side == "loopline" else None
    calls: dict[str, Callable[[], object]] = {
        "loopline": lambda: run_loopline(statistics or {}, current),
        "floor": lambda: run_floor(reference, current),
        "statistics": lambda: compute_statistics(reference),
    }
    gc.collect()
    release_free_memory()
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
        baseline = proc_status()["VmRSS"]
        calls[side]()
        peak = proc_status()["VmHWM"]
        return {
            "peak_above_frames_bytes": peak - baseline,
            "process_peak_bytes": peak,
            "method": "VmHWM after clear_refs",
        }
    except OSError:
        import resource

        calls[side]()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return {
            "peak_above_frames_bytes": None,
            "process_peak_bytes": peak,
            "method": "getrusage ru_maxrss (process peak only)",
        }


def measure_memory(rows: int, sides: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Peak memory of each side, each in a fresh subprocess."""
    results = {}
    for side in sides:
        output = subprocess.run(
            [sys.executable, __file__, "--child", side, "--rows", str(rows)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        results[side] = json.loads(output.strip().splitlines()[-1])
    return results


# -- Evidently --------------------------------------------------------------------------------

EVIDENTLY_SNIPPET = r"""
import contextlib, ctypes, gc, json, statistics, sys, time
import pandas as pd
import evidently
from evidently import Report
from evidently.presets import DataDriftPreset

reference_path, current_path, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
reference = pd.read_parquet(reference_path)
current = pd.read_parquet(current_path)


def status():
    values = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) * 1024
    return values


def run():
    return Report([DataDriftPreset()]).run(current, reference)


gc.collect()
with contextlib.suppress(OSError, AttributeError):
    ctypes.CDLL("libc.so.6").malloc_trim(0)
try:
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    baseline = status()["VmRSS"]
except OSError:
    baseline = None
times = []
for _ in range(repeats):
    start = time.perf_counter()
    result = run()
    times.append(time.perf_counter() - start)
    if len(times) == 1:
        peak = status()["VmHWM"]
drifted, methods, count = [], {}, None
for metric in result.dict()["metrics"]:
    config, value = metric["config"], metric["value"]
    if config["type"].endswith("DriftedColumnsCount"):
        count = value["count"]
    elif config["type"].endswith("ValueDrift"):
        method, threshold = config["method"], config["threshold"]
        methods[config["column"]] = method
        # Evidently's own rule: p-values drift below the threshold, distances at or above it.
        is_drift = value < threshold if "p_value" in method else value >= threshold
        if is_drift:
            drifted.append(config["column"])
print(json.dumps({
    "seconds": statistics.median(times),
    "runs": times,
    "peak_above_frames_bytes": None if baseline is None else peak - baseline,
    "process_peak_bytes": peak,
    "drifted": drifted,
    "drifted_count": count,
    "methods": sorted(set(methods.values())),
    "evidently": evidently.__version__,
    "pandas": pd.__version__,
}))
"""


def run_evidently(rows: int, repeats: int, folder: Path) -> dict[str, Any]:
    """Evidently's default drift preset on frames of ``rows`` rows, in its own venv."""
    sys.path.insert(0, str(BENCH_DIR))
    from _peers import Peer  # another engineer's helper: a venv per peer tool

    peer = Peer("evidently", EVIDENTLY_REQUIREMENTS).ensure()
    reference, current = make_frames(rows)
    paths = [folder / f"reference_{rows}.parquet", folder / f"current_{rows}.parquet"]
    reference.to_parquet(paths[0])
    current.to_parquet(paths[1])
    del reference, current
    runs = 1 if rows >= EVIDENTLY_SINGLE_RUN_ROWS else repeats
    result: dict[str, Any] = peer.run_code(
        EVIDENTLY_SNIPPET, [str(paths[0]), str(paths[1]), str(runs)], timeout=7200
    )
    for path in paths:
        path.unlink()
    return result


def time_loopline_only(rows: int, repeats: int) -> tuple[float, list[str]]:
    """Median seconds of Loopline's fit + score at ``rows`` rows (for Evidently's ratio)."""
    reference, current = make_frames(rows)
    statistics = compute_statistics(reference)
    flagged = run_loopline(statistics, current)  # warm-up
    return _median_time(lambda: run_loopline(statistics, current), repeats), flagged


# -- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print a table and a Markdown table, write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--evidently", action="store_true", help="also run Evidently 0.7")
    parser.add_argument(
        "--evidently-rows",
        type=int,
        nargs="+",
        help="row counts for Evidently (default: --rows)",
    )
    parser.add_argument("--json", help="write the results to this file instead of stdout")
    parser.add_argument(
        "--child", choices=["loopline", "floor", "statistics"], help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child_peak_memory(args.child, args.rows)))
        return 0

    reference, current = make_frames(args.rows)
    frames_size = frame_bytes(reference, current)
    statistics_dict = compute_statistics(reference)
    flagged = run_loopline(statistics_dict, current)
    times = time_sides(reference, current, statistics_dict, args.repeats)
    parts = time_parts(reference, current, statistics_dict, args.repeats)
    del reference, current
    gc.collect()
    memory = measure_memory(args.rows, ("loopline", "floor", "statistics"))
    median = {name: statistics.median(samples) for name, samples in times.items()}

    evidently: dict[int, dict[str, Any]] = {}
    if args.evidently:
        with tempfile.TemporaryDirectory(prefix="loopline-drift-bench-") as tmp:
            for rows in args.evidently_rows or [args.rows]:
                print(f"[drift] Evidently at {rows:,} rows ...", file=sys.stderr, flush=True)
                result = run_evidently(rows, args.repeats, Path(tmp))
                if rows == args.rows:
                    result["loopline_seconds"], result["loopline_flagged"] = (
                        median["loopline"],
                        flagged,
                    )
                else:
                    seconds, at_rows = time_loopline_only(rows, args.repeats)
                    result["loopline_seconds"], result["loopline_flagged"] = seconds, at_rows
                result["ratio"] = result["seconds"] / result["loopline_seconds"]
                evidently[rows] = result

    results = {
        "rows": args.rows,
        "columns": len(NUMERIC) + len(CATEGORICAL),
        "shifted": SHIFTED,
        "seed": SEED,
        "repeats": args.repeats,
        "frames_bytes": frames_size,
        "seconds": {name: {"median": median[name], "runs": times[name]} for name in times},
        "parts_seconds": parts,
        "ratio_loopline_over_floor": median["loopline"] / median["floor"],
        "peak_memory": memory,
        "loopline_flagged": flagged,
        "loopline_flags_exactly_the_shifted": flagged == SHIFTED,
        "evidently": {str(rows): result for rows, result in evidently.items()},
        "targets": TARGETS,
        "environment": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "scipy": _version("scipy"),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "processor": _cpu_model(),
        },
    }
    print_report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
        print(f"\nresults written to {args.json}")
    else:
        print(json.dumps(results, indent=2))
    return 0


def print_report(results: dict[str, Any]) -> None:
    """The numbers as text and as a Markdown table to paste into the docs."""
    rows, size = results["rows"], results["frames_bytes"]
    memory, seconds = results["peak_memory"], results["seconds"]
    env = results["environment"]
    print(
        f"frames: 2 x {rows:,} rows x {results['columns']} columns (20 float, 5 text; "
        f"{', '.join(results['shifted'])} shifted), {size / 2**20:,.0f} MiB together, "
        f"seed {results['seed']}"
    )
    print(f"machine: {env['cpus']} CPUs, {env['processor']}; Python {env['python']}")
    print(f"time: median of {results['repeats']} alternating runs after a warm-up")
    print(f"memory: one run per side in a fresh process ({memory['loopline']['method']})\n")

    def mib(value: int | None) -> str:
        return "-" if value is None else f"{value / 2**20:,.0f}"

    table = [
        (
            f"Loopline: fit + score (statistics stored), {rows:,} rows",
            f"{seconds['loopline']['median']:.2f}",
            mib(memory["loopline"]["peak_above_frames_bytes"]),
            mib(memory["loopline"]["process_peak_bytes"]),
        ),
        (
            "Loopline: compute_statistics(reference), once at training time",
            f"{results['parts_seconds'][next(iter(results['parts_seconds']))]:.2f}",
            mib(memory["statistics"]["peak_above_frames_bytes"]),
            mib(memory["statistics"]["process_peak_bytes"]),
        ),
        (
            "numpy/scipy floor: PSI + ks_2samp + chisquare, both frames",
            f"{seconds['floor']['median']:.2f}",
            mib(memory["floor"]["peak_above_frames_bytes"]),
            mib(memory["floor"]["process_peak_bytes"]),
        ),
    ]
    for at_rows, result in results["evidently"].items():
        table.append(
            (
                f"Evidently {result['evidently']} DataDriftPreset, {int(at_rows):,} rows",
                f"{result['seconds']:.2f}",
                mib(result["peak_above_frames_bytes"]),
                mib(result["process_peak_bytes"]),
            )
        )
        if int(at_rows) != rows:
            table.append(
                (
                    f"Loopline: fit + score, {int(at_rows):,} rows",
                    f"{result['loopline_seconds']:.3f}",
                    "-",
                    "-",
                )
            )
    header = ("side", "seconds", "peak above frames MiB", "process peak MiB")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(["---"] + ["---:"] * 3) + "|")
    for row in table:
        print("| " + " | ".join(row) + " |")

    floor_ratio = results["ratio_loopline_over_floor"]
    above = memory["loopline"]["peak_above_frames_bytes"]
    peak_ratio = (size + above) / size if above is not None else float("nan")
    process_ratio = memory["loopline"]["process_peak_bytes"] / size
    print()
    print("| target | result | met |")
    print("|---|---:|:---:|")
    for at_rows, result in results["evidently"].items():
        ratio = result["ratio"]
        print(
            f"| Evidently / Loopline at {int(at_rows):,} rows >= "
            f"{TARGETS['vs_evidently']:g}x | {ratio:,.0f}x | "
            f"{'yes' if ratio >= TARGETS['vs_evidently'] else 'no'} |"
        )
    print(
        f"| Loopline / floor <= {TARGETS['vs_floor']:g}x | {floor_ratio:.3f}x | "
        f"{'yes' if floor_ratio <= TARGETS['vs_floor'] else 'no'} |"
    )
    print(
        f"| Loopline (frames + peak above them) / two frames <= "
        f"{TARGETS['memory_vs_frames']:g}x | {peak_ratio:.2f}x | "
        f"{'yes' if peak_ratio <= TARGETS['memory_vs_frames'] else 'no'} |"
    )
    print(
        f"| (for reference) Loopline process peak incl. interpreter and libraries / two "
        f"frames | {process_ratio:.2f}x | - |"
    )
    exact = results["loopline_flags_exactly_the_shifted"]
    verdict = "yes" if exact else "no"
    print(f"| Loopline flags exactly the 7 shifted features | {exact} | {verdict} |")
    for at_rows, result in results["evidently"].items():
        print(
            f"\nEvidently at {int(at_rows):,} rows flagged {len(result['drifted'])} columns "
            f"({', '.join(result['drifted'])}) with {', '.join(result['methods'])}; "
            f"Loopline flagged {', '.join(result['loopline_flagged'])}."
        )
    print("\nparts (median s):")
    for name, value in results["parts_seconds"].items():
        print(f"  {name:<58} {value:.3f}")


def _version(name: str) -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or None


if __name__ == "__main__":
    raise SystemExit(main())
