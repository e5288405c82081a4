"""Web UI page times at 10,000 runs and 1,000,000 metrics, against MLflow's tracking server.

    python benchmarks/ui.py [--runs 10000] [--metrics-per-run 100] [--repeats 15]
                            [--no-mlflow] [--json PATH]

Seeds one SQLite store (a fresh folder) with ``--runs`` finished runs of 3 pipelines and
4 statuses, each with 5 step runs, 5 params and ``--metrics-per-run`` metric values
(10 keys x 10 steps: 1,000,000 metrics at the defaults), written in bulk. Then starts the UI
(``create_ui_app``) on uvicorn on 127.0.0.1 and requests each page ``--repeats`` times,
interleaved. Reported per page: the median *server time* (the ``Server-Timing: app;dur``
the UI stamps on every response: routing, store queries and HTML rendering) and the median
round trip seen by the client. Target: every page < 300 ms server time.

MLflow (latest 3.x, a peer venv under benchmarks/.peers/mlflow): the same runs, params and
metrics go into an MLflow SQLite tracking store (one template run logged through MLflow's
API, its rows cloned in bulk so seeding takes seconds, not the ~4 min of log_batch), and
``mlflow server`` answers the REST calls its UI makes: ``runs/search`` (50 runs, the same
sort and filters) and, for a run page, ``runs/get`` plus ``metrics/get-history`` per key.
MLflow's UI renders in the browser from these answers, so its figure is the round trip of
those calls (no HTML), compared with Loopline's round trip of whole rendered pages. The
repeats alternate between the two servers so both see the same machine noise.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BENCH_DIR, machine_info, median, print_table, write_json  # noqa: E402

TARGET_MS = 300.0
MLFLOW_REQUIREMENTS = ["mlflow==3.*"]
MLFLOW_SEED = BENCH_DIR / "peer_scripts" / "mlflow_ui_seed.py"
KEYS = [f"metric_{i}" for i in range(9)] + ["accuracy"]
PIPELINES = ["training", "nightly", "backfill"]
STATUSES = ["succeeded"] * 7 + ["failed", "interrupted", "succeeded"]
LATEST_COLUMNS = ("run_id", "key", "value", "step", "timestamp")
STEPS = ["ingest", "validate", "transform", "train", "evaluate"]


# -- seeding ------------------------------------------------------------------------------


def seed_loopline(url: str, runs: int, per_run: int, rng: random.Random) -> list[dict[str, Any]]:
    """Bulk-write the runs (and return their plain description, for MLflow)."""
    from loopline.store import Store
    from loopline.store import _schema as t  # bulk rows: the benchmark's seeding only

    steps_per_key = max(1, per_run // len(KEYS))
    plain: list[dict[str, Any]] = []
    start = time.time() - runs * 60
    with Store(url) as store, store.engine.begin() as conn:
        step_id = 0
        for chunk in range(0, runs, 500):
            run_rows, step_rows, param_rows, metric_rows, latest_rows = [], [], [], [], []
            for i in range(chunk, min(chunk + 500, runs)):
                run_id = uuid.uuid4().hex
                began = start + i * 60
                accuracy = rng.random()
                plain.append(
                    {
                        "id": run_id,
                        "name": PIPELINES[i % 3],
                        "status": STATUSES[i % len(STATUSES)],
                        "start": began,
                        "end": began + 30,
                        "accuracy": accuracy,
                    }
                )
                run_rows.append(
                    dict(
                        id=run_id,
                        name=PIPELINES[i % 3],
                        params="{}",
                        status=STATUSES[i % len(STATUSES)],
                        started_at=began,
                        ended_at=began + 30,
                        host="bench",
                        pid=1,
                        executor="inprocess",
                    )
                )
                for s, name in enumerate(STEPS):
                    step_id += 1
                    step_rows.append(
                        dict(
                            id=step_id,
                            run_id=run_id,
                            name=name,
                            attempt=1,
                            code_hash="0" * 64,
                            cache_key=uuid.uuid4().hex,
                            params="{}",
                            status="succeeded",
                            cache_hit=s < 2 and i % 2 == 0,
                            started_at=began + s * 6,
                            ended_at=began + s * 6 + 5,
                            duration=5.0,
                        )
                    )
                for p in range(5):
                    param_rows.append(
                        dict(run_id=run_id, key=f"param_{p}", value=json.dumps(rng.randint(0, 9)))
                    )
                for key in KEYS:
                    for step in range(steps_per_key):
                        value = accuracy if key == "accuracy" else rng.random()
                        metric_rows.append(
                            dict(
                                run_id=run_id,
                                step_run_id=step_id,
                                key=key,
                                value=value,
                                step=step,
                                timestamp=began + step,
                            )
                        )
                    # What TrackingStore.write keeps for each key: its last value.
                    latest_rows.append({k: metric_rows[-1][k] for k in LATEST_COLUMNS})
            conn.execute(t.runs.insert(), run_rows)
            conn.execute(t.step_runs.insert(), step_rows)
            conn.execute(t.params.insert(), param_rows)
            conn.execute(t.metrics.insert(), metric_rows)
            conn.execute(t.latest_metrics.insert(), latest_rows)
    return plain


def seed_mlflow(mlflow: Any, db: Path, plain: list[dict[str, Any]], per_run: int) -> None:
    """The same runs in MLflow's SQLite store, through the peer script."""
    spec = db.parent / "runs.json"
    spec.write_text(json.dumps({"runs": plain, "keys": KEYS, "per_run": per_run}))
    mlflow.run_script(str(MLFLOW_SEED), ["--db", str(db), "--spec", str(spec)], timeout=3600)


# -- servers ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_loopline(folder: Path) -> tuple[str, Callable[[], None]]:
    import uvicorn

    from loopline.artifacts import ArtifactStore
    from loopline.registry import Registry
    from loopline.store import Store
    from loopline.ui import create_ui_app

    store = Store(f"sqlite:///{folder / 'loopline.db'}")
    app = create_ui_app(Registry(store, ArtifactStore(folder / "artifacts")))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    _wait(f"{url}/healthz")

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=30)
        store.close()

    return url, stop


def start_mlflow(mlflow: Any, db: Path) -> tuple[str, Callable[[], None]]:
    from _peers import stop as stop_proc

    port = _free_port()
    proc = mlflow.popen(
        [
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{db}",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ]
    )
    url = f"http://127.0.0.1:{port}"
    _wait(f"{url}/health", timeout=180)
    return url, lambda: stop_proc(proc)


def _wait(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {timeout} s")


# -- the pages ----------------------------------------------------------------------------


def loopline_pages(runs: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Page name -> the paths one view requests."""
    run = runs[len(runs) // 2]["id"]
    five = "&".join(f"run={r['id']}" for r in runs[100:105])
    return {
        "runs list (newest 50)": ["/runs"],
        "runs list, status+pipeline filter": ["/runs?status=succeeded&name=training"],
        "runs list, sort by metric": ["/runs?sort=metric:accuracy&order=desc"],
        "runs list, metric filter": ["/runs?metric=accuracy&op=%3E&value=0.9"],
        "runs list, page 150": ["/runs?page=150"],
        "run page": [f"/runs/{run}"],
        "compare 5 runs": [f"/compare?{five}"],
    }


def mlflow_calls(runs: list[dict[str, Any]]) -> dict[str, list[tuple[str, str, Any]]]:
    """The same views as MLflow's UI fetches them: (method, path, JSON body)."""
    run = runs[len(runs) // 2]["id"]
    search = "/api/2.0/mlflow/runs/search"

    def body(**extra: Any) -> dict[str, Any]:
        return {"experiment_ids": ["0"], "max_results": 50, **extra}

    history = [
        ("GET", f"/api/2.0/mlflow/metrics/get-history?run_id={run}&metric_key={k}", None)
        for k in KEYS
    ]
    five = [r["id"] for r in runs[100:105]]
    return {
        "runs list (newest 50)": [("POST", search, body(order_by=["attributes.start_time DESC"]))],
        "runs list, status+pipeline filter": [
            (
                "POST",
                search,
                body(
                    filter="attributes.status = 'FINISHED' and tags.pipeline = 'training'",
                    order_by=["attributes.start_time DESC"],
                ),
            )
        ],
        "runs list, sort by metric": [("POST", search, body(order_by=["metrics.accuracy DESC"]))],
        "runs list, metric filter": [("POST", search, body(filter="metrics.accuracy > 0.9"))],
        "runs list, page 150": [],  # MLflow pages by token only: not comparable
        "run page": [("GET", f"/api/2.0/mlflow/runs/get?run_id={run}", None), *history],
        "compare 5 runs": [("GET", f"/api/2.0/mlflow/runs/get?run_id={r}", None) for r in five],
    }


def time_loopline(client: httpx.Client, paths: list[str]) -> tuple[float, float]:
    """(server ms, round-trip ms) of one view."""
    server = 0.0
    start = time.perf_counter()
    for path in paths:
        answer = client.get(path)
        answer.raise_for_status()
        server += float(answer.headers["server-timing"].split("dur=")[1])
    return server, (time.perf_counter() - start) * 1e3


def time_mlflow(client: httpx.Client, calls: list[tuple[str, str, Any]]) -> float:
    start = time.perf_counter()
    for method, path, body in calls:
        answer = client.request(method, path, json=body)
        answer.raise_for_status()
    return (time.perf_counter() - start) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--metrics-per-run", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--no-mlflow", action="store_true")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="loopline-bench-ui-"))
    rng = random.Random(0)
    try:
        started = time.perf_counter()
        runs = seed_loopline(
            f"sqlite:///{folder / 'loopline.db'}", args.runs, args.metrics_per_run, rng
        )
        seeded = time.perf_counter() - started
        metrics = args.runs * len(KEYS) * max(1, args.metrics_per_run // len(KEYS))
        print(f"seeded {args.runs:,} runs and {metrics:,} metrics in {seeded:.1f} s", flush=True)
        mlflow = None
        stops: list[Callable[[], None]] = []
        url, stop = start_loopline(folder)
        stops.append(stop)
        ml_url = None
        if not args.no_mlflow:
            from _peers import Peer

            mlflow = Peer("mlflow", MLFLOW_REQUIREMENTS).ensure()
            started = time.perf_counter()
            seed_mlflow(mlflow, folder / "mlflow.db", runs, args.metrics_per_run)
            print(f"seeded MLflow in {time.perf_counter() - started:.1f} s", flush=True)
            ml_url, ml_stop = start_mlflow(mlflow, folder / "mlflow.db")
            stops.append(ml_stop)
        pages = loopline_pages(runs)
        calls = mlflow_calls(runs)
        samples: dict[str, dict[str, list[float]]] = {
            name: {"server": [], "round": [], "mlflow": []} for name in pages
        }
        with (
            httpx.Client(base_url=url, timeout=120) as client,
            httpx.Client(base_url=ml_url or url, timeout=120) as ml_client,
        ):
            for name in pages:  # one warm-up each (first queries fill the page cache)
                time_loopline(client, pages[name])
                if ml_url and calls[name]:
                    time_mlflow(ml_client, calls[name])
            for _ in range(args.repeats):
                for name, paths in pages.items():
                    server, round_trip = time_loopline(client, paths)
                    samples[name]["server"].append(server)
                    samples[name]["round"].append(round_trip)
                    if ml_url and calls[name]:
                        samples[name]["mlflow"].append(time_mlflow(ml_client, calls[name]))
        for stop in stops:
            stop()
        rows, results = [], {}
        for name, got in samples.items():
            server, round_trip = median(got["server"]), median(got["round"])
            ml = median(got["mlflow"]) if got["mlflow"] else None
            ratio = ml / round_trip if ml else None
            results[name] = {
                "loopline_server_ms": server,
                "loopline_round_trip_ms": round_trip,
                "mlflow_round_trip_ms": ml,
                "mlflow_over_loopline": ratio,
                "under_target": server < TARGET_MS,
            }
            rows.append(
                [
                    name,
                    server,
                    round_trip,
                    "—" if ml is None else ml,
                    "—" if ratio is None else f"{ratio:.1f}x",
                    "yes" if server < TARGET_MS else "NO",
                ]
            )
        print_table(
            rows,
            [
                "page",
                "server ms",
                "round trip ms",
                "MLflow REST ms",
                "MLflow/Loopline",
                f"< {TARGET_MS:.0f} ms",
            ],
        )
        info = machine_info(("loopline", "sqlalchemy", "fastapi", "uvicorn"))
        if mlflow is not None:
            info["mlflow"] = mlflow.versions().get("mlflow")
        write_json(
            args.json,
            {
                "runs": args.runs,
                "metrics": metrics,
                "repeats": args.repeats,
                "results": results,
                "machine": info,
            },
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
