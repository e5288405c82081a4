"""Serving: the same scikit-learn models behind ``loopline serve`` and ``mlflow models serve``.

    python benchmarks/serving/run.py [--duration 10] [--warmup 3] [--repeats 1]
                                     [--json PATH] [--profile DIR] [--pure-python-http]

What it does, in one run, on loopback only (127.0.0.1):

1. Data: ``make_classification`` (5,000 rows, 20 numeric features, seed 42), one CSV.
2. Two Loopline projects, made the way a user makes them: a ``loopline.toml`` whose
   ``[data]``/``[training]`` sections pin one candidate (``trials = 0``), then the CLI:
   ``loopline run``, ``loopline models approve``, ``loopline models promote``. Models:
   ``LogisticRegression(max_iter=1000)`` and ``RandomForestClassifier(n_estimators=100)``.
3. MLflow (``mlflow==3.*`` in the peer venv ``benchmarks/.peers/mlflow``, see
   ``benchmarks/_peers.py``): the SAME fitted pipelines, read with ``loopline.load_model``
   and handed over with joblib, are saved with ``mlflow.sklearn.save_model`` (signature
   inferred from the data; ``benchmarks/peer_scripts/mlflow_save_sklearn.py``). Its pyfunc
   predictions on 1,000 rows must equal Loopline's, and so must both servers' answers.
4. Servers: ``loopline serve NAME@production --port P`` and ``mlflow models serve -m PATH
   --env-manager local -p P`` (each a subprocess in its own session, with its defaults).
5. Load: wrk (Debian's ``wrk``, one thread) with ``benchmarks/serving/post.lua`` posting
   one JSON row, at concurrency 1 and 32, each for --duration seconds after --warmup
   seconds of discarded warm-up. The body ``{"dataframe_split": ...}`` goes to
   ``/invocations`` of both servers; Loopline's native ``/predict`` gets the same row as
   ``[{...}]``. Reported: requests/s, p50 and p99 latency, non-2xx responses (must be 0),
   the server's CPU use (all its processes) and, for Loopline, rows per model call
   (from its ``/metrics``).
6. In-process reference: ``predict`` on 1,000 rows (rows/s, median of 15), 1-row latencies,
   the service's per-batch call (``predict`` + ``predict_proba``), the cost of validating
   one request body (``loopline.serving.read_payload``), and, for comparison, a sketch
   (not Loopline code) of the same all-numeric check done on one float64 array; it must
   give read_payload's frame.

--profile DIR runs py-spy (in its own venv, ``benchmarks/.peers/pyspy``) on each Loopline
server under concurrency-32 load after the measurements: once with ``--gil`` (who holds
the GIL) and once over all threads, saving the raw collapsed stacks in DIR and a summary
by activity in the JSON. Loopline depends on uvloop and httptools, which uvicorn picks up
by itself (the script records that both are loaded). --pure-python-http adds a second
``loopline serve`` per model, measured in the same rounds, with both hidden (modules on
its PYTHONPATH that raise ImportError), so uvicorn falls back to asyncio and h11: what
the two dependencies bring (docs/decisions/0005).

Every server is stopped in a ``finally`` (SIGTERM to its process group, then SIGKILL),
and the script checks that nothing listens on its ports afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
#: The checkout's code is measured, whatever ``pip install -e`` points at just now: it goes
#: first on sys.path here and on PYTHONPATH of every ``loopline`` subprocess.
SRC = REPO / "src"
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(SRC))

from _common import machine_info, print_table, write_json  # noqa: E402
from _peers import Peer, stop  # noqa: E402

HOST = "127.0.0.1"
MLFLOW_REQUIREMENTS = ["mlflow==3.*"]  # the same string as the other benchmarks: one venv
PYSPY_REQUIREMENTS = ["py-spy"]
PURE_LABEL = "loopline (asyncio+h11)"
ACCELERATORS = ("uvloop", "httptools")
SEED = 42
N_ROWS = 5_000
N_FEATURES = 20
FEATURES = [f"f{i}" for i in range(N_FEATURES)]
TARGET_RATIO = 10.0
TARGET_P99_MS = 100.0
#: What the issue quotes for MLflow 3.17 (wrk, concurrency 32, a 2-core machine).
ISSUE_QUOTES = {
    "lr": {"mlflow_c32_rps": 58, "mlflow_c32_p99_ms": 750, "in_process_rows_per_s": 470_000},
    "rf": {"mlflow_c32_rps": 25, "mlflow_c32_p99_ms": 1700, "in_process_rows_per_s": 26_000},
}
MODELS: dict[str, dict[str, Any]] = {
    "lr": {
        "name": "bench_lr",
        "title": "LogisticRegression",
        "estimator": "sklearn.linear_model.LogisticRegression",
        "params": {"max_iter": 1000},
    },
    "rf": {
        "name": "bench_rf",
        "title": "RandomForest (100 trees)",
        "estimator": "sklearn.ensemble.RandomForestClassifier",
        "params": {"n_estimators": 100},
    },
}


class BenchError(RuntimeError):
    """Something the benchmark needs did not work (the message says what)."""


# -- processes ------------------------------------------------------------------------------


@dataclass
class Server:
    """One server process (its own session and process group)."""

    label: str
    model: str
    kind: str  # "loopline" or "mlflow"
    port: int
    proc: subprocess.Popen[Any]
    log: Path
    ready_path: str
    started: float = field(default_factory=time.perf_counter)
    ready_s: float | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of the live processes in a process group."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[2]) == pgid:
                    pids.append(int(entry.name))
    return sorted(pids)


def stop_group(proc: subprocess.Popen[Any], timeout: float = 15) -> None:
    """Stop a server started in its own session, and wait until its whole group is gone.

    ``stop`` (SIGTERM to the group, SIGKILL after 10 s) waits for the process it started;
    a child (MLflow's uvicorn) may outlive it by a moment, so wait for the group too.
    """
    stop(proc)
    deadline = time.monotonic() + timeout
    while group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if group_alive(proc.pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        time.sleep(0.5)


def http(
    method: str, url: str, body: bytes | None = None, timeout: float = 30
) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=body, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_ready(servers: Sequence[Server], timeout: float) -> None:
    """Poll every server in turn until each answers its readiness path with 200."""
    deadline = time.monotonic() + timeout
    waiting = list(servers)
    while waiting and time.monotonic() < deadline:
        for server in list(waiting):
            if server.proc.poll() is not None:
                raise BenchError(
                    f"{server.label} exited with {server.proc.returncode} before answering:\n"
                    + tail(server.log)
                )
            with contextlib.suppress(OSError):
                status, _ = http("GET", server.url + server.ready_path, timeout=2)
                if status == 200:
                    server.ready_s = time.perf_counter() - server.started
                    waiting.remove(server)
        time.sleep(0.05)
    if waiting:
        raise BenchError(
            f"{', '.join(f'{s.label}/{s.model}' for s in waiting)} did not answer within "
            f"{timeout:.0f} s:\n" + "\n".join(tail(s.log) for s in waiting)
        )


def tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"


def loopline_exe() -> list[str]:
    script = Path(sys.executable).parent / "loopline"
    found = str(script) if script.exists() else shutil.which("loopline")
    return [found] if found else [sys.executable, "-m", "loopline"]


def loopline_env(extra_path: str | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LOOPLINE_TOKEN", "LOOPLINE_ADMIN_TOKEN", "PYTHONPATH")
    }
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), *([extra_path] if extra_path else [])])
    return env


def cli(args: Sequence[str], cwd: Path) -> float:
    """Run a ``loopline`` CLI command in ``cwd``; return its wall time."""
    start = time.perf_counter()
    proc = subprocess.run(
        [*loopline_exe(), *args],
        cwd=cwd,
        env=loopline_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        raise BenchError(
            f"loopline {' '.join(args)} failed ({proc.returncode}):\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return time.perf_counter() - start


# -- setup ----------------------------------------------------------------------------------


def make_data(work: Path) -> Any:
    import pandas as pd
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=N_ROWS, n_features=N_FEATURES, n_informative=10, random_state=SEED
    )
    frame = pd.DataFrame(X, columns=FEATURES)
    frame["label"] = y
    frame.to_csv(work / "data.csv", index=False)
    return frame


def make_project(work: Path, key: str) -> dict[str, Any]:
    """A Loopline project with one pinned candidate; trained, approved and promoted via the CLI."""
    spec = MODELS[key]
    project = work / spec["name"]
    project.mkdir()
    shutil.copy(work / "data.csv", project / "data.csv")
    params = ", ".join(f"{k} = {json.dumps(v)}" for k, v in spec["params"].items())
    (project / "loopline.toml").write_text(
        f"""[project]
name = "{spec["name"]}"

[data]
source = "data.csv"
target = "label"
task = "classification"

[split]
test_size = 0.2
seed = 0

[training]
folds = 2
trials = 0
seed = 0

[[training.candidates]]
name = "{key}"
estimator = "{spec["estimator"]}"
params = {{ {params} }}

[model]
name = "{spec["name"]}"
approval = "manual"
"""
    )
    name = spec["name"]
    timings = {
        "loopline run": cli(["run"], project),
        "loopline models approve": cli(
            ["models", "approve", name, "1", "--reason", "serving benchmark"], project
        ),
        "loopline models promote": cli(
            ["models", "promote", name, "1", "--reason", "serving benchmark"], project
        ),
    }
    return {"project": project, "cli_seconds": timings}


def median_time(function: Callable[[], Any], repeats: int) -> float:
    function()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def in_process(
    project: Path, ref: str, rows: Any, body: bytes, records_body: bytes
) -> dict[str, Any]:
    """The model's own speed in this process, and the cost of validating one request."""
    import numpy as np
    import pandas as pd

    from loopline.artifacts import ArtifactStore
    from loopline.config import load_settings
    from loopline.registry import Registry
    from loopline.serving import read_payload
    from loopline.store import Store

    settings = load_settings(project)
    with Store(settings.store_url) as store:
        package = Registry(store, ArtifactStore(settings.artifacts_url)).load_package(ref)
    model, schema = package.model, package.schema
    X = rows[package.features]
    one, batch32 = X.iloc[:1], X.iloc[:32]

    def service_call(frame: Any) -> Any:  # what the service's batcher runs per batch
        return np.asarray(model.predict(frame)), np.asarray(model.predict_proba(frame))

    # A sketch, NOT Loopline's code: what validating this all-numeric body could cost when
    # done on one float64 array (decode, shape, finiteness, training range, one DataFrame).
    lows = np.array([c.min if c.min is not None else -np.inf for c in schema.columns])
    highs = np.array([c.max if c.max is not None else np.inf for c in schema.columns])
    names = [c.name for c in schema.columns]

    def sketch() -> Any:
        split = json.loads(body)["dataframe_split"]
        order = [split["columns"].index(name) for name in names]
        values = np.asarray(split["data"], dtype=np.float64)[:, order]
        if not np.isfinite(values).all():
            raise ValueError("not finite")
        _outside = (values < lows) | (values > highs)  # would become warnings
        return pd.DataFrame(values, columns=names)

    checked = read_payload(body, schema, format="mlflow").frame[names].to_numpy()
    if not np.array_equal(sketch().to_numpy(), checked):
        raise BenchError("the fast-path sketch does not give read_payload's frame")
    predict_1000 = median_time(lambda: model.predict(X), 15)
    service_1000 = median_time(lambda: service_call(X), 15)
    return {
        "features": package.features,
        "predict_1000_rows_per_s": len(X) / predict_1000,
        "predict_and_proba_1000_rows_per_s": len(X) / service_1000,
        "predict_1_row_ms": median_time(lambda: model.predict(one), 50) * 1000,
        "predict_and_proba_1_row_ms": median_time(lambda: service_call(one), 50) * 1000,
        "predict_and_proba_32_rows_ms": median_time(lambda: service_call(batch32), 30) * 1000,
        "read_payload_invocations_body_ms": median_time(
            lambda: read_payload(body, schema, format="mlflow"), 200
        )
        * 1000,
        "read_payload_predict_body_ms": median_time(
            lambda: read_payload(records_body, schema, format="loopline"), 200
        )
        * 1000,
        "sketch_numeric_fast_path_ms": median_time(sketch, 200) * 1000,
        "predictions": [int(v) for v in model.predict(X)],
        "model": model,
    }


# -- load -----------------------------------------------------------------------------------


def wrk_version() -> str:
    exe = shutil.which("wrk")
    if exe is None:
        raise BenchError(
            "wrk is not installed. Install it with: apt-get update && apt-get install -y wrk"
        )
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True)
    return (proc.stdout + proc.stderr).splitlines()[0].strip()


def run_wrk(url: str, body_file: Path, concurrency: int, seconds: float) -> dict[str, Any]:
    cmd = [
        "wrk",
        "-t1",
        f"-c{concurrency}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(HERE / "post.lua"),
        url,
    ]
    env = {**os.environ, "BODY_FILE": str(body_file)}
    before = os.times()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
    after = os.times()
    line = next((line for line in proc.stdout.splitlines() if line.startswith("WRK_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise BenchError(f"wrk failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    result: dict[str, Any] = json.loads(line[len("WRK_JSON ") :])
    result["wrk_cpu_s"] = (after.children_user + after.children_system) - (
        before.children_user + before.children_system
    )
    return result


def batch_stats(server: Server) -> tuple[float, float] | None:
    """(sum of rows, number of model calls) from Loopline's /metrics."""
    try:
        status, text = http("GET", server.url + "/metrics", timeout=10)
    except OSError:
        return None
    if status != 200:
        return None
    found: dict[str, float] = {}
    for line in text.decode().splitlines():
        for key in ("loopline_batch_rows_sum", "loopline_batch_rows_count"):
            if line.startswith(key + " "):
                found[key] = float(line.split()[1])
    if len(found) != 2:
        return None
    return found["loopline_batch_rows_sum"], found["loopline_batch_rows_count"]


def measure(
    server: Server, path: str, body_file: Path, concurrency: int, duration: float, warmup: float
) -> dict[str, Any]:
    url = server.url + path
    if warmup > 0:
        run_wrk(url, body_file, concurrency, warmup)
    batches0 = batch_stats(server) if server.kind.startswith("loopline") else None
    cpu0 = group_cpu_seconds(server.proc.pid)
    load0 = os.getloadavg()[0]
    result = run_wrk(url, body_file, concurrency, duration)
    cpu1 = group_cpu_seconds(server.proc.pid)
    batches1 = batch_stats(server) if server.kind.startswith("loopline") else None
    seconds = result["duration_us"] / 1e6
    row: dict[str, Any] = {
        "model": server.model,
        "server": server.label,
        "endpoint": path,
        "concurrency": concurrency,
        "requests": result["requests"],
        "seconds": seconds,
        "rps": result["requests"] / seconds,
        "p50_ms": result["p50_us"] / 1000,
        "p90_ms": result["p90_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "max_ms": result["max_us"] / 1000,
        "non2xx": result["non2xx"],
        "socket_errors": result["connect_errors"]
        + result["read_errors"]
        + result["write_errors"]
        + result["timeouts"],
        "server_cpu_pct": 100 * (cpu1 - cpu0) / seconds,
        "wrk_cpu_pct": 100 * result["wrk_cpu_s"] / seconds,
        "loadavg_1m_before": load0,
        "wrk": result,
    }
    if batches0 and batches1 and batches1[1] > batches0[1]:
        row["model_calls"] = batches1[1] - batches0[1]
        row["rows_per_model_call"] = (batches1[0] - batches0[0]) / (batches1[1] - batches0[1])
    return row


# -- profile --------------------------------------------------------------------------------

#: Event-loop thread: the first rule whose text appears in a sample's stack names it.
MAIN_RULES = [
    ("parse_json_body", "read_payload: JSON decode"),
    ("body_to_frame", "read_payload: body to DataFrame"),
    ("check_frame", "read_payload: schema validation (check_frame)"),
    ("read_payload", "read_payload: other"),
    ("PredictionService._log", "request log append"),
    ("prometheus_client", "Prometheus metrics"),
    ("MicroBatcher", "micro-batcher (event-loop side)"),
    ("_plain", "response: build body"),
    ("JSONResponse", "response: render JSON"),
    ("Response.__call__", "response: send (h11/httptools write)"),
    ("_read_body", "request: read body"),
    ("create_app.<locals>", "endpoint: other"),
    ("run_asgi", "FastAPI/Starlette routing and middleware"),
    ("h11_impl", "uvicorn h11: parse request, protocol"),
    ("httptools_impl", "uvicorn httptools: parse request, protocol"),
    ("", "event loop: other (select, callbacks, tasks)"),
]
PREDICT_RULES = [
    ("concat", "batch: pandas concat"),
    ("predict_proba", "model: predict_proba"),
    ("LoadedModel.predict", "model: predict"),
    ("_predict_batch", "batch: other"),
    ("", "predict thread: idle/queue"),
]


def _thread_kind(head: str) -> str:
    name = re.sub(r"\(\d+\)", "", head).replace("thread", "").strip(" :")
    if "MainThread" in name:
        return "event loop (main thread)"
    if "predict" in name:
        return "predict thread"
    if "request-log" in name:
        return "request-log writer thread"
    if "asyncio" in name:
        return "asyncio.to_thread workers (registry polling)"
    return name or "other"


def summarize_profile(path: Path) -> dict[str, Any]:
    """Samples by thread, and by activity within the event loop and predict threads."""
    threads: Counter[str] = Counter()
    activity: dict[str, Counter[str]] = defaultdict(Counter)
    top_self: Counter[str] = Counter()
    check_frame: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        kind = _thread_kind(frames[0])
        threads[kind] += n
        total += n
        text = ";".join(frames[1:])
        rules = (
            MAIN_RULES
            if kind.startswith("event loop")
            else PREDICT_RULES
            if kind == "predict thread"
            else [("", kind)]
        )
        label = next(name for needle, name in rules if needle in text)
        activity[kind][label] += n
        if len(frames) > 1:
            top_self[re.sub(r":\d+\)$", ")", frames[-1])] += n
        names = [frame.split(" (", 1)[0] for frame in frames]
        if "check_frame" in names:  # what check_frame spends its time on
            at = names.index("check_frame")
            line_no = re.search(r":(\d+)\)$", frames[at])
            callee = names[at + 1] if at + 1 < len(names) else "(its own code)"
            where = f"check_frame:{line_no.group(1) if line_no else '?'} -> {callee}"
            check_frame[where] += n
    return {
        "samples": total,
        "threads": dict(threads.most_common()),
        "activity": {k: dict(v.most_common()) for k, v in activity.items()},
        "top_self": dict(top_self.most_common(15)),
        "check_frame": dict(check_frame.most_common(8)),
    }


def profile_server(
    server: Server, body_file: Path, out: Path, seconds: float, warmup: float, rate: int
) -> dict[str, Any]:
    spy = str(Peer("pyspy", PYSPY_REQUIREMENTS).ensure().dir / "bin" / "py-spy")
    out.mkdir(parents=True, exist_ok=True)
    total = warmup + 2 * seconds + 4
    env = {**os.environ, "BODY_FILE": str(body_file)}
    load = subprocess.Popen(
        ["wrk", "-t1", "-c32", f"-d{round(total)}s", "--timeout", "10s", "-s",
         str(HERE / "post.lua"), server.url + "/invocations"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    results: dict[str, Any] = {}
    try:
        time.sleep(warmup)
        for mode, extra in (("gil", ["--gil"]), ("threads", [])):
            path = out / f"{server.model}_{server.label}_{mode}.txt"
            proc = subprocess.run(
                [spy, "record", "-f", "raw", "-r", str(rate), "-d", str(round(seconds)),
                 "-o", str(path), "--pid", str(server.proc.pid), "--threads", *extra],
                capture_output=True, text=True, timeout=seconds + 60,
            )  # fmt: skip
            if proc.returncode != 0 or not path.exists():
                raise BenchError(f"py-spy failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
            summary = summarize_profile(path)
            summary["file"] = str(path)
            summary["seconds"] = seconds
            summary["rate_hz"] = rate
            results[mode] = summary
    finally:
        load.wait(timeout=total + 60)
    return results


# -- reporting ------------------------------------------------------------------------------


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Median over repeats of each (model, server, endpoint, concurrency)."""
    groups: dict[tuple[str, str, str, int], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["model"], row["server"], row["endpoint"], row["concurrency"])].append(row)
    out = []
    for (model, server, endpoint, c), items in groups.items():
        entry: dict[str, Any] = {
            "model": model,
            "server": server,
            "endpoint": endpoint,
            "concurrency": c,
            "repeats": len(items),
            "non2xx": sum(i["non2xx"] for i in items),
            "socket_errors": sum(i["socket_errors"] for i in items),
            "requests": sum(i["requests"] for i in items),
        }
        for key in ("rps", "p50_ms", "p99_ms", "server_cpu_pct", "wrk_cpu_pct"):
            entry[key] = statistics.median(i[key] for i in items)
        entry["rps_range"] = [min(i["rps"] for i in items), max(i["rps"] for i in items)]
        calls = [i["rows_per_model_call"] for i in items if "rows_per_model_call" in i]
        if calls:
            entry["rows_per_model_call"] = statistics.median(calls)
        out.append(entry)
    return out


def ratios(summary: list[dict[str, Any]], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Loopline / MLflow throughput: the median of the ratios within each repeat."""
    index = {(s["model"], s["server"], s["endpoint"], s["concurrency"]): s for s in summary}
    rps = {
        (r["model"], r["server"], r["endpoint"], r["concurrency"], r["repeat"]): r["rps"]
        for r in rows
    }
    repeats = sorted({r["repeat"] for r in rows})
    out = []
    for (model, server, _endpoint, c), entry in index.items():
        if server != "mlflow":
            continue
        for (m, ours, our_endpoint, cc), mine in index.items():
            if m != model or cc != c or ours == "mlflow":
                continue
            per_repeat = [
                rps[(model, ours, our_endpoint, c, r)]
                / rps[(model, "mlflow", "/invocations", c, r)]
                for r in repeats
                if (model, ours, our_endpoint, c, r) in rps
                and rps.get((model, "mlflow", "/invocations", c, r))
            ]
            ratio = statistics.median(per_repeat) if per_repeat else float("nan")
            out.append(
                {
                    "model": model,
                    "concurrency": c,
                    "loopline_server": ours,
                    "loopline_endpoint": our_endpoint,
                    "loopline_rps": mine["rps"],
                    "mlflow_rps": entry["rps"],
                    "ratio": ratio,
                    "ratio_per_repeat": per_repeat,
                    "loopline_p99_ms": mine["p99_ms"],
                    "mlflow_p99_ms": entry["p99_ms"],
                    "target_met": (ratio >= TARGET_RATIO and mine["p99_ms"] < TARGET_P99_MS)
                    if c == 32
                    else None,
                }
            )
    return sorted(
        out,
        key=lambda r: (r["model"], r["concurrency"], r["loopline_server"], r["loopline_endpoint"]),
    )


def print_profile(model: str, result: dict[str, Any]) -> None:
    titles = {
        "gil": "--gil: who holds the GIL; % of wall = share of the time",
        "threads": "all threads; event loop only: py-spy counts the lock waits of idle worker "
        "threads as active, but not the event loop's idle select()",
    }
    for mode, title in titles.items():
        summary = result.get(mode)
        if not summary:
            continue
        total = summary["samples"] or 1
        possible = summary["seconds"] * summary["rate_hz"]
        print(f"\n{model}: py-spy {title}")
        rows = []
        for thread, n in summary["threads"].items():
            if mode == "threads" and not thread.startswith("event loop"):
                continue
            rows.append([thread, "", n, 100 * n / total, 100 * n / possible])
            for label, k in summary["activity"].get(thread, {}).items():
                rows.append(["", label, k, 100 * k / total, 100 * k / possible])
        print_table(rows, ["thread", "activity", "samples", "% of samples", "% of wall"])
        if mode == "gil" and summary.get("check_frame"):
            print("  inside check_frame (source line -> callee):")
            for where, n in summary["check_frame"].items():
                print(f"    {100 * n / possible:5.1f}% of wall  {where}")


# -- main -----------------------------------------------------------------------------------


def _git(*args: str) -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        proc = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=30)
        return proc.stdout.strip()
    return ""


def _raise_exit(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def main() -> None:  # noqa: C901, PLR0912, PLR0915 - one linear script
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds measured per run")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of warm-up per run")
    parser.add_argument("--repeats", type=int, default=1, help="measurements per setting")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=["lr", "rf"])
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--profile", metavar="DIR", help="py-spy each Loopline server into DIR")
    parser.add_argument("--profile-seconds", type=float, default=8)
    parser.add_argument(
        "--pure-python-http",
        action="store_true",
        help="also measure Loopline with uvloop and httptools hidden (asyncio and h11)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _raise_exit)
    signal.signal(signal.SIGHUP, _raise_exit)

    import joblib

    started = time.time()
    results: dict[str, Any] = {
        "command": "python benchmarks/serving/run.py " + " ".join(sys.argv[1:]),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": machine_info(
            (
                "loopline",
                "scikit-learn",
                "pandas",
                "numpy",
                "fastapi",
                "starlette",
                "uvicorn",
                "pydantic",
                "uvloop",
                "httptools",
            )
        ),  # fmt: skip
        "loadavg_start": os.getloadavg(),
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "repeats": args.repeats,
            "concurrency": args.concurrency,
            "load_generator": "wrk -t1 --timeout 10s -s benchmarks/serving/post.lua",
            "rows": N_ROWS,
            "features": N_FEATURES,
            "seed": SEED,
        },
        "issue_quotes": ISSUE_QUOTES,
    }
    results["wrk"] = wrk_version()
    import loopline

    results["loopline_source"] = str(Path(loopline.__file__).parent)
    results["git"] = {
        "commit": _git("rev-parse", "--short", "HEAD"),
        "uncommitted_in_src": _git("status", "--porcelain", "--", "src").splitlines(),
    }
    mlflow = Peer("mlflow", MLFLOW_REQUIREMENTS)
    print("[serving] MLflow peer venv ...", flush=True)
    mlflow.ensure()
    results["mlflow_peer"] = mlflow.versions(["mlflow", "scikit-learn", "pandas", "uvicorn"])

    work = Path(tempfile.mkdtemp(prefix="loopline-serving-bench-"))
    servers: list[Server] = []
    ports: list[int] = []
    try:
        frame = make_data(work)
        rows = frame[FEATURES].iloc[:1000].reset_index(drop=True)
        rows.to_parquet(work / "rows.parquet")
        first = {name: float(frame[name].iloc[0]) for name in FEATURES}
        invocations_body = json.dumps(
            {"dataframe_split": {"columns": FEATURES, "data": [[first[n] for n in FEATURES]]}}
        ).encode()
        predict_body = json.dumps([first]).encode()
        (work / "invocations.json").write_bytes(invocations_body)
        (work / "predict.json").write_bytes(predict_body)
        bodies = {"/invocations": work / "invocations.json", "/predict": work / "predict.json"}

        models: dict[str, dict[str, Any]] = {}
        for key in args.models:
            spec = MODELS[key]
            print(f"[serving] {key}: loopline run / approve / promote ...", flush=True)
            made = make_project(work, key)
            ref = f"{spec['name']}@production"
            measured = in_process(made["project"], ref, rows, invocations_body, predict_body)
            model = measured.pop("model")
            joblib.dump(model, work / f"{key}.joblib")
            print(f"[serving] {key}: mlflow.sklearn.save_model in the peer ...", flush=True)
            saved = mlflow.run_script(
                HERE.parent / "peer_scripts" / "mlflow_save_sklearn.py",
                ["--pickle", str(work / f"{key}.joblib"), "--rows", str(work / "rows.parquet"),
                 "--out", str(work / f"mlflow_{key}")],
                timeout=900,
            )  # fmt: skip
            ours = measured.pop("predictions")
            identical = saved.pop("pyfunc_predictions") == ours == saved.pop("sklearn_predictions")
            if not identical:
                raise BenchError(f"{key}: MLflow's pyfunc predictions differ from Loopline's")
            models[key] = {
                "estimator": spec["estimator"],
                "params": spec["params"],
                "ref": ref,
                "cli_seconds": made["cli_seconds"],
                "in_process": measured,
                "mlflow_save": saved,
                "identical_predictions_in_process_1000_rows": identical,
                "predictions": ours,
                "project": made["project"],
            }
        results["models"] = {
            k: {kk: vv for kk, vv in v.items() if kk not in ("predictions", "project")}
            for k, v in models.items()
        }

        # -- servers (all started at once; MLflow's take 10-12 s to answer) ----------------
        mlflow_env = {
            "PATH": f"{mlflow.dir / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "true",
        }

        def start_loopline(key: str, label: str = "loopline", extra: str | None = None) -> Server:
            port = free_port()
            ports.append(port)
            log = work / f"{label}_{key}.log"
            with open(log, "wb") as handle:
                proc = subprocess.Popen(
                    [*loopline_exe(), "serve", models[key]["ref"], "--host", HOST,
                     "--port", str(port)],
                    cwd=models[key]["project"], env=loopline_env(extra), stdout=handle,
                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                )  # fmt: skip
            server = Server(label, key, "loopline", port, proc, log, "/readyz")
            servers.append(server)
            return server

        def start_mlflow(key: str) -> Server:
            port = free_port()
            ports.append(port)
            log = work / f"mlflow_{key}.log"
            with open(log, "wb") as handle:
                proc = mlflow.popen(
                    ["-m", "mlflow", "models", "serve", "-m", str(work / f"mlflow_{key}"),
                     "--env-manager", "local", "-h", HOST, "-p", str(port)],
                    env=mlflow_env, cwd=work, stdout=handle, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )  # fmt: skip
            server = Server("mlflow", key, "mlflow", port, proc, log, "/ping")
            servers.append(server)
            return server

        print("[serving] starting the servers ...", flush=True)
        by_key: dict[tuple[str, str], Server] = {}
        hidden = None
        if args.pure_python_http:
            hidden = work / "hide-accelerators"
            for name in ACCELERATORS:
                (hidden / name).mkdir(parents=True)
                (hidden / name / "__init__.py").write_text(
                    f"raise ImportError('{name} hidden by benchmarks/serving/run.py')\n"
                )
        for key in args.models:
            by_key[(key, "loopline")] = start_loopline(key)
            if hidden:
                by_key[(key, PURE_LABEL)] = start_loopline(key, PURE_LABEL, str(hidden))
            by_key[(key, "mlflow")] = start_mlflow(key)
        wait_ready(servers, 300)
        # uvicorn picks uvloop and httptools when it can import them: say which did.
        results["accelerators_loaded"] = {}
        for (key, label), server in by_key.items():
            if label != "mlflow":
                maps = Path(f"/proc/{server.proc.pid}/maps").read_text()
                loaded = {name: name in maps for name in ACCELERATORS}
                results["accelerators_loaded"][f"{label}/{key}"] = loaded
                if any(loaded.values()) == (label == PURE_LABEL):
                    raise BenchError(f"{label}/{key}: unexpected accelerators {loaded}")
        results["ready_seconds"] = {
            f"{s.label}/{s.model}": round(s.ready_s or 0, 2) for s in servers
        }
        results["server_processes"] = {
            f"{s.label}/{s.model}": [
                Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ").strip()
                for pid in group_pids(s.proc.pid)
            ]
            for s in servers
        }

        # -- the servers answer what the model answers ------------------------------------
        check_rows = rows.iloc[:200]
        split = json.dumps(
            {"dataframe_split": {"columns": FEATURES, "data": check_rows.values.tolist()}}
        ).encode()
        records = check_rows.to_json(orient="records").encode()
        checks = {}
        for (key, kind), server in by_key.items():
            expected = models[key]["predictions"][:200]
            targets = [("/invocations", split)]
            if kind != "mlflow":
                targets.append(("/predict", records))
            for path, payload in targets:
                status, answer = http("POST", server.url + path, payload)
                got = json.loads(answer).get("predictions") if status == 200 else None
                if got != expected:
                    raise BenchError(
                        f"{server.label} {path} for {key} answered {status} with predictions "
                        f"that differ from the model's: {answer[:300]!r}"
                    )
                checks[f"{server.label}/{key}{path}"] = "200, predictions identical (200 rows)"
        results["http_checks"] = checks

        # -- load --------------------------------------------------------------------------
        plan = []
        for key in args.models:
            for c in args.concurrency:
                plan += [
                    (by_key[(key, "loopline")], "/invocations", c),
                    (by_key[(key, "loopline")], "/predict", c),
                ]
                if (key, PURE_LABEL) in by_key:
                    plan += [
                        (by_key[(key, PURE_LABEL)], "/invocations", c),
                        (by_key[(key, PURE_LABEL)], "/predict", c),
                    ]
                plan.append((by_key[(key, "mlflow")], "/invocations", c))
        load_rows = []
        for repeat in range(args.repeats):
            for server, path, c in plan:
                print(
                    f"[serving] repeat {repeat + 1}/{args.repeats}: {server.model} "
                    f"{server.label} {path} c={c} ...",
                    flush=True,
                )
                row = measure(server, path, bodies[path], c, args.duration, args.warmup)
                row["repeat"] = repeat
                load_rows.append(row)
                print(
                    f"           {row['rps']:.1f} req/s, p50 {row['p50_ms']:.1f} ms, "
                    f"p99 {row['p99_ms']:.1f} ms, non-2xx {row['non2xx']}, "
                    f"server CPU {row['server_cpu_pct']:.0f}%",
                    flush=True,
                )
        results["load"] = load_rows
        results["summary"] = summarize(load_rows)
        results["ratios"] = ratios(results["summary"], load_rows)

        # -- profile -----------------------------------------------------------------------
        if args.profile:
            results["profile"] = {}
            for key in args.models:
                print(f"[serving] py-spy on loopline/{key} under c=32 ...", flush=True)
                results["profile"][key] = profile_server(
                    by_key[(key, "loopline")],
                    bodies["/invocations"],
                    Path(args.profile),
                    args.profile_seconds,
                    args.warmup,
                    200,
                )

    finally:
        for server in servers:
            stop_group(server.proc)
        results["cleanup"] = {
            "listening_after": [p for p in ports if listening(p)],
            "process_groups_alive_after": [s.proc.pid for s in servers if group_alive(s.proc.pid)],
        }
        if args.keep:
            print(f"[serving] kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    results["seconds"] = time.time() - started
    results["loadavg_end"] = os.getloadavg()
    report(results)
    write_json(args.json, results)
    if results["cleanup"]["listening_after"] or results["cleanup"]["process_groups_alive_after"]:
        raise SystemExit(f"servers left behind: {results['cleanup']}")


def _span(values: Sequence[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}" if values else ""


def report(results: dict[str, Any]) -> None:
    print("\nIn-process (this interpreter; the pipeline loopline.load_model returns)")
    rows = []
    for key, model in results["models"].items():
        ip, saved = model["in_process"], model["mlflow_save"]
        rows.append(
            [key, ip["predict_1000_rows_per_s"], saved["pyfunc_rows_per_s"],
             ip["predict_and_proba_1000_rows_per_s"], ip["predict_1_row_ms"],
             ip["predict_and_proba_1_row_ms"], ip["predict_and_proba_32_rows_ms"],
             ip["read_payload_invocations_body_ms"], ip["read_payload_predict_body_ms"],
             ip["sketch_numeric_fast_path_ms"]]
        )  # fmt: skip
    print_table(
        rows,
        ["model", "predict 1k rows/s", "MLflow pyfunc 1k rows/s", "predict+proba 1k rows/s",
         "predict 1 row ms", "predict+proba 1 row ms", "predict+proba 32 rows ms",
         "read_payload /invocations ms", "read_payload /predict ms", "sketch fast path ms"],
    )  # fmt: skip
    print("\nLoad (wrk, one JSON row per request; medians over repeats)")
    summary = sorted(
        results["summary"],
        key=lambda s: (s["model"], s["concurrency"], s["server"], s["endpoint"]),
    )
    print_table(
        [
            [s["model"], s["server"], s["endpoint"], s["concurrency"], s["rps"], s["p50_ms"],
             s["p99_ms"], s["non2xx"] + s["socket_errors"], s["server_cpu_pct"],
             s.get("rows_per_model_call", "")]
            for s in summary
        ],  # fmt: skip
        ["model", "server", "endpoint", "c", "req/s", "p50 ms", "p99 ms", "non-2xx+errors",
         "server CPU %", "rows/model call"],
    )  # fmt: skip
    print(f"\nRatios (Loopline / MLflow throughput); target at c=32: >= {TARGET_RATIO:.0f}x "
          f"and p99 < {TARGET_P99_MS:.0f} ms")  # fmt: skip
    print_table(
        [
            [r["model"], r["concurrency"], r["loopline_server"], r["loopline_endpoint"], r["ratio"],
             _span(r["ratio_per_repeat"]), r["loopline_p99_ms"], r["mlflow_p99_ms"],
             {None: "", True: "met", False: "MISSED"}[r["target_met"]]]
            for r in results["ratios"]
        ],  # fmt: skip
        ["model", "c", "Loopline server", "endpoint", "ratio (median)", "per repeat",
         "Loopline p99 ms", "MLflow p99 ms", "target"],
    )  # fmt: skip
    for key, result in results.get("profile", {}).items():
        print_profile(key, result)
    print(f"\nready after start, all servers starting together (s): {results['ready_seconds']}")
    print(f"loopline code: {results['loopline_source']} at {results['git']}")
    print(f"cleanup: {json.dumps(results['cleanup'])}")


if __name__ == "__main__":
    main()
