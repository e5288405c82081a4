"""Micro-batching under real concurrency: own rows back, fewer calls, isolation, hot swap."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from loopline.errors import ConflictError, InvalidInputError
from loopline.serving._batcher import BatchInfo, BatchResult, MicroBatcher, Predictions


class Recorder:
    """A predict function that records its batch sizes and answers ``id * factor``."""

    def __init__(self, factor: float = 10.0, delay: float = 0.001, poison: int | None = None):
        self.factor = factor
        self.delay = delay
        self.poison = poison
        self.sizes: list[int] = []
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, frame: pd.DataFrame) -> Predictions:
        with self._lock:
            self.sizes.append(len(frame))
            self.threads.add(threading.current_thread().name)
        time.sleep(self.delay)
        ids = frame["id"].to_numpy()
        if self.poison is not None and (ids == self.poison).any():
            raise ValueError(f"cannot predict id {self.poison}")
        probabilities = np.column_stack([ids / 1000, 1 - ids / 1000])
        return Predictions(ids * self.factor, probabilities, np.array(["a", "b"]))


def frames(count: int, rng: np.random.Generator) -> list[pd.DataFrame]:
    """``count`` frames of 1 to 3 rows each, with ids unique across all of them."""
    out, next_id = [], 0
    for _ in range(count):
        size = int(rng.integers(1, 4))
        out.append(pd.DataFrame({"id": np.arange(next_id, next_id + size, dtype=float)}))
        next_id += size
    return out


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_concurrent_submits_get_their_own_rows_in_fewer_calls() -> None:
    predict = Recorder()
    infos: list[BatchInfo] = []
    requests = frames(200, np.random.default_rng(0))

    async def main() -> list[BatchResult]:
        async with MicroBatcher(predict, max_batch_size=32, on_batch=infos.append) as batcher:
            return list(await asyncio.gather(*(batcher.submit(f) for f in requests)))

    results = run(main())

    for frame, result in zip(requests, results, strict=True):
        ids = frame["id"].to_numpy()
        np.testing.assert_array_equal(result.predictions, ids * 10)
        assert result.probabilities is not None and result.classes is not None
        np.testing.assert_array_equal(result.probabilities[:, 0], ids / 1000)
        assert result.classes.tolist() == ["a", "b"]
        assert result.served_by is predict and not result.retried
    total = sum(len(f) for f in requests)
    assert sum(predict.sizes) == total
    assert len(predict.sizes) < len(requests) / 4
    assert max(predict.sizes) <= 32
    assert [info.rows for info in infos] == predict.sizes
    assert sum(info.requests for info in infos) == 200
    assert all(name.startswith("loopline-predict") for name in predict.threads)


def test_a_poisoned_row_fails_only_its_request() -> None:
    predict = Recorder(poison=77)
    infos: list[BatchInfo] = []
    requests = frames(100, np.random.default_rng(1))
    poisoned = next(i for i, f in enumerate(requests) if (f["id"] == 77).any())

    async def main() -> list[Any]:
        async with MicroBatcher(predict, max_batch_size=64, on_batch=infos.append) as batcher:
            calls = (batcher.submit(f) for f in requests)
            return list(await asyncio.gather(*calls, return_exceptions=True))

    results = run(main())

    failures = [i for i, r in enumerate(results) if isinstance(r, BaseException)]
    assert failures == [poisoned]
    assert str(results[poisoned]) == "cannot predict id 77"
    assert isinstance(results[poisoned], ValueError)
    for frame, result in zip(requests, results, strict=True):
        if isinstance(result, BatchResult):
            np.testing.assert_array_equal(result.predictions, frame["id"].to_numpy() * 10)
    retried = [info for info in infos if info.retried]
    assert len(retried) == 1 and retried[0].failed == 1 and retried[0].requests > 1


def test_hot_swap_mid_load_fails_no_request_and_never_mixes_a_batch() -> None:
    old, new = Recorder(factor=1.0, delay=0.002), Recorder(factor=2.0, delay=0.002)
    requests = frames(300, np.random.default_rng(2))

    async def main() -> tuple[list[BatchResult], list[BatchResult]]:
        async with MicroBatcher(old, max_batch_size=16) as batcher:

            async def swap_soon() -> None:
                await asyncio.sleep(0.01)
                batcher.predict = new

            during = asyncio.gather(*(batcher.submit(f) for f in requests[:200]), swap_soon())
            first = [r for r in await during if isinstance(r, BatchResult)]
            after = await asyncio.gather(*(batcher.submit(f) for f in requests[200:]))
        return first, list(after)

    during, after = run(main())

    served = {id(old): 1.0, id(new): 2.0}
    for frame, result in zip(requests, during + after, strict=True):
        factor = served[id(result.served_by)]
        np.testing.assert_array_equal(result.predictions, frame["id"].to_numpy() * factor)
    assert {id(r.served_by) for r in during} == {id(old), id(new)}
    assert all(r.served_by is new for r in after)
    # Batches happen in order: once the new function served a batch, the old one never did.
    order = [id(r.served_by) for r in during]
    assert order.index(id(new)) > 0 and id(old) not in order[order.index(id(new)) :]


def test_a_swap_from_another_thread_takes_effect_for_the_next_batch() -> None:
    old, new = Recorder(factor=1.0), Recorder(factor=2.0)

    async def main() -> tuple[BatchResult, BatchResult]:
        async with MicroBatcher(old) as batcher:
            first = await batcher.submit(pd.DataFrame({"id": [1.0]}))
            await asyncio.to_thread(setattr, batcher, "predict", new)
            second = await batcher.submit(pd.DataFrame({"id": [1.0]}))
        return first, second

    first, second = run(main())
    assert (first.predictions.tolist(), second.predictions.tolist()) == ([1.0], [2.0])


def test_a_lone_request_on_an_idle_batcher_does_not_wait() -> None:
    predict = Recorder(delay=0.0)

    async def main() -> list[float]:
        async with MicroBatcher(predict, max_wait_ms=500) as batcher:
            elapsed = []
            for i in range(5):
                started = time.perf_counter()
                await batcher.submit(pd.DataFrame({"id": [float(i)]}))
                elapsed.append(time.perf_counter() - started)
            return elapsed

    elapsed = run(main())
    assert max(elapsed) < 0.25, elapsed
    assert predict.sizes == [1, 1, 1, 1, 1]


def test_after_concurrency_a_batch_waits_for_late_arrivals() -> None:
    predict = Recorder(delay=0.0)

    async def main() -> None:
        async with MicroBatcher(predict, max_wait_ms=300) as batcher:
            await asyncio.gather(*(batcher.submit(pd.DataFrame({"id": [0.0]})) for _ in range(2)))

            async def late() -> BatchResult:
                await asyncio.sleep(0.03)
                return await batcher.submit(pd.DataFrame({"id": [2.0]}))

            await asyncio.gather(
                batcher.submit(pd.DataFrame({"id": [1.0]})),
                batcher.submit(pd.DataFrame({"id": [1.5]})),
                late(),
            )

    run(main())
    assert predict.sizes == [2, 3]


def test_batches_respect_the_size_limit_and_a_big_request_goes_alone() -> None:
    predict = Recorder(delay=0.002)

    async def main() -> list[BatchResult]:
        async with MicroBatcher(predict, max_batch_size=8) as batcher:
            big = pd.DataFrame({"id": np.arange(100.0, 120.0)})
            small = [pd.DataFrame({"id": [float(i)]}) for i in range(30)]
            return list(await asyncio.gather(*(batcher.submit(f) for f in [*small, big])))

    results = run(main())
    assert results[-1].batch_rows == 20 and results[-1].batch_requests == 1
    assert results[-1].predictions.tolist() == [i * 10.0 for i in range(100, 120)]
    assert sorted(predict.sizes)[-1] == 20
    assert all(size <= 8 for size in predict.sizes if size != 20)


def test_frames_with_different_columns_never_share_a_batch() -> None:
    seen: list[list[str]] = []

    def predict(frame: pd.DataFrame) -> np.ndarray:
        seen.append(list(frame.columns))
        assert not frame.isna().any().any()
        return np.asarray(frame.iloc[:, 0].to_numpy())

    async def main() -> list[BatchResult]:
        async with MicroBatcher(predict) as batcher:
            calls = [
                batcher.submit(pd.DataFrame({"a": [1.0]})),
                batcher.submit(pd.DataFrame({"b": [2.0]})),
                batcher.submit(pd.DataFrame({"a": [3.0]})),
            ]
            return list(await asyncio.gather(*calls))

    results = run(main())
    assert [r.predictions.tolist() for r in results] == [[1.0], [2.0], [3.0]]
    assert all(len(set(columns)) == 1 for columns in seen)


def test_the_event_loop_keeps_running_while_a_batch_predicts() -> None:
    async def main() -> int:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.005)
                ticks += 1

        async with MicroBatcher(Recorder(delay=0.2)) as batcher:
            task = asyncio.create_task(ticker())
            await batcher.submit(pd.DataFrame({"id": [1.0]}))
            task.cancel()
        return ticks

    assert run(main()) >= 10


def test_aclose_predicts_every_pending_request_then_refuses_more() -> None:
    predict = Recorder(delay=0.005)

    async def main() -> list[BatchResult]:
        batcher = MicroBatcher(predict, max_batch_size=4)
        tasks = [
            asyncio.create_task(batcher.submit(pd.DataFrame({"id": [float(i)]}))) for i in range(40)
        ]
        await asyncio.sleep(0)  # every request is queued
        await batcher.aclose()
        assert all(task.done() for task in tasks)
        with pytest.raises(ConflictError, match="The micro-batcher is closed"):
            await batcher.submit(pd.DataFrame({"id": [1.0]}))
        await batcher.aclose()  # twice is fine
        return [task.result() for task in tasks]

    results = run(main())
    assert [r.predictions[0] for r in results] == [i * 10.0 for i in range(40)]
    assert sum(predict.sizes) == 40


def test_a_cancelled_request_is_skipped_and_the_others_are_served() -> None:
    predict = Recorder(delay=0.02)

    async def main() -> list[Any]:
        async with MicroBatcher(predict, max_batch_size=2) as batcher:
            tasks = [
                asyncio.create_task(batcher.submit(pd.DataFrame({"id": [float(i)]})))
                for i in range(6)
            ]
            await asyncio.sleep(0.005)  # the first batch predicts; the rest wait
            tasks[4].cancel()
            return list(await asyncio.gather(*tasks, return_exceptions=True))

    results = run(main())
    assert isinstance(results[4], asyncio.CancelledError)
    assert [r.predictions[0] for i, r in enumerate(results) if i != 4] == [0, 10, 20, 30, 50]
    assert sum(predict.sizes) == 5


def test_requests_fail_clearly_if_the_worker_is_cancelled() -> None:
    async def main() -> list[Any]:
        batcher = MicroBatcher(Recorder(delay=0.1), max_batch_size=1)
        tasks = [
            asyncio.create_task(batcher.submit(pd.DataFrame({"id": [float(i)]}))) for i in range(3)
        ]
        await asyncio.sleep(0.02)  # the first request is predicting, two wait
        assert batcher._task is not None
        batcher._task.cancel()  # as an event loop shutting down would
        results = list(await asyncio.gather(*tasks, return_exceptions=True))
        await batcher.aclose()
        return results

    results = run(main())
    assert [str(r) for r in results] == ["The micro-batcher stopped before predicting."] * 3
    assert all(isinstance(r, ConflictError) for r in results)


def test_a_predict_function_returning_the_wrong_length_fails_clearly() -> None:
    def short(frame: pd.DataFrame) -> np.ndarray:
        return np.zeros(len(frame) - 1)

    async def main() -> None:
        async with MicroBatcher(short) as batcher:
            await batcher.submit(pd.DataFrame({"id": [1.0, 2.0]}))

    message = (
        "The predict function test_a_predict_function_returning_the_wrong_length_fails_clearly."
        "<locals>.short returned 1 predictions for 2 rows."
    )
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        run(main())


def test_on_batch_errors_are_logged_and_ignored(caplog: pytest.LogCaptureFixture) -> None:
    def broken(info: BatchInfo) -> None:
        raise RuntimeError("metrics are down")

    async def main() -> BatchResult:
        async with MicroBatcher(Recorder(), on_batch=broken) as batcher:
            return await batcher.submit(pd.DataFrame({"id": [3.0]}))

    with caplog.at_level(logging.ERROR, logger="loopline.serving._batcher"):
        assert run(main()).predictions.tolist() == [30.0]
    assert "The on_batch callback of a MicroBatcher raised; ignored." in caplog.text


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: MicroBatcher(Recorder(), max_batch_size=0),
            "MicroBatcher needs max_batch_size >= 1 and a finite max_wait_ms >= 0. Got "
            "max_batch_size=0, max_wait_ms=2.0.",
        ),
        (
            lambda: MicroBatcher(Recorder(), max_wait_ms=-1),
            "MicroBatcher needs max_batch_size >= 1 and a finite max_wait_ms >= 0. Got "
            "max_batch_size=64, max_wait_ms=-1.",
        ),
        (
            lambda: MicroBatcher(Recorder(), max_batch_size=2.5),  # type: ignore[arg-type]
            "The 'max_batch_size' argument of MicroBatcher must be an int >= 1. Got 2.5 instead.",
        ),
        (
            lambda: MicroBatcher("model"),  # type: ignore[arg-type]
            "A MicroBatcher's predict function must be callable. Got str 'model'.",
        ),
        (
            lambda: Predictions(np.zeros(3), np.zeros((2, 2))),
            "Predictions.probabilities must be a (rows, classes) array with one row per "
            "prediction (3); got shape (2, 2).",
        ),
        (
            lambda: Predictions(np.zeros(2), np.zeros((2, 2)), np.array(["a"])),
            "Predictions.classes must list one label per column of probabilities (2); got "
            "shape (1,).",
        ),
    ],
)
def test_bad_arguments(make: Callable[[], Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        make()


def test_submit_refuses_an_empty_frame() -> None:
    async def main() -> None:
        async with MicroBatcher(Recorder()) as batcher:
            await batcher.submit(pd.DataFrame({"id": []}))

    with pytest.raises(InvalidInputError, match="at least one row. Got a DataFrame with 0 rows"):
        run(main())


def test_start_outside_an_event_loop_is_a_conflict() -> None:
    with pytest.raises(ConflictError, match=re.escape("must be called from a running event loop")):
        MicroBatcher(Recorder()).start()
