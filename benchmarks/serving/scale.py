"""Serving scale: ``loopline serve --workers 2`` vs 1, and 1,000-row requests vs in-process.

    python benchmarks/serving/scale.py [--duration 8] [--warmup 2] [--repeats 3]
                                       [--models lr rf] [--json PATH] [--work DIR]

What it does, on loopback only (127.0.0.1), reusing ``run.py``'s data, projects and wrk
harness (Debian's ``wrk``; ``apt-get install -y wrk``):

1. The two projects of ``run.py`` (``make_classification``, 20 numeric features;
   LogisticRegression and a 100-tree RandomForest), trained, approved and promoted with
   the CLI (or reused from ``--work DIR`` when it already holds them).
2. For each model, two servers started together: ``loopline serve --workers 1`` and
   ``--workers 2``.
3. Rounds, interleaved (each repeat measures every setting once, in turn):
   - single-row ``POST /predict`` at concurrency 32 (requests/s, p50, p99);
   - 1,000-row ``POST /predict`` (records) at concurrency 1 and 4: rows/s = requests/s x
     1,000.
4. In-process reference, in this interpreter, at the start of every repeat: the model's
   ``predict`` on the same 1,000 rows (median of 15), i.e. what a caller gets without a
   server; each 1,000-row measurement is divided by its own repeat's reference.

Reported: the ratio workers-2 / workers-1 of requests/s at concurrency 32 (target
>= 1.7x on 2 cores), and server rows/s of 1,000-row requests over in-process rows/s
(targets: >= 50% for the random forest, >= 25% for logistic regression). Non-2xx
responses must be 0. Every server is stopped in a ``finally``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # noqa: E402  (benchmarks/serving/run.py: the shared harness)
from run import (  # noqa: E402
    HOST,
    MODELS,
    BenchError,
    Server,
    free_port,
    loopline_env,
    loopline_exe,
    measure,
    median_time,
    stop_group,
    wait_ready,
)


def _start(project: Path, ref: str, key: str, workers: int, work: Path) -> Server:
    port = free_port()
    log = work / f"serve_{key}_w{workers}.log"
    with open(log, "wb") as handle:
        proc = subprocess.Popen(
            [*loopline_exe(), "serve", ref, "--host", HOST, "--port", str(port),
             "--workers", str(workers)],
            cwd=project, env=loopline_env(), stdout=handle, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    return Server(f"workers={workers}", key, "loopline", port, proc, log, "/readyz")


def _in_process(project: Path, ref: str, rows: Any) -> float:
    from loopline.artifacts import ArtifactStore
    from loopline.config import load_settings
    from loopline.registry import Registry
    from loopline.store import Store

    settings = load_settings(project)
    with Store(settings.store_url) as store:
        package = Registry(store, ArtifactStore(settings.artifacts_url)).load_package(ref)
    X = rows[package.features]
    return len(X) / median_time(lambda: package.model.predict(X), 15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=8)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=["lr", "rf"])
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--work", help="a folder to keep (and reuse) the trained projects in")
    args = parser.parse_args()
    run.wrk_version()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="loopline-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    frame = run.make_data(work)
    rows = frame[run.FEATURES].iloc[:1000]
    one = work / "one_row.json"
    one.write_text(rows.iloc[:1].to_json(orient="records"))
    thousand = work / "thousand_rows.json"
    thousand.write_text(rows.to_json(orient="records"))
    results: dict[str, Any] = {"machine": run.machine_info(), "args": vars(args), "rows": []}
    servers: list[Server] = []
    try:
        refs: dict[str, tuple[Path, str]] = {}
        for key in args.models:
            name = MODELS[key]["name"]
            project = work / name
            if not (project / ".loopline").exists():
                run.make_project(work, key)
            refs[key] = (project, f"{name}@production")
            results[f"in_process_rows_per_s_{key}"] = []
        by_key: dict[tuple[str, int], Server] = {}
        for key, (project, ref) in refs.items():
            for workers in (1, 2):
                server = _start(project, ref, key, workers, work)
                servers.append(server)
                by_key[key, workers] = server
        wait_ready(servers, timeout=300)
        for repeat in range(args.repeats):
            for key, (project, _) in refs.items():
                # In each repeat too: on a shared machine the reference moves with the load.
                reference = _in_process(project, f"{MODELS[key]['name']}/1", rows)
                results[f"in_process_rows_per_s_{key}"].append(reference)
            for key in refs:
                for workers in (1, 2):
                    server = by_key[key, workers]
                    for body, concurrency, rows_per_request in (
                        (one, 32, 1),
                        (thousand, 1, 1000),
                        (thousand, 4, 1000),
                    ):
                        row = measure(
                            server, "/predict", body, concurrency, args.duration, args.warmup
                        )
                        row.update(
                            repeat=repeat,
                            workers=workers,
                            rows_per_request=rows_per_request,
                            rows_per_s=row["rps"] * rows_per_request,
                        )
                        row.pop("wrk", None)
                        results["rows"].append(row)
                        print(
                            f"{key} workers={workers} rows={rows_per_request} "
                            f"c={concurrency}: {row['rps']:,.1f} req/s, "
                            f"p99 {row['p99_ms']:.1f} ms, non-2xx {row['non2xx']}, "
                            f"load {row['loadavg_1m_before']:.1f}",
                            flush=True,
                        )
    finally:
        for server in servers:
            stop_group(server.proc)
    summary = _summary(results, list(refs))
    results["summary"] = summary
    print(json.dumps(summary, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))


def _summary(results: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    rows = results["rows"]

    def pick(key: str, workers: int, size: int, concurrency: int) -> list[dict[str, Any]]:
        return [
            r
            for r in rows
            if r["model"] == key
            and r["workers"] == workers
            and r["rows_per_request"] == size
            and r["concurrency"] == concurrency
        ]

    out: dict[str, Any] = {}
    for key in keys:
        single = {w: pick(key, w, 1, 32) for w in (1, 2)}
        ratios = [
            b["rps"] / a["rps"] for a, b in zip(single[1], single[2], strict=True) if a["rps"]
        ]
        entry: dict[str, Any] = {
            "single_row_c32_rps": {
                w: statistics.median(r["rps"] for r in single[w]) for w in (1, 2)
            },
            "single_row_c32_p99_ms": {
                w: statistics.median(r["p99_ms"] for r in single[w]) for w in (1, 2)
            },
            "workers2_over_1": statistics.median(ratios),
            "workers2_over_1_range": [min(ratios), max(ratios)],
            "in_process_rows_per_s": statistics.median(results[f"in_process_rows_per_s_{key}"]),
            "non2xx": sum(r["non2xx"] for r in rows if r["model"] == key),
        }
        for workers in (1, 2):
            for concurrency in (1, 4):
                measured = pick(key, workers, 1000, concurrency)
                rps = statistics.median(r["rows_per_s"] for r in measured)
                shares = [
                    r["rows_per_s"] / results[f"in_process_rows_per_s_{key}"][r["repeat"]]
                    for r in measured
                ]
                entry[f"rows_1000_w{workers}_c{concurrency}_rows_per_s"] = rps
                entry[f"rows_1000_w{workers}_c{concurrency}_share_of_in_process"] = (
                    statistics.median(shares)
                )
        out[key] = entry
    return out


if __name__ == "__main__":
    try:
        main()
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
