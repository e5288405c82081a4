"""Seed an MLflow SQLite tracking store with the runs of benchmarks/ui.py (in MLflow's venv).

One template run is logged through MLflow's own API (so every table and column is MLflow's),
then its rows are cloned in bulk with sqlite3 for each run of the spec: runs, tags (with a
``pipeline`` tag for the pipeline filter), params, metrics and latest_metrics. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import time

import mlflow

STATUS = {"succeeded": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--spec", required=True)
    args = parser.parse_args()
    with open(args.spec) as f:
        spec = json.load(f)
    started = time.perf_counter()
    mlflow.set_tracking_uri(f"sqlite:///{args.db}")
    with mlflow.start_run(experiment_id="0") as template:
        mlflow.log_param("param_0", 1)
        mlflow.set_tag("pipeline", "training")
        mlflow.log_metric("accuracy", 0.5, step=0)
    tid = template.info.run_id
    conn = sqlite3.connect(args.db)

    def rows_of(table: str) -> tuple[list[str], list[tuple]]:
        cur = conn.execute(f"SELECT * FROM {table} WHERE run_uuid = ?", (tid,))
        return [d[0] for d in cur.description], cur.fetchall()

    tables = {
        name: rows_of(name) for name in ("runs", "tags", "params", "metrics", "latest_metrics")
    }
    rng = random.Random(0)
    keys, per_key = spec["keys"], max(1, spec["per_run"] // len(spec["keys"]))
    out: dict[str, list[tuple]] = {name: [] for name in tables}
    for run in spec["runs"]:
        rid = run["id"]
        start_ms, end_ms = int(run["start"] * 1000), int(run["end"] * 1000)
        cols, (row,) = tables["runs"]
        values = dict(zip(cols, row, strict=True))
        values.update(
            run_uuid=rid,
            name=run["name"],
            status=STATUS[run["status"]],
            start_time=start_ms,
            end_time=end_ms,
            lifecycle_stage="active",
            artifact_uri=str(values["artifact_uri"]).replace(tid, rid),
        )
        out["runs"].append(tuple(values[c] for c in cols))
        cols, rows = tables["tags"]
        for r in rows:
            tag = dict(zip(cols, r, strict=True), run_uuid=rid)
            if tag["key"] == "mlflow.runName":
                tag["value"] = run["name"]
            if tag["key"] == "pipeline":
                tag["value"] = run["name"]
            out["tags"].append(tuple(tag[c] for c in cols))
        cols, _ = tables["params"]
        for p in range(5):
            param = {"key": f"param_{p}", "value": str(rng.randint(0, 9)), "run_uuid": rid}
            out["params"].append(tuple(param[c] for c in cols))
        for key in keys:
            for step in range(per_key):
                value = run["accuracy"] if key == "accuracy" else rng.random()
                metric = {
                    "key": key,
                    "value": value,
                    "timestamp": start_ms + step * 1000,
                    "run_uuid": rid,
                    "step": step,
                    "is_nan": False,
                }
                mcols = tables["metrics"][0]
                out["metrics"].append(tuple(metric.get(c) for c in mcols))
            lcols = tables["latest_metrics"][0]
            out["latest_metrics"].append(tuple(metric.get(c) for c in lcols))
    for table in ("runs", "tags", "params", "metrics", "latest_metrics"):
        conn.execute(f"DELETE FROM {table} WHERE run_uuid = ?", (tid,))
    for table, rows in out.items():
        cols = tables[table][0]
        marks = ", ".join("?" for _ in cols)
        conn.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", rows)
    conn.commit()
    counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in out}
    conn.close()
    print(
        json.dumps(
            {
                "seconds": time.perf_counter() - started,
                "counts": counts,
                "mlflow": mlflow.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
