"""Ground truth that arrives late: labels attached to the request ids the service returned."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInputError

if TYPE_CHECKING:
    from ..components import ModelPackage
    from ..store import Store

#: The longest label accepted as text, and the longest request id (both in characters).
MAX_LABEL_LENGTH = 1_000
_SHOWN = 80


@dataclass(frozen=True)
class LabelTarget:
    """What a model's labels must be: its task, and its classes for a classifier.

    Attributes:
        task: ``"classification"`` or ``"regression"``.
        classes: The classes a classifier was trained on (None: any class is accepted).
    """

    task: str
    classes: tuple[Any, ...] | None = None

    @classmethod
    def of(cls, package: ModelPackage) -> LabelTarget:
        """The target of a model package (its task and, for a classifier, its classes)."""
        classes = package.manifest.get("classes") or None
        return cls(package.task, tuple(classes) if classes else None)

    def check(self, label: Any) -> tuple[Any, str | None]:
        """The label as the model's class or number, or a reason to refuse it.

        Classifiers take one of their classes; JSON may write class ``1`` as ``1``, ``1.0``
        or ``"1"``, and each is read as the class. Regressors take a finite number (or
        its text). A missing value, NaN, infinity, an object, a list and text over
        ``MAX_LABEL_LENGTH`` characters are refused.

        Returns:
            ``(label, None)`` with the label in the class's own type, or ``(None, reason)``.
        """
        problem = _generic_problem(label)
        if problem is not None:
            return None, problem
        if self.task == "classification":
            return self._class_of(label)
        if self.task != "regression":
            return label, None
        number = _finite_number(label)
        if number is None:
            problem = "the label must be a finite number for a regression model"
            return None, f"{problem}, got {_short(label)}"
        return number, None

    def _class_of(self, label: Any) -> tuple[Any, str | None]:
        if self.classes is None:
            return label, None
        for known in self.classes:
            if _same_class(label, known):
                return known, None
        shown = ", ".join(_short(c) for c in self.classes[:20])
        more = f" and {len(self.classes) - 20} more" if len(self.classes) > 20 else ""
        problem = f"the label must be one of the model's classes ({shown}{more})"
        return None, f"{problem}, got {_short(label)}"


def _generic_problem(label: Any) -> str | None:
    """Why a label can be no model's label, or None."""
    if label is None:
        return "no label"
    if isinstance(label, dict | list | tuple):
        kind = "an object" if isinstance(label, dict) else "a list"
        return f"the label must be a single value, got {kind}"
    if isinstance(label, float) and not math.isfinite(label):
        return f"the label must be a finite value, got {label!r}"
    if isinstance(label, str) and len(label) > MAX_LABEL_LENGTH:
        limit = f"over the limit of {MAX_LABEL_LENGTH:,}"
        return f"the label is text of {len(label):,} characters, {limit}"
    if not isinstance(label, str | int | float):
        return f"the label must be text or a number, got {type(label).__name__}"
    return None


def _finite_number(label: Any) -> float | None:
    if isinstance(label, bool):
        return None
    if isinstance(label, int | float):
        return float(label)
    try:
        number = float(str(label).strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _same_class(label: Any, known: Any) -> bool:
    """Whether a label sent as JSON names the class ``known``."""
    if isinstance(known, bool) or isinstance(label, bool):
        return isinstance(known, bool) and label in (known, str(known).lower(), str(known))
    if isinstance(known, int | float) and not isinstance(label, str):
        return bool(label == known)
    if isinstance(known, int | float):  # "1" for class 1, "1.0" for class 1.0
        number = _finite_number(label)
        return number is not None and number == known
    return str(label) == str(known) if isinstance(label, str) else str(label) == known


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}..."


@dataclass
class FeedbackResult:
    """How many labels were stored, and each one refused with its reason."""

    accepted: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)


def attach_feedback(
    store: Store,
    request_log: str | os.PathLike[str],
    model: str,
    records: Iterable[Any],
    *,
    target: LabelTarget | None = None,
) -> FeedbackResult:
    """Attach labels to logged requests of ``model``.

    Args:
        store: Where labels are kept.
        request_log: The request log's folder or URL (to check that the requests exist).
        model: The model's name.
        records: ``{"request_id": ..., "label": ..., "row": 0}`` each; ``row`` is the record
            within the request (0 by default).
        target: What the model's labels must be (``LabelTarget.of(package)``); without
            it, only what can be no model's label is refused.

    Returns:
        The accepted count and the rejected records with their reason (not an object, an
        unknown request id, a row the request did not have, no label, or a label the
        model's target cannot have).
    """
    known = _known_records(request_log, model)
    target = target or LabelTarget("any")
    result = FeedbackResult()
    labels = []
    for i, record in enumerate(records):
        if not isinstance(record, Mapping):
            problem = f"expected an object with request_id and label, got {_short(record)}"
            result.rejected.append({"index": i, "request_id": None, "row": None, "reason": problem})
            continue
        request_id, row = record.get("request_id", ""), record.get("row", 0)
        label: Any = None
        reason: str | None = None
        if record.get("label") is None:
            reason = "no label"
        elif not isinstance(request_id, str) or not 0 < len(request_id) <= _SHOWN:
            reason = f"request_id must be the text the service answered, got {_short(request_id)}"
        elif not isinstance(row, int) or isinstance(row, bool) or row < 0:
            reason = f"row must be an integer >= 0, got {_short(row)}"
        elif request_id not in known:
            reason = f"no request {request_id!r} of model {model!r} in the request log"
        elif row >= known[request_id]:
            reason = (
                f"request {request_id!r} had {known[request_id]} record(s); there is no row {row}"
            )
        else:
            label, reason = target.check(record.get("label"))
        if reason:
            shown_id = request_id[:_SHOWN] if isinstance(request_id, str) else None
            shown_row = row if isinstance(row, int) else None
            rejected = {"index": i, "request_id": shown_id, "row": shown_row, "reason": reason}
            result.rejected.append(rejected)
        else:
            labels.append((request_id, row, label))
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


def _known_records(root: str | os.PathLike[str], model: str) -> dict[str, int]:
    """request id -> number of records, from the request log."""
    from ..requestlog import has_requests, read_request_log

    if not has_requests(root, model):
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
