"""Engine overhead: per-step cost of no-op steps, and a fully cached rerun.

    python benchmarks/engine.py [--repeats 5] [--json PATH] [--zenml]

(a) Per-step overhead: a pipeline of 50 chained no-op steps (each returns the previous
    int plus one), cache disabled, in-process executor, on a fresh project store (SQLite
    in a new temporary folder for each repeat). Reported: ms per step = run() / 50.
    Target: under 10 ms a step.

(b) Fully cached rerun of a 10-step chained pipeline: run once, then time the second run
    - in-process: ``runner.run()`` alone, with a fresh ``Runner`` on the existing store
      (its construction timed separately);
    - as a CLI user waits: a fresh ``python -c`` subprocess doing import + Runner + run
      (wall time seen by the parent, interpreter start-up included).
    Target: under 0.5 s.

--zenml adds ZenML (0.98, in a peer venv under benchmarks/.peers/zenml) running a 3-step
no-op pipeline twice in a fresh subprocess with a fresh ZenML config/store per repeat:
import time, first run, fully cached second run; and, interleaved with it, Loopline doing
the same (fresh subprocess, fresh store, the same 3 no-op steps run twice).

Each figure is the median of --repeats measurements taken in this one invocation.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BENCH_DIR, machine_info, median, print_table, write_json  # noqa: E402

TARGET_MS_PER_STEP = 10.0
TARGET_CACHED_S = 0.5
ZENML_REQUIREMENTS = ["zenml[local]==0.98.*"]
#: Figures quoted in the issue for ZenML 0.98 on a 2-core machine.
ZENML_QUOTED = {"run_s": 2.0, "cached_s": 1.1, "import_s": 2.9}


def _fresh_runner(folder: str) -> Any:
    from loopline import Runner
    from loopline.artifacts import ArtifactStore
    from loopline.store import Store

    return Runner(
        Store(f"sqlite:///{folder}/.loopline/loopline.db"),
        ArtifactStore(f"{folder}/.loopline/artifacts"),
    )


def bench_overhead(repeats: int) -> dict[str, Any]:
    """(a) ms per no-op step, cache disabled, fresh store per repeat."""
    import _engine_pipelines as p

    n = p.OVERHEAD_STEPS
    samples, constructs = [], []
    cold = None
    for i in range(repeats + 1):  # the first one warms imports up and is reported apart
        folder = tempfile.mkdtemp(prefix="loopline-bench-")
        try:
            t0 = time.perf_counter()
            runner = _fresh_runner(folder)
            t1 = time.perf_counter()
            result = runner.run(p.chain_nocache)
            t2 = time.perf_counter()
            runner.close()
            assert result.status == "succeeded" and not result.cached
            assert result.load(f"inc_nocache_{n}") == n
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        if i == 0:
            cold = {"construct_s": t1 - t0, "run_s": t2 - t1}
            continue
        constructs.append(t1 - t0)
        samples.append(t2 - t1)
    run_s = median(samples)
    return {
        "steps": n,
        "repeats": repeats,
        "run_s_samples": samples,
        "run_s_median": run_s,
        "ms_per_step_median": run_s / n * 1000,
        "runner_construct_fresh_store_s_median": median(constructs),
        "first_run_in_process": cold,
        "target_ms_per_step": TARGET_MS_PER_STEP,
    }


_CHILD = textwrap.dedent(
    """
    import json, sys, time
    t0 = time.perf_counter()
    sys.path.insert(0, {bench!r})
    from loopline import Runner
    from loopline.artifacts import ArtifactStore
    from loopline.store import Store
    import _engine_pipelines as p
    t1 = time.perf_counter()
    runner = Runner(Store({store!r}), ArtifactStore({artifacts!r}))
    t2 = time.perf_counter()
    result = runner.run(p.chain_cached)
    t3 = time.perf_counter()
    assert len(result.cached) == p.CACHED_STEPS, result.cached
    print(json.dumps({{"import_s": t1 - t0, "construct_s": t2 - t1, "run_s": t3 - t2}}))
    """
)


def _child_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("LOOPLINE_")}


def bench_cached(repeats: int) -> dict[str, Any]:
    """(b) a fully cached rerun of 10 chained steps: in-process and in a fresh subprocess."""
    import _engine_pipelines as p

    n = p.CACHED_STEPS
    in_run, in_construct, sub_wall, sub_parts = [], [], [], []
    for _ in range(repeats):
        folder = tempfile.mkdtemp(prefix="loopline-bench-")
        try:
            first = _fresh_runner(folder)
            assert first.run(p.chain_cached).cached == []
            first.close()
            # in-process: a fresh Runner on the existing store, then run() alone
            t0 = time.perf_counter()
            runner = _fresh_runner(folder)
            t1 = time.perf_counter()
            result = runner.run(p.chain_cached)
            t2 = time.perf_counter()
            runner.close()
            assert len(result.cached) == n
            in_construct.append(t1 - t0)
            in_run.append(t2 - t1)
            # what a CLI user waits: interpreter + import + Runner + run
            parts, wall = _run_child(_CHILD, folder)
            sub_wall.append(wall)
            sub_parts.append(parts)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    # the floor: a bare interpreter, and one that only imports loopline
    bare, imp = [], []
    for _ in range(repeats):
        for target, code in (
            (bare, "pass"),
            (imp, "import loopline, loopline.store, loopline.artifacts"),
        ):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, env=_child_env())
            target.append(time.perf_counter() - t0)
    return {
        "steps": n,
        "repeats": repeats,
        "in_process_run_s_samples": in_run,
        "in_process_run_s_median": median(in_run),
        "in_process_ms_per_cached_step": median(in_run) / n * 1000,
        "runner_construct_existing_store_s_median": median(in_construct),
        "subprocess_wall_s_samples": sub_wall,
        "subprocess_wall_s_median": median(sub_wall),
        "subprocess_import_s_median": median([s["import_s"] for s in sub_parts]),
        "subprocess_construct_s_median": median([s["construct_s"] for s in sub_parts]),
        "subprocess_run_s_median": median([s["run_s"] for s in sub_parts]),
        "python_bare_start_s_median": median(bare),
        "python_import_loopline_s_median": median(imp),
        "target_s": TARGET_CACHED_S,
    }


_ZENML_CHILD = textwrap.dedent(
    """
    import json, os, sys, time, logging
    t0 = time.perf_counter()
    from zenml import pipeline, step
    from zenml.client import Client
    t1 = time.perf_counter()

    @step
    def first() -> int:
        return 1

    @step
    def inc(x: int) -> int:
        return x + 1

    @pipeline
    def noop3():
        inc(inc(first()))

    client = Client()
    stack = client.active_stack_model  # creates the local SQLite store and default stack
    t2 = time.perf_counter()
    r1 = noop3()
    t3 = time.perf_counter()
    r2 = noop3()
    t4 = time.perf_counter()
    def cached(run):
        run = client.get_pipeline_run(run.id)
        return sorted(n for n, s in run.steps.items() if str(s.status).lower().endswith("cached"))
    print(json.dumps({
        "import_s": t1 - t0,
        "client_init_s": t2 - t1,
        "run1_s": t3 - t2,
        "run2_s": t4 - t3,
        "run1_cached": cached(r1),
        "run2_cached": cached(r2),
    }))
    """
)


_NOOP3_CHILD = textwrap.dedent(
    """
    import json, sys, time
    t0 = time.perf_counter()
    sys.path.insert(0, {bench!r})
    from loopline import Runner
    from loopline.artifacts import ArtifactStore
    from loopline.store import Store
    import _engine_pipelines as p
    t1 = time.perf_counter()
    runner = Runner(Store({store!r}), ArtifactStore({artifacts!r}))
    t2 = time.perf_counter()
    r1 = runner.run(p.noop3)
    t3 = time.perf_counter()
    r2 = runner.run(p.noop3)
    t4 = time.perf_counter()
    assert r1.cached == [] and len(r2.cached) == 3, (r1.cached, r2.cached)
    print(json.dumps({{"import_s": t1 - t0, "client_init_s": t2 - t1, "run1_s": t3 - t2,
                      "run2_s": t4 - t3}}))
    """
)


def _loopline_noop3_once() -> tuple[dict[str, float], float]:
    """Loopline on ZenML's terms: a fresh subprocess and store, 3 no-op steps run twice."""
    folder = tempfile.mkdtemp(prefix="loopline-bench-")
    try:
        return _run_child(_NOOP3_CHILD, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run_child(template: str, folder: str) -> tuple[dict[str, float], float]:
    """Run a child snippet on the project in ``folder``: its last JSON line, and the wall time."""
    code = template.format(
        bench=str(BENCH_DIR),
        store=f"sqlite:///{folder}/.loopline/loopline.db",
        artifacts=f"{folder}/.loopline/artifacts",
    )
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=folder, env=_child_env()
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"subprocess failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1]), wall


def _zenml_once(peer: Any) -> tuple[dict[str, Any], float]:
    """ZenML: a fresh subprocess with a fresh config and local store, noop3 run twice."""
    with tempfile.TemporaryDirectory(prefix="zenml-bench-") as folder:
        env = {
            "ZENML_CONFIG_PATH": f"{folder}/config",
            "ZENML_LOCAL_STORES_PATH": f"{folder}/stores",
            "ZENML_ANALYTICS_OPT_IN": "false",
            "ZENML_ENABLE_RICH_TRACEBACK": "false",
            "ZENML_LOGGING_VERBOSITY": "WARN",
            "AUTO_OPEN_DASHBOARD": "false",
        }
        # ZenML needs a main module with a file (its "source root").
        script = Path(folder) / "noop3.py"
        script.write_text(_ZENML_CHILD)
        t0 = time.perf_counter()
        result = peer.run_script(script, env=env, cwd=folder, timeout=600)
        return result, time.perf_counter() - t0


def _summary(samples: list[dict[str, Any]], walls: list[float]) -> dict[str, Any]:
    return {
        "samples": samples,
        "import_s_median": median([s["import_s"] for s in samples]),
        "client_init_s_median": median([s["client_init_s"] for s in samples]),
        "run1_s_median": median([s["run1_s"] for s in samples]),
        "run2_cached_s_median": median([s["run2_s"] for s in samples]),
        "subprocess_wall_s_median": median(walls),
    }


def bench_zenml(repeats: int) -> dict[str, Any]:
    """ZenML (peer venv) and Loopline, interleaved: import, first run, cached rerun."""
    from _peers import Peer, PeerError

    peer = Peer("zenml", ZENML_REQUIREMENTS)
    try:
        peer.ensure()
    except PeerError as exc:
        return {"error": f"install failed: {exc}"}
    versions = peer.versions(["zenml", "sqlalchemy"])
    zs, zw, ls, lw = [], [], [], []
    for _ in range(repeats):  # interleaved, so both tools see the same machine noise
        sample, wall = _loopline_noop3_once()
        ls.append(sample)
        lw.append(wall)
        try:
            sample, wall = _zenml_once(peer)
        except PeerError as exc:
            return {"error": str(exc)[-3000:], "versions": versions}
        zs.append(sample)
        zw.append(wall)
    ratios = {
        key: median([z[key] / s[key] for z, s in zip(zs, ls, strict=True)])
        for key in ("import_s", "run1_s", "run2_s")
    }
    return {
        "versions": versions,
        "repeats": repeats,
        "zenml": _summary(zs, zw),
        "loopline": _summary(ls, lw),
        "ratio_zenml_over_loopline_median": ratios,
        "quoted_in_issue": ZENML_QUOTED,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--zenml", action="store_true", help="also time ZenML in a peer venv")
    args = parser.parse_args()

    machine = machine_info(["loopline", "sqlalchemy", "alembic"])
    print(f"machine: nproc={machine['nproc']} python={machine['python']} {machine['packages']}")
    overhead = bench_overhead(args.repeats)
    cached = bench_cached(args.repeats)
    zenml = bench_zenml(args.repeats) if args.zenml else None

    ms = overhead["ms_per_step_median"]
    print(
        f"\n(a) {overhead['steps']} chained no-op steps, cache off, in-process, fresh SQLite store "
        f"(median of {args.repeats})"
    )
    print_table(
        [
            ["run() total, s", overhead["run_s_median"], ""],
            [
                "ms per step",
                ms,
                f"< {TARGET_MS_PER_STEP:g} ms: {'met' if ms < TARGET_MS_PER_STEP else 'MISSED'}",
            ],
            [
                "Runner() on a fresh store (migrations), s",
                overhead["runner_construct_fresh_store_s_median"],
                "not in run()",
            ],
            [
                "first run in the process (cold), s",
                overhead["first_run_in_process"]["run_s"],
                "discarded",
            ],
        ],
        ["measure", "value", "target / note"],
    )
    sub = cached["subprocess_wall_s_median"]
    inproc = cached["in_process_run_s_median"]
    print(f"\n(b) fully cached rerun of {cached['steps']} chained steps (median of {args.repeats})")
    print_table(
        [
            [
                "in-process runner.run(), s",
                inproc,
                f"< {TARGET_CACHED_S:g} s: {'met' if inproc < TARGET_CACHED_S else 'MISSED'}",
            ],
            [
                "  Runner() on the existing store, s",
                cached["runner_construct_existing_store_s_median"],
                "not in run()",
            ],
            [
                "fresh `python -c` (import+Runner+run), wall s",
                sub,
                f"< {TARGET_CACHED_S:g} s: {'met' if sub < TARGET_CACHED_S else 'MISSED'}",
            ],
            [
                "  of which: import loopline + steps, s",
                cached["subprocess_import_s_median"],
                "inside child",
            ],
            ["  of which: Runner(), s", cached["subprocess_construct_s_median"], "inside child"],
            ["  of which: run(), s", cached["subprocess_run_s_median"], "inside child"],
            ["bare `python -c pass`, s", cached["python_bare_start_s_median"], "floor"],
            ["`python -c 'import loopline...'`, s", cached["python_import_loopline_s_median"], ""],
        ],
        ["measure", "value", "target / note"],
    )
    if zenml is not None:
        print(f"\nZenML (peer venv) 3-step no-op pipeline (median of {args.repeats})")
        if "error" in zenml:
            print(f"  ZenML did not run: {zenml['error']}")
        else:
            print(f"  versions: {zenml['versions']}")
            q, z, ll = ZENML_QUOTED, zenml["zenml"], zenml["loopline"]
            r = zenml["ratio_zenml_over_loopline_median"]
            print_table(
                [
                    ["import, s", z["import_s_median"], q["import_s"], ll["import_s_median"]],
                    [
                        "store init (ZenML Client()+stack / Loopline Runner()), s",
                        z["client_init_s_median"],
                        "-",
                        ll["client_init_s_median"],
                    ],
                    ["first run (3 steps), s", z["run1_s_median"], q["run_s"], ll["run1_s_median"]],
                    [
                        "fully cached rerun, s",
                        z["run2_cached_s_median"],
                        q["cached_s"],
                        ll["run2_cached_s_median"],
                    ],
                    [
                        "whole subprocess wall, s",
                        z["subprocess_wall_s_median"],
                        "-",
                        ll["subprocess_wall_s_median"],
                    ],
                ],
                ["measure (fresh subprocess + store)", "ZenML", "issue quotes", "Loopline"],
            )
            print(
                "  ZenML/Loopline (median of per-repeat ratios): "
                f"first run {r['run1_s']:.0f}x, cached rerun {r['run2_s']:.0f}x, "
                f"import {r['import_s']:.1f}x"
            )
            print(f"  ZenML steps cached in rerun (sample 1): {z['samples'][0]['run2_cached']}")
    write_json(
        args.json,
        {
            "benchmark": "engine",
            "machine": machine,
            "overhead": overhead,
            "cached": cached,
            "zenml": zenml,
        },
    )


if __name__ == "__main__":
    main()
