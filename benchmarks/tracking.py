"""Metric logging rate: Loopline's log_metric against MLflow's, measured in one run.

    python benchmarks/tracking.py [--repeats 5] [--n 10000] [--mlflow-single-n 500]
                                  [--no-mlflow] [--json PATH]

Loopline: ``--n`` (10,000) ``loopline.log_metric`` calls inside
``with loopline.start_run(project_dir=tmp)``, a fresh project folder (SQLite store) per
repeat. Timed from the first call to the exit of the ``with`` block, so the final flush
to SQLite and the run's end are included; opening the store (``start_run`` entry, which
creates and migrates a fresh database) is reported apart. Target: under 0.2 s.

MLflow (latest 3.x, in a peer venv under benchmarks/.peers/mlflow, its default local
backend, a fresh folder hence a fresh tracking DB per measurement), timed the same way
(inside ``with mlflow.start_run()``, end of run included):
  (a) one ``mlflow.log_metric`` call per value, ``--mlflow-single-n`` (500) values;
  (b) ``MlflowClient.log_batch`` in batches of 1000 (the most one call accepts), --n values.

Each repeat runs Loopline, then MLflow (a), then MLflow (b), so that all three see the
same machine noise. Reported: metrics/s for each (median of --repeats) and the ratio
Loopline one-call rate / MLflow log_batch rate, computed within each repeat, median
taken. Target: at least 10x.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BENCH_DIR, machine_info, median, print_table, write_json  # noqa: E402

TARGET_S = 0.2
TARGET_RATIO = 10.0
MLFLOW_REQUIREMENTS = ["mlflow==3.*"]
MLFLOW_SCRIPT = BENCH_DIR / "peer_scripts" / "mlflow_log.py"
#: Figures quoted in the issue for MLflow 3.17 on a 2-core machine (metrics/s).
MLFLOW_QUOTED = {"single_per_s": 130, "batch_per_s": 4250}


def _loopline_once(n: int) -> dict[str, float]:
    import loopline
    from loopline.store import Store

    folder = tempfile.mkdtemp(prefix="loopline-bench-")
    try:
        t0 = time.perf_counter()
        with loopline.start_run("bench", project_dir=folder) as run:
            t1 = time.perf_counter()
            for i in range(n):
                loopline.log_metric("loss", 1.0 / (i + 1), step=i)
            t2 = time.perf_counter()
        t3 = time.perf_counter()
        with Store(f"sqlite:///{folder}/.loopline/loopline.db") as store:
            logged = len(store.tracking.metrics(run.id))
        assert logged == n, (logged, n)
        # the same again on the now existing project (no migrations on entry)
        t4 = time.perf_counter()
        with loopline.start_run("bench2", project_dir=folder):
            t5 = time.perf_counter()
            for i in range(n):
                loopline.log_metric("loss", 1.0 / (i + 1), step=i)
        t6 = time.perf_counter()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "enter_fresh_s": t1 - t0,
        "calls_s": t2 - t1,
        "log_s": t3 - t1,  # calls + final flush + run end
        "whole_fresh_s": t3 - t0,
        "enter_existing_s": t5 - t4,
        "log_existing_s": t6 - t5,
    }


def _summarise_loopline(samples: list[dict[str, float]], n: int) -> dict[str, Any]:
    out: dict[str, Any] = {"n": n, "repeats": len(samples), "samples": samples}
    for key in samples[0]:
        out[f"{key}_median"] = median([s[key] for s in samples])
    out["rate_per_s"] = n / out["log_s_median"]
    out["rate_existing_per_s"] = n / out["log_existing_s_median"]
    out["target_s"] = TARGET_S
    return out


def _summarise_mlflow(samples: list[dict[str, Any]], n: int) -> dict[str, Any]:
    return {
        "n": n,
        "samples": samples,
        "log_s_median": median([s["log_s"] for s in samples]),
        "rate_per_s_median": median([s["rate_per_s"] for s in samples]),
        "start_run_s_median": median([s["start_run_s"] for s in samples]),
        "import_s_median": median([s["import_s"] for s in samples]),
    }


def bench(n: int, n_single: int, repeats: int, with_mlflow: bool) -> tuple[Any, Any]:
    """Loopline and MLflow measurements, interleaved so both see the same machine noise."""
    from _peers import Peer, PeerError

    peer = None
    ml: dict[str, Any] | None = None
    if with_mlflow:
        peer = Peer("mlflow", MLFLOW_REQUIREMENTS)
        try:
            peer.ensure()
            ml = {"versions": peer.versions(["mlflow", "sqlalchemy"]), "repeats": repeats}
        except PeerError as exc:
            peer, ml = None, {"error": f"install failed: {exc}"}
    _loopline_once(100)  # warm imports up
    ll_samples: list[dict[str, float]] = []
    runs: dict[str, list[dict[str, Any]]] = {"single": [], "batch": []}
    for _ in range(repeats):
        ll_samples.append(_loopline_once(n))
        if peer is None:
            continue
        for mode, count in (("single", n_single), ("batch", n)):
            # a fresh temporary folder each time: a fresh default backend (tracking DB)
            result = peer.run_script(MLFLOW_SCRIPT, ["--mode", mode, "--n", str(count)])
            assert result["logged"] == count, result
            runs[mode].append(result)
    ll = _summarise_loopline(ll_samples, n)
    if peer is not None and ml is not None:
        ml["single"] = _summarise_mlflow(runs["single"], n_single)
        ml["batch"] = _summarise_mlflow(runs["batch"], n)
        ml["tracking_uri_example"] = runs["batch"][0]["tracking_uri"]
        ml["store"] = runs["batch"][0]["store"]
        ml["quoted_in_issue"] = MLFLOW_QUOTED
        # ratio within each repeat (Loopline run just before MLflow's), then the median
        ml["ratio_batch_per_repeat"] = [
            (n / s["log_s"]) / b["rate_per_s"]
            for s, b in zip(ll_samples, runs["batch"], strict=True)
        ]
        ml["ratio_single_per_repeat"] = [
            (n / s["log_s"]) / b["rate_per_s"]
            for s, b in zip(ll_samples, runs["single"], strict=True)
        ]
    return ll, ml


def _span(values: list[float], fmt: str) -> str:
    return f"{min(values):{fmt}}x - {max(values):{fmt}}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n", type=int, default=10_000, help="metrics for Loopline and log_batch")
    parser.add_argument("--mlflow-single-n", type=int, default=500)
    parser.add_argument("--no-mlflow", action="store_true", help="skip the MLflow peer")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args()

    machine = machine_info(["loopline", "sqlalchemy"])
    print(f"machine: nproc={machine['nproc']} python={machine['python']} {machine['packages']}")
    ll, ml = bench(args.n, args.mlflow_single_n, args.repeats, not args.no_mlflow)

    print(
        f"\nLoopline: {args.n:,} log_metric calls in start_run, fresh project "
        f"(median of {args.repeats})"
    )
    log_s = ll["log_s_median"]
    print_table(
        [
            [
                "calls + final flush + run end, s",
                log_s,
                f"< {TARGET_S:g} s: {'met' if log_s < TARGET_S else 'MISSED'}",
            ],
            ["  of which the calls alone, s", ll["calls_s_median"], ""],
            ["rate, metrics/s", ll["rate_per_s"], ""],
            [
                "start_run entry, fresh project (create+migrate DB), s",
                ll["enter_fresh_s_median"],
                "not in rate",
            ],
            ["whole with-block on a fresh project, s", ll["whole_fresh_s_median"], ""],
            ["start_run entry, existing project, s", ll["enter_existing_s_median"], "not in rate"],
            ["calls + flush + end, existing project, s", ll["log_existing_s_median"], ""],
        ],
        ["measure", "value", "target / note"],
    )
    result: dict[str, Any] = {
        "benchmark": "tracking",
        "machine": machine,
        "loopline": ll,
        "mlflow": ml,
    }
    if ml is not None:
        if "error" in ml:
            print(f"\nMLflow did not run: {ml['error']}")
        else:
            single, batch = ml["single"], ml["batch"]
            ratio_batch = median(ml["ratio_batch_per_repeat"])
            ratio_single = median(ml["ratio_single_per_repeat"])
            result["ratios"] = {
                "loopline_over_mlflow_batch": ratio_batch,
                "loopline_over_mlflow_single": ratio_single,
            }
            print(
                f"\nMLflow {ml['versions'].get('mlflow')} (peer venv), backend {ml['store']} "
                f"({ml['tracking_uri_example']}), fresh DB per measurement "
                f"(median of {args.repeats})"
            )
            print_table(
                [
                    [
                        f"log_metric one call at a time ({single['n']}), metrics/s",
                        single["rate_per_s_median"],
                        MLFLOW_QUOTED["single_per_s"],
                    ],
                    [
                        f"log_batch x1000 ({batch['n']:,}), metrics/s",
                        batch["rate_per_s_median"],
                        MLFLOW_QUOTED["batch_per_s"],
                    ],
                    ["import mlflow, s", batch["import_s_median"], "-"],
                    ["start_run on a fresh DB, s", batch["start_run_s_median"], "-"],
                ],
                ["measure", "measured", "issue quotes"],
            )
            print()
            print_table(
                [
                    [
                        "Loopline one-call rate / MLflow log_batch rate",
                        f"{ratio_batch:.1f}x",
                        _span(ml["ratio_batch_per_repeat"], ".1f"),
                        f">= {TARGET_RATIO:g}x: "
                        + ("met" if ratio_batch >= TARGET_RATIO else "MISSED"),
                    ],
                    [
                        "Loopline one-call rate / MLflow one-call rate",
                        f"{ratio_single:.0f}x",
                        _span(ml["ratio_single_per_repeat"], ".0f"),
                        "",
                    ],
                ],
                ["ratio (median of per-repeat ratios)", "value", "per-repeat range", "target"],
            )
    write_json(args.json, result)


if __name__ == "__main__":
    main()
