"""Training at scale: ``loopline run`` (defaults from ``loopline init``) against a plain
scikit-learn + Optuna script under the same rules (the same candidates, CV and tuning on a
stratified sample of ``cv_rows`` rows, one time budget for selection + tuning + the final
fit, fold fits on one thread: see peer_scripts/sklearn_train.py), on n x 20 numeric rows,
and the majority-class baseline for quality.

Each tool runs in its own subprocess; wall time and peak memory (max RSS of the child) are
measured from outside. Usage:

    python benchmarks/training_scale.py --sizes 10k 100k 1M [--peer-timeout 1800]

Each size runs on its own (``--sizes 10k``), so the large one can run later on a quiet
machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import BENCH_DIR, machine_info, print_table, write_json

BUDGET = 300  # loopline's default [training] time_budget
CV_ROWS = 20_000  # loopline's default [training] cv_rows


def parse_size(text: str) -> int:
    """``10k`` -> 10000, ``1M`` -> 1000000, ``2500`` -> 2500."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmM]?)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 10k, 100k, 1M or 5000")
    scale = {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2).lower()]
    return int(float(match.group(1)) * scale)


def make_data(n: int, path: Path) -> None:
    """n x 20 float features; a non-linear binary target with label noise."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 20)).astype("float32")
    logit = 1.5 * X[:, 0] - X[:, 1] + 0.5 * X[:, 2] * X[:, 3] + np.sin(2 * X[:, 4])
    y = (logit + rng.normal(size=n) > 0).astype(int)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(20)]).round(4)
    frame.assign(label=y).to_csv(path, index=False)


def measured(cmd: list[str], cwd: Path, timeout: float) -> tuple[float, float, str, bool]:
    """(seconds, peak RSS in MB of this child, stdout, finished) of one subprocess.

    The child is wrapped in ``/usr/bin/time``-like accounting: RUSAGE_CHILDREN's ru_maxrss
    is the largest of all children so far, so each measurement runs in a fresh wrapper.
    """
    wrapper = [
        sys.executable,
        "-c",
        "import resource, subprocess, sys; "
        "p = subprocess.run(sys.argv[1:]); "
        "print('MAXRSS', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
        "file=sys.stderr); sys.exit(p.returncode)",
        *cmd,
    ]
    start = time.perf_counter()
    try:
        done = subprocess.run(wrapper, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - start, float("nan"), "", False
    seconds = time.perf_counter() - start
    rss = re.search(r"MAXRSS (\d+)", done.stderr)
    if done.returncode != 0:
        print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
    return (
        seconds,
        int(rss.group(1)) / 1024 if rss else float("nan"),
        done.stdout,
        done.returncode == 0,
    )


def run_loopline(n: int, data: Path, root: Path) -> dict[str, Any]:
    project = root / f"loopline-{n}"
    project.mkdir()
    os.link(data, project / "data.csv")
    loopline = [sys.executable, "-m", "loopline"]
    subprocess.run(
        [*loopline, "init", "--data", "data.csv", "--target", "label"],
        cwd=project,
        check=True,
        capture_output=True,
    )
    seconds, rss, out, ok = measured([*loopline, "run"], project, timeout=3600)
    text = " ".join(out.split())
    accuracy = re.search(r"Holdout \(\d+ rows\): accuracy (\d\.\d+)", text)
    baseline = re.search(
        r"accuracy \d\.\d+ vs the dummy baseline \(the majority class\) (\d\.\d+)", text
    )
    trials = re.search(r"Tuning \w+: (\d+) trials", text)
    best = re.search(r"1\. (\w+)", text)
    return {
        "tool": "loopline run",
        "rows": n,
        "seconds": seconds,
        "peak_mb": rss,
        "finished": ok,
        "best": best.group(1) if best else None,
        "trials": int(trials.group(1)) if trials else 0,
        "accuracy": float(accuracy.group(1)) if accuracy else None,
        "majority_accuracy": float(baseline.group(1)) if baseline else None,
    }


def run_peer(n: int, data: Path, root: Path, timeout: float) -> dict[str, Any]:
    script = BENCH_DIR / "peer_scripts" / "sklearn_train.py"
    cmd = [sys.executable, str(script), str(data), "label", str(BUDGET), str(CV_ROWS)]
    seconds, rss, out, ok = measured(cmd, root, timeout=timeout)
    found = json.loads(out.strip().splitlines()[-1]) if ok else {}
    return {
        "tool": "scikit-learn script",
        "rows": n,
        "seconds": seconds,
        "peak_mb": rss,
        "finished": ok,
        "best": found.get("best"),
        "folds_done": found.get("folds_done"),
        "trials": found.get("trials", 0),
        "accuracy": found.get("accuracy"),
        "majority_accuracy": found.get("majority_accuracy"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=parse_size, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--peer-timeout", type=float, default=1800)
    parser.add_argument("--skip-peer-above", type=int, default=10**9)
    parser.add_argument("--json", default=None, help="default: results/training_scale-SIZES.json")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for n in args.sizes:
            data = root / f"data-{n}.csv"
            make_data(n, data)
            results.append(run_loopline(n, data, root))
            print(results[-1], flush=True)
            if n <= args.skip_peer_above:
                results.append(run_peer(n, data, root, args.peer_timeout))
                print(results[-1], flush=True)
    print_table(
        [
            [
                r["tool"],
                r["rows"],
                r["seconds"],
                r["peak_mb"],
                r["finished"],
                r["best"],
                r["trials"],
                r["accuracy"],
                r["majority_accuracy"],
            ]
            for r in results
        ],
        [
            "tool",
            "rows",
            "seconds",
            "peak MB",
            "finished",
            "best",
            "trials",
            "accuracy",
            "majority",
        ],
    )
    json_path = args.json or str(
        BENCH_DIR / "results" / f"training_scale-{'-'.join(map(str, args.sizes))}.json"
    )
    write_json(json_path, {"machine": machine_info(), "load": os.getloadavg(), "results": results})


if __name__ == "__main__":
    main()
