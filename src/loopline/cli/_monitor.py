"""``loopline monitor`` and ``loopline feedback``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from ..errors import InvalidInputError
from ._output import console, print_json


def parse_window(text: str) -> timedelta:
    """``--window`` as a timedelta (see :func:`loopline.config.parse_duration`)."""
    from ..config import parse_duration

    return parse_duration(text, what="--window")


def monitor_command(
    project: Path | None,
    model: str,
    *,
    window: str | None,
    last: int | None,
    output: Path | None,
    as_json: bool = False,
) -> None:
    """Monitor one window and print what it found."""
    from rich.markup import escape

    from ..automation import parse_amount
    from ..monitoring import monitor
    from ._models import open_registry

    if window is not None and last is not None:
        raise InvalidInputError("Give --window or --last, not both.")
    amount = parse_amount(window, what="--window") if window else None
    with open_registry(project) as registry:
        from ..config import load_settings
        from ..requestlog import check_request_log

        request_log = load_settings(project).request_log_url
        check_request_log(request_log)  # a missing bucket fails here, with its own message
        kind = amount.kind if amount else None
        result = monitor(
            registry,
            model,
            request_log=request_log,
            window=amount.duration if amount else None,
            last=last
            if last is not None
            else (amount.count if amount and kind == "rows" else None),
            last_labelled=amount.count if amount and kind == "labelled_rows" else None,
            last_requests=amount.count if amount and kind == "requests" else None,
        )
        if as_json:
            data = result.to_dict()
            data.pop("current_counts", None)
            data.pop("current_statistics", None)
            data["report_id"] = result.report_id
            if output is not None:
                from ._monitoring_html import write_monitoring_report

                write_monitoring_report(registry, result, output)
                data["html"] = str(output)
            print_json(data)
            return
        out = console()
        out.print(
            f"[bold]{result.model}/{result.version}[/]: {result.rows} records in "
            f"{result.requests} requests"
        )
        for note in result.notes:
            out.print(f"  note: {escape(note)}")
        drift = result.drift
        if result.rows:
            verdict = "[red]drift[/]" if drift.dataset_drift else "[green]no drift[/]"
            out.print(
                f"  {verdict}: {len(drift.drifted_features)} of {drift.n_compared} features "
                f"drifted (threshold {drift.drift_share:.0%})"
            )
            for feature in drift.features:
                if feature.drifted:
                    out.print(f"   - {escape(feature.name)}: {escape('; '.join(feature.reasons))}")
            if drift.prediction is not None and drift.prediction.drifted:
                out.print(f"   - predictions: {escape('; '.join(drift.prediction.reasons))}")
        if result.performance:
            perf = result.performance
            shown = ", ".join(
                f"{k} {v:.4f} (holdout {perf['holdout'].get(k, float('nan')):.4f})"
                for k, v in sorted(perf["metrics"].items())
            )
            out.print(f"  performance on {perf['labelled_rows']} labelled records: {shown}")
        out.print(f"  stored as monitoring report #{result.report_id}")
        if output is not None:
            from ._monitoring_html import write_monitoring_report

            write_monitoring_report(registry, result, output)
            out.print(f"  wrote {output}")


def feedback_command(project: Path | None, file: Path, model: str) -> None:
    """Attach the labels of a file; list what was rejected and why."""
    from rich.markup import escape

    from ..artifacts import ArtifactStore
    from ..config import load_settings
    from ..errors import NotFoundError
    from ..monitoring import LabelTarget, attach_feedback, read_feedback_file
    from ..registry import Registry
    from ..requestlog import check_request_log
    from ..store import Store

    records = read_feedback_file(file)
    settings = load_settings(project)
    check_request_log(settings.request_log_url)  # labels match nothing in a missing bucket
    with Store(settings.store_url) as store:
        registry = Registry(store, ArtifactStore(settings.artifacts_url))
        try:  # labels are checked against the production version's target
            target = LabelTarget.of(registry.load_package(model))
        except NotFoundError:
            target = None
        result = attach_feedback(store, settings.request_log_url, model, records, target=target)
    out = console()
    out.print(f"Attached {result.accepted} label(s) to requests of {model}.")
    for rejected in result.rejected[:20]:
        out.print(f"  rejected record {rejected['index']}: {escape(rejected['reason'])}")
    if len(result.rejected) > 20:
        out.print(f"  … and {len(result.rejected) - 20} more rejected")
