"""Paged, filtered reads for the UI (store/_browse.py), on every store backend."""

from __future__ import annotations

import re

import pytest

from loopline.errors import InvalidInputError, NotFoundError
from loopline.store import RunQuery, Store


@pytest.fixture
def runs(store: Store) -> list[str]:
    """Eight finished runs of two pipelines; run i logs accuracy 0.5 + i/20 and a loss curve."""
    ids = []
    for i in range(8):
        run = store.runs.create("train" if i % 2 == 0 else "nightly")
        store.tracking.write(
            run.id,
            None,
            metrics=[("accuracy", 0.1, None, 1.0), ("accuracy", 0.5 + i / 20, None, 2.0)]
            + [("loss", 1.0 / (e + 1), e, 1.0) for e in range(3)],
        )
        store.runs.finish(run.id, "failed" if i == 3 else "succeeded")
        ids.append(run.id)
    return ids


def test_pages_split_the_runs_newest_first(store: Store, runs: list[str]) -> None:
    first = store.browse.runs(RunQuery(page_size=3))
    last = store.browse.runs(RunQuery(page_size=3, page=3))
    assert (first.total, first.pages) == (8, 3)
    assert [r.id for r in first.runs] == runs[::-1][:3]
    assert [r.id for r in last.runs] == runs[::-1][6:]


def test_filters_by_status_name_and_id_prefix(store: Store, runs: list[str]) -> None:
    assert [r.id for r in store.browse.runs(RunQuery(status="failed")).runs] == [runs[3]]
    assert store.browse.runs(RunQuery(name="nightly")).total == 4
    assert [r.id for r in store.browse.runs(RunQuery(id_prefix=runs[5][:12])).runs] == [runs[5]]


def test_the_metric_filter_and_sort_use_the_last_value(store: Store, runs: list[str]) -> None:
    # Every run logged accuracy 0.1 first: neither the filter nor the sort sees it.
    above = store.browse.runs(RunQuery(metric="accuracy", op=">", value=0.72))
    assert {r.id for r in above.runs} == {runs[5], runs[6], runs[7]}
    assert store.browse.runs(RunQuery(metric="accuracy", op="<", value=0.2)).total == 0
    best = store.browse.runs(RunQuery(sort="metric:accuracy", descending=True, page_size=2))
    assert [r.id for r in best.runs] == [runs[7], runs[6]]
    assert best.metrics[runs[7]] == {"accuracy": pytest.approx(0.85), "loss": pytest.approx(1 / 3)}
    worst = store.browse.runs(RunQuery(sort="metric:accuracy", descending=False, page_size=1))
    assert [r.id for r in worst.runs] == [runs[0]]


def test_runs_without_the_sort_metric_come_last(store: Store, runs: list[str]) -> None:
    bare = [store.runs.create("train").id for _ in range(3)]
    for descending in (True, False):
        page = store.browse.runs(RunQuery(sort="metric:accuracy", descending=descending))
        assert [r.id for r in page.runs[-3:]] == bare[::-1]
        assert page.total == 11
    # A page that straddles the runs with and without the metric.
    pages = [
        store.browse.runs(RunQuery(sort="metric:accuracy", page_size=3, page=n))
        for n in (1, 2, 3, 4)
    ]
    order = [r.id for p in pages for r in p.runs]
    assert order == runs[::-1] + bare[::-1]


def test_the_latest_value_follows_every_write(store: Store) -> None:
    run = store.runs.create("train")
    store.tracking.write(run.id, None, metrics=[("loss", 0.9, 0, 1.0), ("loss", 0.5, 1, 2.0)])
    store.tracking.write(run.id, None, metrics=[("loss", 0.4, 2, 3.0), ("acc", 0.7, None, 3.0)])
    assert store.browse.latest_metrics([run.id]) == {run.id: {"acc": 0.7, "loss": 0.4}}
    assert store.tracking.latest_metrics(run.id) == {"loss": 0.4, "acc": 0.7}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (RunQuery(status="done"), "Unknown run status 'done'. Use one of: running, succeeded"),
        (RunQuery(sort="colour"), "Cannot sort runs by 'colour'. Use one of: started_at"),
        (RunQuery(sort="metric:"), "Cannot sort runs by 'metric:'"),
        (RunQuery(op="~"), "Unknown metric operator '~'. Use one of: > >= < <= ="),
        (RunQuery(page=0), "Page 0 of size 50 is out of range"),
        (RunQuery(page_size=501), "Page 1 of size 501 is out of range"),
    ],
)
def test_bad_queries_say_what_is_allowed(store: Store, query: RunQuery, message: str) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        store.browse.runs(query)


def test_metric_series_and_latest_metrics_of_several_runs(store: Store, runs: list[str]) -> None:
    series = store.browse.metric_series(runs[:2])
    assert [m.value for m in series[runs[1]]["loss"]] == pytest.approx([1, 1 / 2, 1 / 3])
    assert store.browse.latest_metrics([]) == {}
    assert store.browse.latest_metrics(runs[:1])[runs[0]]["accuracy"] == pytest.approx(0.5)


def test_model_events_cover_the_model_and_its_versions(store: Store) -> None:
    store.events.append("trigger.fired", "model", "loans", reason="drift")
    store.events.append("model.approved", "model", "loans/2", reason="ok")
    store.events.append("model.approved", "model", "loans_b/1", reason="other model")
    store.events.append("alert.firing", "model", "loans/2", reason="psi")
    kinds = [e.kind for e in store.browse.model_events("loans")]
    assert kinds == ["alert.firing", "model.approved", "trigger.fired"]
    assert [e.kind for e in store.browse.model_events("loans", kind_prefix="alert.")] == [
        "alert.firing"
    ]


def test_an_unknown_monitoring_window_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="No monitoring window with id 7"):
        store.browse.monitoring_report(7)


def test_revision_0005_fills_latest_metrics_from_older_stores(store_url: str) -> None:
    """A store written before 0005 gets each run's last value of each key on upgrade."""
    from alembic import command

    from loopline.store._engine import _alembic_config, create_engine

    engine = create_engine(store_url)
    try:
        with engine.begin() as conn:
            command.upgrade(_alembic_config(conn), "0004")
            conn.exec_driver_sql(
                "INSERT INTO runs (id, name, params, status, started_at, host, pid, executor) "
                "VALUES ('r1', 'train', '{}', 'succeeded', 1.0, 'h', 1, 'inprocess')"
            )
            conn.exec_driver_sql(
                "INSERT INTO metrics (run_id, key, value, step, timestamp) VALUES "
                "('r1', 'loss', 0.9, 0, 1.0), ('r1', 'loss', 0.3, 1, 2.0), "
                "('r1', 'acc', 0.8, NULL, 2.0)"
            )
    finally:
        engine.dispose()
    with Store(store_url) as upgraded:
        assert upgraded.browse.latest_metrics(["r1"]) == {"r1": {"acc": 0.8, "loss": 0.3}}
        page = upgraded.browse.runs(RunQuery(metric="loss", op="<", value=0.5))
        assert [r.id for r in page.runs] == ["r1"]
