"""The runs pages: the filtered, sorted, paged list; one run; 2-5 runs side by side."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import InvalidInputError
from ..reports import (
    LineSeries,
    Markup,
    draw_line_chart,
    escape,
    format_duration,
    format_number,
    format_timestamp,
    render_badge,
    render_table,
    status_tone,
)
from ..store import Metric, Run, RunPage, RunQuery, StepRun, Store
from ._graphs import Bar, Node, draw_graph, draw_timings
from ._layout import facts, link, section, when

RUN_STATUSES = ("running", "succeeded", "failed", "interrupted")
RUN_SORTS = ("started_at", "ended_at", "duration", "name", "status")
METRIC_OPS = (">", ">=", "<", "<=", "=")
#: How many metric columns the runs list shows.
METRIC_COLUMNS = 4
MAX_COMPARE = 5


def runs_list_body(store: Store, query: RunQuery, params: Mapping[str, str]) -> str:
    """The filter form, the table of one page of runs, and the pager."""
    result = store.browse.runs(query)
    keys = _metric_columns(result, query)
    form = _filters(store, query, params)
    rows = []
    for run in result.runs:
        values = result.metrics.get(run.id, {})
        rows.append(
            [
                Markup(
                    f'<input type="checkbox" name="run" value="{escape(run.id)}" '
                    f'aria-label="compare {escape(run.id[:8])}">'
                ),
                link(f"/runs/{run.id}", run.id[:8]),
                run.name,
                render_badge(run.status),
                when(run.started_at),
                Markup(escape(format_duration(run.duration))),
                *[values.get(k) for k in keys],
            ]
        )
    headers = [
        "",
        "run",
        _sort_link("pipeline", "name", query, params),
        _sort_link("status", "status", query, params),
        _sort_link("started", "started_at", query, params),
        _sort_link("duration", "duration", query, params),
        *[_sort_link(k, f"metric:{k}", query, params) for k in keys],
    ]
    table = render_table(headers, rows, empty="No run matches these filters.")
    compare = (
        f'<form method="get" action="/compare" id="compare-form">{table}'
        '<button type="submit" id="compare-button">Compare selected (2–5)</button></form>'
    )
    shown = f"{format_number(result.total)} runs" if result.total != 1 else "1 run"
    return (
        form
        + f'<p class="muted" id="run-count">{shown} · page {result.page} of {result.pages}</p>'
        + compare
        + _pager(result, params)
    )


def parse_run_query(params: Mapping[str, str]) -> RunQuery:
    """The ``RunQuery`` of the list's query string (``?status=&name=&sort=&page=``...).

    Raises:
        InvalidInputError: A number that is not one, with the parameter named.
    """
    value = params.get("value") or None
    return RunQuery(
        status=params.get("status") or None,
        name=params.get("name") or None,
        id_prefix=params.get("q") or None,
        metric=params.get("metric") or None,
        op=params.get("op") or ">",
        value=None if value is None else _number(value, "value", float),
        sort=params.get("sort") or "started_at",
        descending=(params.get("order") or "desc") != "asc",
        page=_number(params.get("page") or "1", "page", int),
        page_size=_number(params.get("size") or "50", "size", int),
    )


def _number(text: str, name: str, kind: type[int] | type[float]) -> Any:
    try:
        return kind(text)
    except ValueError:
        raise InvalidInputError(
            f"The {name!r} filter must be a number. Got {text!r} instead.", value=text
        ) from None


def _sort_link(label: str, sort: str, query: RunQuery, params: Mapping[str, str]) -> Markup:
    """A column heading that sorts by it; a second click flips the order."""
    keep = {k: v for k, v in params.items() if k not in ("sort", "order", "page") and v}
    current = query.sort == sort
    order = "asc" if current and query.descending else "desc"
    arrow = (" ↓" if query.descending else " ↑") if current else ""
    return link("/runs", f"{label}{arrow}", **keep, sort=sort, order=order)


def _metric_columns(result: RunPage, query: RunQuery) -> list[str]:
    """The metric keys shown: the sorted-by and filtered-by ones first, then those named
    like a known evaluation metric (test_accuracy), then the commonest."""

    counts: dict[str, int] = {}
    for values in result.metrics.values():
        for key in values:
            counts[key] = counts.get(key, 0) + 1
    chosen = [
        k
        for k in (
            query.sort.removeprefix("metric:") if query.sort.startswith("metric:") else None,
            query.metric,
        )
        if k
    ]
    rest = sorted(
        (k for k in counts if k not in chosen), key=lambda k: (counts[k] > 0, -abs(counts[k]), k)
    )
    return list(dict.fromkeys(chosen + rest))[:METRIC_COLUMNS]


def _filters(store: Store, query: RunQuery, params: Mapping[str, str]) -> str:
    def options(values: Sequence[str], selected: str | None, blank: str) -> str:
        items = [f'<option value="">{escape(blank)}</option>']
        items += [
            f'<option value="{escape(v)}"{_selected(v == selected)}>{escape(v)}</option>'
            for v in values
        ]
        return "".join(items)

    sorts = [*RUN_SORTS]
    if query.sort.startswith("metric:"):
        sorts.append(query.sort)
    return (
        '<form class="filters" method="get" action="/runs" id="filters">'
        f'<label>status<select name="status">{options(RUN_STATUSES, query.status, "any")}'
        "</select></label>"
        f'<label>pipeline<select name="name">{options(store.browse.run_names(), query.name, "any")}'
        "</select></label>"
        f'<label>id starts with<input name="q" size="10" value="{escape(query.id_prefix or "")}">'
        "</label>"
        f'<label>metric<input name="metric" size="12" placeholder="accuracy" '
        f'value="{escape(query.metric or "")}"></label>'
        '<label>op<select name="op">'
        + "".join(
            f"<option{' selected' if op == query.op else ''}>{escape(op)}</option>"
            for op in METRIC_OPS
        )
        + "</select></label>"
        f'<label>value<input name="value" size="7" value="{escape(params.get("value", ""))}">'
        "</label>"
        f'<label>sort by<input name="sort" size="16" list="sorts" value="{escape(query.sort)}">'
        f'<datalist id="sorts">{"".join(f"<option value={escape(s)}>" for s in sorts)}'
        "</datalist></label>"
        '<label>order<select name="order">'
        f'<option value="desc"{" selected" if query.descending else ""}>descending</option>'
        f'<option value="asc"{"" if query.descending else " selected"}>ascending</option>'
        "</select></label>"
        f'<input type="hidden" name="size" value="{query.page_size}">'
        '<button type="submit">Apply</button>'
        f"{link('/runs', 'clear')}</form>"
    )


def _pager(result: RunPage, params: Mapping[str, str]) -> str:
    keep = {k: v for k, v in params.items() if k != "page" and v}
    parts = []
    if result.page > 1:
        parts.append(
            link(
                "/runs",
                "← newer" if _default_order(params) else "← previous",
                **keep,
                page=result.page - 1,
            )
        )
    if result.page < result.pages:
        parts.append(
            link(
                "/runs",
                "older →" if _default_order(params) else "next →",
                **keep,
                page=result.page + 1,
            )
        )
    return f'<nav class="pager" aria-label="pages">{" ".join(parts)}</nav>' if parts else ""


def _default_order(params: Mapping[str, str]) -> bool:
    return (params.get("sort") or "started_at") == "started_at" and params.get("order") != "asc"


# -- one run ------------------------------------------------------------------------------


def run_body(store: Store, run: Run) -> str:
    """A run: facts, DAG, step timings with cache hits, metrics, errors and logs, report."""
    steps = store.runs.steps(run.id)
    series = store.browse.metric_series([run.id]).get(run.id, {})
    versions = store.browse.versions_of_run(run.id)
    params = store.tracking.params(run.id)
    tags = store.tracking.tags(run.id)
    cached = sum(1 for s in steps if s.cache_hit)
    header = facts(
        [
            ("status", render_badge(run.status)),
            ("pipeline", run.name),
            ("started", format_timestamp(run.started_at)),
            ("duration", format_duration(run.duration)),
            ("steps", f"{len(steps)} ({cached} from cache)"),
            ("executor", run.executor),
            ("host", f"{run.host} (pid {run.pid})"),
            (
                "registered",
                Markup(", ".join(link(f"/models/{v.model}", v.ref) for v in versions))
                if versions
                else "—",
            ),
        ]
    )
    parts = [header]
    if run.error:
        parts.append(f'<p class="msg bad">{escape(run.error)}</p>')
    parts.append(section("Pipeline", _dag(store, run, steps), id="dag"))
    parts.append(section("Step timings", _timings(run, steps), id="timings"))
    parts.append(section("Steps", _steps_table(store, steps), id="steps"))
    parts.append(section("Metrics", _metrics(series), id="metrics"))
    if params or run.params:
        rows = [[k, _short(v)] for k, v in {**run.params, **params}.items()]
        parts.append(section("Parameters", render_table(["name", "value"], rows), id="params"))
    if tags:
        parts.append(section("Tags", render_table(["tag", "value"], tags.items()), id="tags"))
    parts.append(section("Logs", _logs(store, run, steps), id="logs"))
    parts.append(
        section(
            "Report",
            f"<p>{link(f'/runs/{run.id}/report', 'Open the report on its own page')}</p>"
            f'<iframe class="report" loading="lazy" title="run report" '
            f'src="/runs/{escape(run.id)}/report"></iframe>',
            id="report",
        )
    )
    return "".join(parts)


def _dag(store: Store, run: Run, steps: Sequence[StepRun]) -> str:
    latest = {s.name: s for s in steps}  # the last attempt of each step
    definition = store.browse.pipeline_definition(run)
    names: list[str] = []
    edges: list[tuple[str, str]] = []
    if definition:
        for step in definition.get("steps", []):
            names.append(str(step.get("name")))
            for source in (step.get("inputs") or {}).values():
                if isinstance(source, list) and source:
                    edges.append((str(source[0]), names[-1]))
            edges += [(str(a), names[-1]) for a in step.get("after") or []]
    else:  # no traced definition (an ad-hoc run): the steps in order
        names = list(latest)
    nodes = []
    for name in names:
        step_run = latest.get(name)
        status = step_run.status if step_run else "not run"
        detail = status + (
            f" · {format_duration(step_run.duration)}"
            if step_run and not step_run.cache_hit
            else ""
        )
        nodes.append(
            Node(
                id=name,
                label=name,
                detail=detail,
                tone=_tone(status),
                href=f"#step-{step_run.id}" if step_run else None,
            )
        )
    if not nodes:
        return '<p class="note">This run has no steps.</p>'
    graph = draw_graph(nodes, sorted(set(edges)), title=f"pipeline {run.name}")
    return f'<div class="graph">{graph}</div>'


def _timings(run: Run, steps: Sequence[StepRun]) -> str:
    bars = [
        Bar(
            label=s.name if s.attempt == 1 else f"{s.name} #{s.attempt}",
            start=max((s.started_at or run.started_at) - run.started_at, 0.0),
            end=max((s.ended_at or s.started_at or run.started_at) - run.started_at, 0.0),
            tone=_tone(s.status),
            note="cache hit" if s.cache_hit else ("" if s.status == "succeeded" else s.status),
        )
        for s in steps
    ]
    return f'<div class="chart wide">{draw_timings(bars, title="step timings")}</div>'


def _steps_table(store: Store, steps: Sequence[StepRun]) -> str:
    rows = []
    for s in steps:
        outputs = store.runs.step_outputs(s.id)
        rows.append(
            [
                Markup(f'<span id="step-{s.id}">{escape(s.name)}</span>'),
                s.attempt,
                render_badge(s.status),
                render_badge("cache hit", "good") if s.cache_hit else "",
                Markup(escape(format_duration(s.duration))),
                Markup(
                    ", ".join(
                        link(f"/artifacts/{a.id}/lineage", f"{name} #{a.id}")
                        for name, a in outputs.items()
                    )
                ),
            ]
        )
    return render_table(
        ["step", "attempt", "status", "cache", "duration", "outputs (lineage)"],
        rows,
        empty="No step ran.",
    )


def _metrics(series: Mapping[str, Sequence[Metric]]) -> str:
    if not series:
        return '<p class="note">This run logged no metrics.</p>'
    single = [[k, v[-1].value] for k, v in sorted(series.items()) if len(v) == 1]
    charts = []
    for key, values in sorted(series.items()):
        if len(values) < 2:
            continue
        xs = [m.step if m.step is not None else i for i, m in enumerate(values)]
        chart = draw_line_chart(
            [LineSeries(key, xs, [m.value for m in values])],
            title=key,
            x_label="step",
            width=420,
            height=220,
        )
        charts.append(f'<div class="chart">{chart}</div>')
    table = render_table(["metric", "value"], single) if single else ""
    return table + (f'<div class="charts">{"".join(charts[:24])}</div>' if charts else "")


def _logs(store: Store, run: Run, steps: Sequence[StepRun]) -> str:
    events = store.events.list(subject_type="run", subject_id=run.id, limit=50)
    rows = [[when(e.time), e.kind, e.actor, e.reason or ""] for e in reversed(events)]
    parts: list[str] = [
        render_table(["time", "event", "actor", "reason"], rows, empty="No events.")
    ]
    for s in steps:
        if s.error or s.traceback:
            parts.append(
                f"<h3>{escape(s.name)} (attempt {s.attempt}): {escape(s.status)}</h3>"
                f"<pre>{escape(s.traceback or s.error)}</pre>"
            )
    return "".join(parts)


# -- comparison ---------------------------------------------------------------------------


def check_compare_ids(ids: Sequence[str]) -> list[str]:
    """The distinct run ids to compare, in order.

    Raises:
        InvalidInputError: Fewer than 2 or more than 5 runs.
    """
    unique = list(dict.fromkeys(i for i in ids if i))
    if not 2 <= len(unique) <= MAX_COMPARE:
        raise InvalidInputError(
            f"Compare takes 2 to {MAX_COMPARE} runs. Got {len(unique)} instead.",
            hint="Tick 2 to 5 runs in the runs list, then press Compare.",
            value=len(unique),
        )
    return unique


def compare_body(store: Store, runs: Sequence[Run]) -> str:
    """Runs side by side: facts, parameters (differences marked), metrics (best marked),
    metric curves overlaid, and step durations."""
    ids = [r.id for r in runs]
    heads = ["", *[r.id[:8] for r in runs]]
    overview = [
        ["pipeline", *[r.name for r in runs]],
        ["status", *[render_badge(r.status) for r in runs]],
        ["started", *[format_timestamp(r.started_at) for r in runs]],
        ["duration", *[Markup(escape(format_duration(r.duration))) for r in runs]],
    ]
    links = ["open", *[link(f"/runs/{r.id}", r.id[:8]) for r in runs]]
    parts: list[str] = [render_table(heads, [links, *overview])]
    params = [{**r.params, **store.tracking.params(r.id)} for r in runs]
    keys = sorted({k for p in params for k in p})
    rows = []
    for key in keys:
        values = [_short(p.get(key, "—")) for p in params]
        cls = "diff" if len(set(values)) > 1 else ""
        rows.append(_row(key, values, [cls] * len(values)))
    parts.append(
        section("Parameters", _raw_table(heads, rows, "Differences are highlighted."), id="params")
    )
    latest = store.browse.latest_metrics(ids)
    metric_keys = sorted({k for values in latest.values() for k in values})
    rows = []
    for key in metric_keys:
        numbers = [latest[i].get(key) for i in ids]
        best = _best(key, numbers)
        rows.append(
            _row(
                key,
                [format_number(v) for v in numbers],
                ["num best" if i == best else "num" for i in range(len(numbers))],
            )
        )
    parts.append(
        section("Metrics", _raw_table(heads, rows, "The best value is in bold."), id="metrics")
    )
    parts.append(section("Curves", _curves(store, runs), id="curves"))
    steps = {r.id: {s.name: s for s in store.runs.steps(r.id)} for r in runs}
    names = list(dict.fromkeys(n for r in runs for n in steps[r.id]))
    rows = [
        _row(
            name,
            [
                format_duration(steps[r.id][name].duration)
                + (" (cache)" if steps[r.id][name].cache_hit else "")
                if name in steps[r.id]
                else "—"
                for r in runs
            ],
            ["num"] * len(runs),
        )
        for name in names
    ]
    parts.append(section("Step durations", _raw_table(heads, rows, ""), id="steps"))
    return "".join(parts)


def _curves(store: Store, runs: Sequence[Run]) -> str:
    series = store.browse.metric_series([r.id for r in runs])
    keys = sorted({k for r in runs for k, v in series[r.id].items() if len(v) > 1})
    charts = []
    for key in keys[:12]:
        lines = []
        for r in runs:
            values = series[r.id].get(key, [])
            xs = [m.step if m.step is not None else i for i, m in enumerate(values)]
            lines.append(LineSeries(r.id[:8], xs, [m.value for m in values]))
        chart = draw_line_chart(lines, title=key, x_label="step", width=520, height=260)
        charts.append(f'<div class="chart">{chart}</div>')
    if not charts:
        return '<p class="note">No metric was logged more than once in these runs.</p>'
    return f'<div class="charts">{"".join(charts)}</div>'


def _best(key: str, values: Sequence[float | None]) -> int | None:
    """The index of the best value, when the metric's direction is known."""
    from ..components import METRICS

    # test_accuracy, cv_accuracy.logistic_regression: the metric's name ends or starts it.
    base = key.split(".", 1)[0]
    known = next((METRICS[m] for m in METRICS if base == m or base.endswith(f"_{m}")), None)
    present = [(v, i) for i, v in enumerate(values) if v is not None]
    if known is None or len(present) < 2:
        return None
    pick = max if known[1] == "max" else min
    return pick(present)[1]


def _row(label: str, cells: Sequence[object], classes: Sequence[str]) -> str:
    tds = "".join(
        f'<td class="{escape(c)}">{escape(v)}</td>' if c else f"<td>{escape(v)}</td>"
        for v, c in zip(cells, classes, strict=True)
    )
    return f'<tr><th scope="row">{escape(label)}</th>{tds}</tr>'


def _raw_table(heads: Sequence[str], rows: Sequence[str], caption: str) -> str:
    if not rows:
        return '<p class="note">Nothing to show.</p>'
    cap = f'<caption class="muted">{escape(caption)}</caption>' if caption else ""
    th = "".join(f'<th scope="col">{escape(h)}</th>' for h in heads)
    return (
        f'<div class="table-wrap"><table>{cap}<thead><tr>{th}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _selected(flag: bool) -> str:
    return " selected" if flag else ""


def _tone(status: str) -> str:
    return status_tone(status)


def _short(value: object, limit: int = 80) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
