"""No-op pipelines for ``benchmarks/engine.py``, importable from a fresh subprocess.

They live in a module (not in engine.py) so that a ``python -c`` subprocess timing a
cold start imports only Loopline and these few lines, and so that code hashes (hence
cache keys) are the same in the parent and in the subprocess.
"""

from __future__ import annotations

from loopline import pipeline, step

#: Steps in the per-step overhead pipeline.
OVERHEAD_STEPS = 50
#: Steps in the fully cached rerun pipeline.
CACHED_STEPS = 10


@step(cache=False)
def inc_nocache(x: int) -> int:
    """A no-op step: the previous int plus one (never served from cache)."""
    return x + 1


@step
def inc(x: int) -> int:
    """A no-op step: the previous int plus one (cacheable)."""
    return x + 1


@pipeline
def chain_nocache(start: int = 0):
    """``OVERHEAD_STEPS`` chained no-op steps, cache disabled."""
    value = inc_nocache(start)
    for _ in range(OVERHEAD_STEPS - 1):
        value = inc_nocache(value)


@pipeline
def chain_cached(start: int = 0):
    """``CACHED_STEPS`` chained no-op steps, cache enabled."""
    value = inc(start)
    for _ in range(CACHED_STEPS - 1):
        value = inc(value)


@step
def first() -> int:
    """A no-op source step."""
    return 1


@pipeline
def noop3():
    """The 3-step no-op pipeline also timed with ZenML: first -> inc -> inc."""
    inc(inc(first()))
