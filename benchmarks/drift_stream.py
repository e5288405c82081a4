"""Benchmark: does the loop, with the settings ``loopline init`` writes, win on drift streams?

Run::

    python benchmarks/drift_stream.py [--streams sea stagger] [--batches 40] [--batch-size 500]
                                      [--history 2000] [--json PATH]

Streams (labelled, generated here with fixed seeds by the generators of the stream-learning
literature, as in MOA and river):

* ``sea``: SEA concepts (Street & Kim, KDD 2001). Three features uniform on [0, 10]; the
  label is ``x1 + x2 <= theta``, with 10% of labels flipped; theta moves 8 → 9 → 7 → 9.5 at
  the drift points (abrupt concept drift: the features do not change at all).
* ``stagger``: STAGGER concepts (Schlimmer & Granger, 1986). Three categorical features
  (size, colour, shape); the label is ``size = small and colour = red``, then ``colour =
  green or shape = circle``, then ``size in {medium, large}`` (abrupt concept drift).
* ``hyperplane``: a rotating hyperplane (Hulten, Spencer & Domingos, KDD 2001), 10 features
  uniform on [0, 1], label ``w . x >= sum(w) / 2`` with 5% noise; the weights jump to a new
  random direction at each drift point.

A user's loop, through the CLI and HTTP only: the history (``--history`` rows of the first
concept) is the training source; ``loopline init --data history.csv --target y``, then
``approval = "auto"`` (the one change the issue allows); ``loopline watch --once`` trains
and promotes the first model; ``loopline serve NAME@production --canary NAME@staging`` in
the background. Then each batch of ``--batch-size`` rows: ``POST /predict`` requests of
``--rows-per-request`` rows (the answers are what the user got; the server sends a request
to the canary or the champion as a whole), one ``POST /feedback`` with the batch's labels, and
``loopline watch --once --json`` (its events say what the controller did). Drifts start at
batches ``B/4``, ``B/2`` and ``3B/4`` of ``B = --batches``.

Baselines, computed in the same run on the same batches with the estimator the loop chose
first (a clone of the first production model's scikit-learn pipeline): a static model (the
history only), retraining every batch on all data so far, and retraining every batch on a
sliding window of the latest ``--sliding`` rows.

Reported per stream: accuracy on each concept's batches (before / after each drift), fits,
the detection delay in batches (the first batch whose check fired a trigger, counted from
the drift's first batch: 1 = the check right after it), and false alarms (triggers on a
stretch that had settled: the first concept's batches, or a concept's batches from the 5th
on). A refit because the data since a change point grew (``grown``) counts as a fit, not as
an alarm.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BENCH_DIR, machine_info  # noqa: E402

# -- the streams ----------------------------------------------------------------------------


def sea(n: int, concept: int, rng: np.random.Generator) -> pd.DataFrame:
    """SEA concepts: theta per concept, 10% label noise."""
    theta = [8.0, 9.0, 7.0, 9.5][concept % 4]
    x = rng.uniform(0, 10, size=(n, 3))
    y = (x[:, 0] + x[:, 1] <= theta).astype(int)
    flip = rng.random(n) < 0.10
    y[flip] = 1 - y[flip]
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "x3": x[:, 2], "y": y})


def stagger(n: int, concept: int, rng: np.random.Generator) -> pd.DataFrame:
    """STAGGER concepts, in the order of the original paper."""
    size = rng.choice(["small", "medium", "large"], n)
    colour = rng.choice(["red", "green", "blue"], n)
    shape = rng.choice(["square", "circle", "triangle"], n)
    rule = concept % 3
    if rule == 0:
        y = (size == "small") & (colour == "red")
    elif rule == 1:
        y = (colour == "green") | (shape == "circle")
    else:
        y = (size == "medium") | (size == "large")
    return pd.DataFrame({"size": size, "colour": colour, "shape": shape, "y": y.astype(int)})


_PLANES: dict[int, np.ndarray] = {}


def hyperplane(n: int, concept: int, rng: np.random.Generator) -> pd.DataFrame:
    """A hyperplane whose direction jumps at each concept, 5% label noise."""
    if concept not in _PLANES:
        _PLANES[concept] = np.random.default_rng(100 + concept).uniform(0, 1, 10)
    w = _PLANES[concept]
    x = rng.uniform(0, 1, size=(n, 10))
    y = (x @ w >= w.sum() / 2).astype(int)
    flip = rng.random(n) < 0.05
    y[flip] = 1 - y[flip]
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(10)])
    frame["y"] = y
    return frame


STREAMS = {"sea": sea, "stagger": stagger, "hyperplane": hyperplane}


def concept_of(batch: int, batches: int) -> int:
    return sum(batch >= d for d in drift_points(batches))


def drift_points(batches: int) -> list[int]:
    return [batches // 4, batches // 2, 3 * batches // 4]


# -- the user's side ------------------------------------------------------------------------


def cli(folder: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPLINE_")}
    done = subprocess.run(
        [sys.executable, "-m", "loopline", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"loopline {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def watch_once(folder: Path) -> list[dict[str, Any]]:
    """One check; a check that failed (exit 1, e.g. an infra validation that timed out on a
    loaded machine) is recorded as a ``check.failed`` event and the stream goes on, as a
    cron job would run again at the next batch."""
    done = cli(folder, "watch", "--once", "--json", check=False)
    if done.returncode != 0:
        print(f"  watch --once failed: {done.stderr.strip()[-300:]}", flush=True)
        return [{"kind": "check.failed", "reason": done.stderr.strip()[-300:]}]
    return [{"kind": e["kind"], "reason": e["reason"]} for e in json.loads(done.stdout)["events"]]


def run_loop(
    name: str,
    history: pd.DataFrame,
    batches: list[pd.DataFrame],
    folder: Path,
    rows_per_request: int,
    trials: int | None = None,
) -> dict[str, Any]:
    import httpx

    history.to_csv(folder / "history.csv", index=False)
    cli(folder, "init", "--name", name, "--data", "history.csv", "--target", "y")
    toml = folder / "loopline.toml"
    text = toml.read_text().replace('approval = "manual"', 'approval = "auto"')
    if trials is not None:  # only to fit the run into a busy machine's time; reported
        text = re.sub(r"(?m)^trials = \d+", f"trials = {trials}", text)
    toml.write_text(text)
    kinds = [e["kind"] for e in watch_once(folder)]
    if "alias.moved" not in kinds:  # registered, but its promotion failed: as a user would
        cli(folder, "models", "promote", name, "1")
    port = free_port()
    log = open(folder / "serve.log", "w")  # noqa: SIM115 - closed below
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPLINE_")}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "loopline",
            "serve",
            f"{name}@production",
            "--port",
            str(port),
            "--canary",
            f"{name}@staging",
            "--poll-interval",
            "1",
        ],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    served: list[dict[str, Any]] = []
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            for _ in range(300):
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            features = [c for c in history.columns if c != "y"]
            for number, batch in enumerate(batches):
                ids, predictions, versions = [], [], []
                records = batch[features].to_dict(orient="records")
                for start in range(0, len(records), rows_per_request):
                    chunk = records[start : start + rows_per_request]
                    answer = client.post("/predict", json=chunk).json()
                    ids += [(answer["request_id"], row) for row in range(len(chunk))]
                    predictions += answer["predictions"]
                    versions.append(answer["version"])
                labels = [
                    {"request_id": i, "row": row, "label": int(y)}
                    for (i, row), y in zip(ids, batch["y"], strict=True)
                ]
                accepted = client.post("/feedback", json=labels).json()["accepted"]
                assert accepted == len(labels), accepted
                made = watch_once(folder)
                kinds = [e["kind"] for e in made]
                alarms = [
                    e["reason"]
                    for e in made
                    if e["kind"] == "trigger.fired" and e["reason"].startswith(("drift", "decay"))
                ]
                accuracy = float(np.mean(np.array(predictions) == batch["y"].to_numpy()))
                served.append(
                    {
                        "batch": number,
                        "accuracy": accuracy,
                        "events": kinds,
                        "alarms": alarms,
                        "versions": sorted(set(versions)),
                    }
                )
                events = [k for k in kinds if k != "monitoring.window"]
                print(
                    f"  {name} batch {number:>2}: accuracy {accuracy:.3f} versions "
                    f"{sorted(set(versions))} events {events}",
                    flush=True,
                )
                if any(k in ("alias.moved", "alias.removed") for k in kinds):
                    time.sleep(2.5)  # the server follows alias moves every second
    finally:
        server.terminate()
        server.wait(30)
        log.close()
    return {"batches": served}


# -- baselines ------------------------------------------------------------------------------


def baselines(
    folder: Path, name: str, history: pd.DataFrame, batches: list[pd.DataFrame], sliding: int
) -> dict[str, list[float]]:
    from sklearn.base import clone

    from loopline.artifacts import ArtifactStore
    from loopline.registry import Registry
    from loopline.store import Store

    with Store(f"sqlite:///{folder / '.loopline' / 'loopline.db'}") as store:
        registry = Registry(store, ArtifactStore(str(folder / ".loopline" / "artifacts")))
        package = registry.load_package(f"{name}/1")
    features = list(package.features)
    static = package.model
    seen = history
    out: dict[str, list[float]] = {"static": [], "every_batch_all": [], "every_batch_sliding": []}
    every_all = clone(static).fit(history[features], history["y"])
    every_sliding = clone(static).fit(history[features].tail(sliding), history["y"].tail(sliding))
    for batch in batches:
        for key, model in (
            ("static", static),
            ("every_batch_all", every_all),
            ("every_batch_sliding", every_sliding),
        ):
            out[key].append(float(np.mean(model.predict(batch[features]) == batch["y"].to_numpy())))
        seen = pd.concat([seen, batch], ignore_index=True)
        every_all = clone(static).fit(seen[features], seen["y"])
        window = seen.tail(sliding)
        every_sliding = clone(static).fit(window[features], window["y"])
    return out


# -- summary --------------------------------------------------------------------------------


def summarise(
    loop: dict[str, Any], base: dict[str, list[float]], n: int, upto: int | None = None
) -> dict[str, Any]:
    drifts = [d for d in drift_points(n) if upto is None or d < upto]
    n = n if upto is None else upto
    edges = [0, *drifts, n]
    segments = [(edges[i], edges[i + 1]) for i in range(len(edges) - 1)]
    acc = {"loop": [b["accuracy"] for b in loop["batches"]], **base}

    def mean(values: list[float], lo: int, hi: int) -> float:
        return float(np.mean(values[lo:hi]))

    per_segment = {
        key: [round(mean(values, lo, hi), 4) for lo, hi in segments] for key, values in acc.items()
    }
    after = {key: round(float(np.mean(values[drifts[0] :])), 4) for key, values in acc.items()}
    # An alarm is a drift or decay trigger (a refit because the data since a change point
    # grew is planned, not an alarm).
    triggered = [bool(b["alarms"]) for b in loop["batches"]]
    fits = sum(k == "retrain.started" for b in loop["batches"] for k in b["events"])
    delays, false_alarms = [], 0
    for i, (lo, hi) in enumerate(segments):
        if i > 0:
            hit = next((j for j in range(lo, hi) if triggered[j]), None)
            delays.append(None if hit is None else hit - lo + 1)
        settled = lo if i == 0 else lo + 4
        false_alarms += sum(triggered[j] for j in range(settled, hi))
    best = max(("every_batch_all", "every_batch_sliding"), key=lambda k: after[k])
    return {
        "accuracy_per_concept": per_segment,
        "accuracy_after_first_drift": after,
        "loop_fits": fits,
        "baseline_fits_per_batch_retraining": n,
        "detection_delay_batches": delays,
        "false_alarms": false_alarms,
        "best_per_batch_baseline": best,
        "gap_to_best_points": round(100 * (after[best] - after["loop"]), 2),
        "targets": {
            "within_2_points": after["loop"] >= after[best] - 0.02,
            "fits_at_most_a_third": fits <= n / 3,
            "detection_within_2_batches": all(d is not None and d <= 2 for d in delays),
            "no_false_alarm": false_alarms == 0,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", nargs="+", default=["sea", "stagger"], choices=STREAMS)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--history", type=int, default=2000)
    parser.add_argument("--sliding", type=int, default=2000)
    parser.add_argument("--rows-per-request", type=int, default=10)
    parser.add_argument(
        "--trials",
        type=int,
        default=None,
        help="Override [training] trials (default: what init writes). Any other value is a "
        "deviation from the issue's conditions and is reported as such.",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="Keep the project folders.")
    parser.add_argument("--json", type=Path, default=BENCH_DIR / "results" / "drift_stream.json")
    parser.add_argument(
        "--partial",
        nargs=2,
        metavar=("LOG", "FOLDER"),
        help="Summarise an unfinished run from its printed batches and kept project folder "
        "(the baselines are computed on the same batches, regenerated from the seed).",
    )
    args = parser.parse_args()
    if args.partial:
        partial(args, Path(args.partial[0]), Path(args.partial[1]))
        return
    results: dict[str, Any] = {
        "machine": machine_info(("loopline", "scikit-learn")),
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    for stream in args.streams:
        rng = np.random.default_rng(args.seed)
        make = STREAMS[stream]
        history = make(args.history, 0, rng)
        batches = [
            make(args.batch_size, concept_of(b, args.batches), rng) for b in range(args.batches)
        ]
        folder = Path(tempfile.mkdtemp(prefix=f"loopline-stream-{stream}-"))
        start = time.perf_counter()
        loop = run_loop(stream, history, batches, folder, args.rows_per_request, args.trials)
        seconds = time.perf_counter() - start
        base = baselines(folder, stream, history, batches, args.sliding)
        summary = summarise(loop, base, args.batches)
        summary["loop_seconds"] = round(seconds, 1)
        summary["batches"] = loop["batches"]
        results[stream] = summary
        shown = {k: v for k, v in summary.items() if k != "batches"}
        print(json.dumps({stream: shown}, indent=2), flush=True)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"kept {folder}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.json}")


def partial(args: argparse.Namespace, log: Path, folder: Path) -> None:
    """The summary of the batches an unfinished run printed (``--keep`` folder needed)."""
    pattern = re.compile(
        r"^\s+(\w+) batch\s+(\d+): accuracy ([\d.]+) versions \[([^]]*)\] events (.*)$"
    )
    seen: list[dict[str, Any]] = []
    stream = ""
    for line in log.read_text().splitlines():
        match = pattern.match(line)
        if match:
            stream = match[1]
            events = json.loads(match[5].replace("'", '"'))
            seen.append({"batch": int(match[2]), "accuracy": float(match[3]), "events": events})
    rng = np.random.default_rng(args.seed)
    make = STREAMS[stream]
    history = make(args.history, 0, rng)
    batches = [make(args.batch_size, concept_of(b, args.batches), rng) for b in range(args.batches)]
    base = baselines(folder, stream, history, batches[: len(seen)], args.sliding)
    # The events of the printed lines name kinds only: a trigger is an alarm unless it was
    # followed by nothing but a planned refit; read the reasons from the project's store.
    from loopline.store import Store

    with Store(f"sqlite:///{folder / '.loopline' / 'loopline.db'}") as store:
        fired = [e for e in reversed(store.events.list(kind="trigger.fired", limit=1000))]
        windows = [e for e in reversed(store.events.list(kind="monitoring.window", limit=5000))]
    # A check is one monitoring window; the first window of a batch's check follows it.
    checks = [w.time for w in windows]
    for batch in seen:
        batch["alarms"] = []
    for event in fired:
        if not (event.reason or "").startswith(("drift", "decay")):
            continue
        index = sum(t <= event.time for t in checks) - 1  # the check it belongs to
        if 0 <= index < len(seen):
            seen[index]["alarms"].append(event.reason)
    n = len(seen)
    summary = summarise({"batches": seen}, base, args.batches, upto=n)
    summary["batches_done"] = n
    summary["batches"] = seen
    print(json.dumps({stream: {k: v for k, v in summary.items() if k != "batches"}}, indent=2))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"partial": True, stream: summary}, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
