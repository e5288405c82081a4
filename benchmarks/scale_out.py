"""The whole demo loop on the scale-out engines vs the embedded defaults.

    python benchmarks/scale_out.py --postgres URL --s3-endpoint URL [--repeats 3]
                                   [--executors inprocess ray] [--json PATH]

Each configuration runs ``loopline demo --dir <a new folder>`` (train, serve, drifted
traffic, retrain, canary, promote: the whole loop) in a subprocess, timed end to end:

- ``embedded``: the defaults (SQLite file, artifacts in a local folder, in-process steps);
- ``postgres+s3``: ``LOOPLINE_STORE_URL`` = a new schema of the PostgreSQL database
  ``--postgres`` (e.g. the one ``.ci/postgres.sh`` sets up) and ``LOOPLINE_ARTIFACTS_URL`` =
  a new bucket on the S3-protocol server ``--s3-endpoint`` (e.g. moto's, ``.ci/s3.sh``);
- ``postgres+s3+<executor>``: the same with ``LOOPLINE_EXECUTOR`` set, for each further
  executor named by ``--executors`` (``ray`` needs the ``ray`` extra and its executor).

Repeats are interleaved (each repeat runs every configuration once, in turn); medians are
reported, and the ratio of each configuration to ``embedded`` within a repeat.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
sys.path.insert(0, str(HERE))

from _common import machine_info  # noqa: E402


def _schema_url(base: str) -> tuple[str, str]:
    import sqlalchemy as sa

    schema = f"loopline_bench_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine.dispose()
    url = sa.engine.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), schema


def _drop_schema(base: str, schema: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()


def _bucket(env: dict[str, str]) -> str:
    import s3fs

    fs = s3fs.S3FileSystem(
        skip_instance_cache=True,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        key=env["AWS_ACCESS_KEY_ID"],
        secret=env["AWS_SECRET_ACCESS_KEY"],
    )
    name = f"loopline-bench-{uuid.uuid4().hex[:12]}"
    fs.mkdir(name)
    return name


def _demo(env: dict[str, str], work: Path) -> dict[str, Any]:
    folder = work / f"demo-{uuid.uuid4().hex[:8]}"
    full = {k: v for k, v in os.environ.items() if not k.startswith("LOOPLINE_")}
    full.update(env)
    full["PYTHONPATH"] = str(SRC)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "loopline", "demo", "--dir", str(folder)],
        env=full,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"loopline demo failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return {"seconds": seconds, "loadavg_1m_before": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", required=True, help="SQLAlchemy URL of a database")
    parser.add_argument("--s3-endpoint", required=True, help="e.g. http://127.0.0.1:5390")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--executors", nargs="*", default=[], help="e.g. ray")
    parser.add_argument("--only", nargs="*", help="run only these configurations")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()
    aws = {
        "AWS_ENDPOINT_URL": args.s3_endpoint,
        "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "bench"),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "bench"),
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    }
    configs = ["embedded", "postgres+s3", *[f"postgres+s3+{e}" for e in args.executors]]
    if args.only:
        configs = [c for c in configs if c in args.only]
    work = Path(tempfile.mkdtemp(prefix="loopline-scale-out-"))
    results: dict[str, Any] = {"machine": machine_info(), "args": vars(args), "runs": []}
    for repeat in range(args.repeats):
        for config in configs:
            env: dict[str, str] = {}
            schema = None
            if config != "embedded":
                url, schema = _schema_url(args.postgres)
                env.update(aws)
                env["LOOPLINE_STORE_URL"] = url
                env["LOOPLINE_ARTIFACTS_URL"] = f"s3://{_bucket(aws)}/artifacts"
                executor = config.split("+")[2] if config.count("+") == 2 else None
                if executor:
                    env["LOOPLINE_EXECUTOR"] = executor
            try:
                run = _demo(env, work)
            finally:
                if schema:
                    _drop_schema(args.postgres, schema)
            run.update(config=config, repeat=repeat)
            results["runs"].append(run)
            print(f"repeat {repeat} {config}: {run['seconds']:.1f} s "
                  f"(load {run['loadavg_1m_before']:.1f})", flush=True)  # fmt: skip
    summary: dict[str, Any] = {}
    for config in configs:
        times = [r["seconds"] for r in results["runs"] if r["config"] == config]
        base = [r["seconds"] for r in results["runs"] if r["config"] == "embedded"]
        summary[config] = {"median_s": statistics.median(times), "runs_s": times}
        if base:
            ratios = [t / b for t, b in zip(times, base, strict=True)]
            summary[config]["ratio_to_embedded_median"] = statistics.median(ratios)
            summary[config]["ratio_range"] = [min(ratios), max(ratios)]
    results["summary"] = summary
    print(json.dumps(summary, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
