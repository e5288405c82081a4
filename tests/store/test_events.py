"""The append-only event log: append, list newest first, filter by subject and kind."""

from __future__ import annotations

import getpass
import socket
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopline.store import Event, Store
from tests.strategies import event_specs


def test_append_returns_what_is_stored(store: Store) -> None:
    before = time.time()
    event = store.events.append(
        "model.approved",
        "model",
        "fraud:3",
        actor="alice@laptop",
        reason="looks good",
        payload={"version": 3, "metrics": {"auc": 0.91}},
    )
    assert isinstance(event, Event)
    assert before <= event.time <= time.time()
    assert (event.kind, event.subject_type, event.subject_id) == (
        "model.approved",
        "model",
        "fraud:3",
    )
    assert (event.actor, event.reason) == ("alice@laptop", "looks good")
    assert event.payload == {"version": 3, "metrics": {"auc": 0.91}}
    assert store.events.list() == [event]


def test_default_actor_is_user_at_host(store: Store) -> None:
    event = store.events.append("run.started", "run", "abc")
    assert event.actor == f"{getpass.getuser()}@{socket.gethostname()}"
    assert event.reason is None
    assert event.payload == {}
    assert store.events.list()[0].actor == event.actor


def test_subject_id_is_stored_as_text(store: Store) -> None:
    event = store.events.append("model.registered", "model", 7)  # type: ignore[arg-type]
    assert event.subject_id == "7"
    assert [e.id for e in store.events.list(subject_id=7)] == [event.id]  # type: ignore[arg-type]


def test_list_newest_first_with_limit(store: Store) -> None:
    ids = [store.events.append("run.started", "run", str(i)).id for i in range(5)]
    assert [e.id for e in store.events.list()] == ids[::-1]
    assert [e.id for e in store.events.list(limit=2)] == ids[:2:-1]


@pytest.fixture
def log(store: Store) -> dict[str, int]:
    """A small log; maps a label to each event's id."""
    rows = {
        "approved": ("model.approved", "model", "fraud"),
        "promoted": ("model.alias.moved", "model", "fraud"),
        "other_model": ("model.approved", "model", "churn"),
        "run": ("run.started", "run", "fraud"),
        "lookalike": ("models.archived", "model", "fraud"),
        "bare": ("model", "model", "fraud"),
        "percent": ("mo%el.odd", "model", "fraud"),
    }
    return {label: store.events.append(*row).id for label, row in rows.items()}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"kind": "model.*"}, ["approved", "promoted", "other_model"]),
        ({"kind": "model.alias.*"}, ["promoted"]),
        ({"kind": "model.approved"}, ["approved", "other_model"]),
        ({"kind": "model"}, ["bare"]),
        ({"kind": "mo%.*"}, []),
        ({"kind": "mo%el.*"}, ["percent"]),
        ({"kind": "nothing.*"}, []),
        ({"subject_type": "run"}, ["run"]),
        ({"subject_type": "model", "subject_id": "churn"}, ["other_model"]),
        ({"subject_id": "fraud", "kind": "model.*"}, ["approved", "promoted"]),
    ],
)
def test_list_filters(
    store: Store, log: dict[str, int], filters: dict[str, str], expected: list[str]
) -> None:
    got = [e.id for e in store.events.list(**filters)]
    assert got == sorted((log[label] for label in expected), reverse=True)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(specs=st.lists(event_specs, min_size=1, max_size=5))
def test_events_round_trip(store: Store, specs) -> None:
    appended = [store.events.append(**spec) for spec in specs]
    for event, spec in zip(appended, specs, strict=True):
        assert {k: getattr(event, k) for k in spec} == spec
    listed = store.events.list(limit=len(specs))
    assert listed == appended[::-1]
