"""Ground truth that arrives late: labels attached to the request ids the service returned."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInputError

if TYPE_CHECKING:
    from ..store import Store


@dataclass
class FeedbackResult:
    """How many labels were stored, and each one refused with its reason."""

    accepted: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)


def attach_feedback(
    store: Store, request_log: Path, model: str, records: Iterable[Mapping[str, Any]]
) -> FeedbackResult:
    """Attach labels to logged requests of ``model``.

    Args:
        store: Where labels are kept.
        request_log: The request log's folder (to check that the requests exist).
        model: The model's name.
        records: ``{"request_id": ..., "label": ..., "row": 0}`` each; ``row`` is the record
            within the request (0 by default).

    Returns:
        The accepted count and the rejected records with their reason (an unknown request
        id, a row the request did not have, or no label).
    """
    known = _known_records(request_log, model)
    result = FeedbackResult()
    labels = []
    for i, record in enumerate(records):
        request_id = str(record.get("request_id", ""))
        row = record.get("row", 0)
        reason = None
        if "label" not in record or record["label"] is None:
            reason = "no label"
        elif not isinstance(row, int) or isinstance(row, bool) or row < 0:
            reason = f"row must be an integer >= 0, got {row!r}"
        elif request_id not in known:
            reason = f"no request {request_id!r} of model {model!r} in the request log"
        elif row >= known[request_id]:
            reason = (
                f"request {request_id!r} had {known[request_id]} record(s); there is no row {row}"
            )
        if reason:
            result.rejected.append(
                {"index": i, "request_id": request_id, "row": row, "reason": reason}
            )
        else:
            labels.append((request_id, row, record["label"]))
    result.accepted = store.monitoring.add_feedback(model, labels)
    if result.accepted:
        store.events.append(
            "feedback.received",
            "model",
            model,
            actor="feedback",
            reason=f"{result.accepted} label(s), {len(result.rejected)} rejected",
        )
    return result


def _known_records(root: Path, model: str) -> dict[str, int]:
    """request id -> number of records, from the request log."""
    from ..serving import read_request_log

    if not (Path(root) / f"model={model}").exists():
        return {}
    frame, _ = read_request_log(root, model, columns=["request_id", "row"])
    if not len(frame):
        return {}
    counts = frame.groupby("request_id")["row"].max() + 1
    return {str(k): int(v) for k, v in counts.items()}


def read_feedback_file(path: Path) -> list[dict[str, Any]]:
    """Labels from a CSV (columns request_id, label, optional row) or JSON / JSON-lines file.

    Raises:
        InvalidInputError: The file is missing, unreadable, or lacks the columns.
    """
    import pandas as pd

    if not path.is_file():
        raise InvalidInputError(f"Feedback file {path} does not exist.", value=str(path))
    if path.suffix.lower() in (".json", ".jsonl", ".ndjson"):
        text = path.read_text(encoding="utf-8")
        try:
            data = (
                json.loads(text)
                if path.suffix.lower() == ".json"
                else [json.loads(line) for line in text.splitlines() if line.strip()]
            )
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{path} is not valid JSON: {exc}.", value=str(path)) from exc
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise InvalidInputError(
                f"{path} must hold a list of objects with request_id and label.", value=str(path)
            )
        return data
    frame = pd.read_csv(path)
    missing = {"request_id", "label"} - set(frame.columns)
    if missing:
        raise InvalidInputError(
            f"{path} lacks the column(s) {sorted(missing)}; it needs request_id and label "
            "(and optionally row).",
            value=str(path),
        )
    records: list[dict[str, Any]] = json.loads(frame.to_json(orient="records"))
    return records
