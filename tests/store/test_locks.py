from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable

import pytest

from loopline.errors import ConflictError
from loopline.store import Store

HOLD = """
import sys
from loopline.store import Store
store = Store(sys.argv[1])
store.locks.acquire("controller")
print("held", flush=True)
sys.stdin.readline()
"""


def test_a_lock_held_by_a_live_process_is_refused_naming_it(
    store: Store, store_url: str, start_script: Callable
) -> None:
    holder = start_script(HOLD, store_url)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(
        ConflictError, match=re.escape(f":{holder.pid} has held the lock since")
    ) as info:
        store.locks.acquire("controller")
    assert info.value.pid == holder.pid and "Stop that process first" in info.value.hint


def test_a_lock_whose_holder_died_is_taken_over(
    store: Store, store_url: str, start_script: Callable
) -> None:
    holder = start_script(HOLD, store_url)
    assert holder.stdout.readline().strip() == "held"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    store.locks.acquire("controller")  # no error: the holder is gone
    store.locks.acquire("controller")  # re-entrant for the holder itself
    store.locks.release("controller")


def test_release_and_renew(store: Store) -> None:
    store.locks.acquire("controller")
    store.locks.renew("controller")
    store.locks.release("controller")
    store.locks.acquire("controller")


def test_state_round_trip_and_delete(store: Store) -> None:
    assert store.state.get("k", "default") == "default"
    store.state.set("k", {"version": 2, "started": 1.5})
    assert store.state.get("k") == {"version": 2, "started": 1.5}
    store.state.set("k", None)
    assert store.state.get("k") is None


def test_feedback_keeps_the_last_label_of_a_record(store: Store) -> None:
    assert store.monitoring.add_feedback("m", [("r1", 0, 1), ("r1", 0, 0), ("r2", 1, "yes")]) == 2
    store.monitoring.add_feedback("m", [("r2", 1, "no")])
    assert store.monitoring.labels("m") == {("r1", 0): 0, ("r2", 1): "no"}
    assert store.monitoring.labels("m", ["r2"]) == {("r2", 1): "no"}
    assert store.monitoring.labels("other") == {}


def test_monitoring_reports_over_time(store: Store) -> None:
    for end in (3.0, 1.0, 2.0):
        store.monitoring.add_report(
            model="m",
            version=1,
            window_start=None,
            window_end=end,
            rows=10,
            drift_share=end / 10,
            dataset_drift=end > 2,
            drifted=["a"] if end > 2 else [],
            signals={"rows": 10.0},
            artifact_id=None,
        )
    reports = store.monitoring.reports("m")
    assert [r.window_end for r in reports] == [3.0, 1.0, 2.0]  # in the order recorded
    assert (
        reports[0].dataset_drift
        and reports[0].drifted == ["a"]
        and reports[0].signals == {"rows": 10.0}
    )
    assert store.monitoring.reports("m", version=2) == []


RACE = """
import sys
from loopline.errors import ConflictError
from loopline.store import Store
store = Store(sys.argv[1])
sys.stdin.readline()  # start together
try:
    store.locks.acquire("controller")
    print("held", flush=True)
except ConflictError as exc:
    print("refused", exc, flush=True)
sys.stdin.readline()
"""


def test_processes_racing_for_a_lock_one_holds_it_and_the_others_are_refused(
    store: Store, store_url: str, start_script: Callable
) -> None:
    racers = [start_script(RACE, store_url) for _ in range(4)]
    for racer in racers:
        racer.stdin.write("\n")
        racer.stdin.flush()
    answers = [racer.stdout.readline().strip() for racer in racers]
    assert sorted(a.split(" ")[0] for a in answers) == ["held"] + ["refused"] * 3, answers
    assert all("has held the lock since" in a for a in answers if a != "held")
