"""Params, metrics and tags: written in batches, read back as logged."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from loopline.store import Metric, Store
from tests.strategies import metric_rows, param_dicts, tag_dicts

PROPERTY = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def test_metrics_read_back_in_logging_order(store: Store) -> None:
    run = store.runs.create("train")
    step_id = store.runs.start_step(
        run.id, "fit", code_hash="c", cache_key="k", params={}, inputs={}
    )
    store.tracking.write(
        run.id,
        step_id,
        metrics=[("loss", 0.9, 0, 100.0), ("acc", 0.5, 0, 100.5), ("loss", 0.7, 1, 101.0)],
    )
    store.tracking.write(run.id, None, metrics=[("loss", 0.4, None, 102.0)])
    assert store.tracking.metrics(run.id) == [
        Metric("loss", 0.9, 0, 100.0, step_id),
        Metric("acc", 0.5, 0, 100.5, step_id),
        Metric("loss", 0.7, 1, 101.0, step_id),
        Metric("loss", 0.4, None, 102.0, None),
    ]
    assert [m.value for m in store.tracking.metrics(run.id, "loss")] == [0.9, 0.7, 0.4]
    assert store.tracking.metrics(run.id, "missing") == []
    assert store.tracking.latest_metrics(run.id) == {"loss": 0.4, "acc": 0.5}


def test_params_last_value_wins(store: Store) -> None:
    run = store.runs.create("train")
    store.tracking.write(
        run.id, None, params={"lr": 0.1, "layers": [64, 32], "opt": {"name": "sgd"}}
    )
    store.tracking.write(run.id, None, params={"lr": 0.01, "note": None})
    assert store.tracking.params(run.id) == {
        "lr": 0.01,
        "layers": [64, 32],
        "opt": {"name": "sgd"},
        "note": None,
    }


def test_tags_are_replaced(store: Store) -> None:
    run = store.runs.create("train")
    store.tracking.write(run.id, None, tags={"team": "fraud", "stage": "dev"})
    store.tracking.write(run.id, None, tags={"stage": "prod"})
    assert store.tracking.tags(run.id) == {"team": "fraud", "stage": "prod"}


def test_tag_values_are_stored_as_text(store: Store) -> None:
    run = store.runs.create("train")
    store.tracking.write(run.id, None, tags={"n": 3})  # type: ignore[dict-item]
    assert store.tracking.tags(run.id) == {"n": "3"}


def test_runs_do_not_see_each_others_records(store: Store) -> None:
    a, b = store.runs.create("a"), store.runs.create("b")
    store.tracking.write(
        a.id, None, metrics=[("m", 1.0, None, 1.0)], params={"p": 1}, tags={"t": "x"}
    )
    assert store.tracking.metrics(b.id) == []
    assert store.tracking.params(b.id) == {}
    assert store.tracking.tags(b.id) == {}


def test_an_empty_batch_writes_nothing(store: Store) -> None:
    # No transaction at all: even an unknown run id is not an error.
    store.tracking.write("0" * 32, None)
    store.tracking.write("0" * 32, None, metrics=[], params={}, tags={})
    assert store.tracking.metrics("0" * 32) == []


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), 1e308, -0.0, 5e-324])
def test_extreme_metric_values_round_trip(store: Store, value: float) -> None:
    run = store.runs.create("train")
    store.tracking.write(run.id, None, metrics=[("m", value, 2**31 - 1, 0.0)])
    [metric] = store.tracking.metrics(run.id)
    assert metric.value == value
    assert metric.step == 2**31 - 1


@PROPERTY
@given(batches=metric_rows, params=param_dicts, tags=tag_dicts)
def test_tracking_records_round_trip(store: Store, batches, params, tags) -> None:
    run = store.runs.create("property")
    store.tracking.write(run.id, None, metrics=batches, params=params, tags=tags)
    assert [
        (m.key, m.value, m.step, m.timestamp) for m in store.tracking.metrics(run.id)
    ] == batches
    assert store.tracking.params(run.id) == params
    assert store.tracking.tags(run.id) == tags


@PROPERTY
@given(first=param_dicts, second=param_dicts)
def test_params_written_twice_read_as_merged(store: Store, first, second) -> None:
    run = store.runs.create("property")
    store.tracking.write(run.id, None, params=first)
    store.tracking.write(run.id, None, params=second)
    assert store.tracking.params(run.id) == {**first, **second}
