"""One policy table for unseen categories and unknown columns (serving, batch, validate)."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from loopline.components import (
    POLICIES,
    ColumnSchema,
    Schema,
    check_policy,
    policy_severity,
    validate,
)
from loopline.errors import InvalidInputError
from loopline.serving._validation import check_frame

SCHEMA = Schema(
    [
        ColumnSchema("colour", "categorical", nullable=False, categories=["blue", "red"]),
        ColumnSchema("amount", "numeric", nullable=False, min=0.0, max=10.0),
    ]
)


@pytest.mark.parametrize("policy", POLICIES)
def test_validate_and_check_frame_judge_an_unseen_category_alike(policy: str) -> None:
    frame = pd.DataFrame({"colour": ["red", "purple"], "amount": [1.0, 2.0]})

    report = validate(frame, SCHEMA, policy=policy)  # type: ignore[arg-type]
    checked = check_frame(frame, SCHEMA, policy=policy)  # type: ignore[arg-type]

    expected = policy_severity("unseen_category", policy)  # type: ignore[arg-type]
    assert [(a.kind, a.severity) for a in report.anomalies] == [("unseen_category", expected)]
    found = checked.errors if expected == "error" else checked.warnings
    assert [(e.row, e.field) for e in found] == [(1, "colour")]
    assert (checked.warnings if expected == "error" else checked.errors) == []


def test_lenient_messages_say_what_happens() -> None:
    frame = pd.DataFrame({"colour": ["purple"], "amount": [1.0]})
    report = validate(frame, SCHEMA, policy="lenient")
    assert report.anomalies[0].message.endswith(
        "Allowed by the lenient policy: the model's encoder treats them as unknown."
    )
    strict = validate(frame, SCHEMA)
    assert "or use the lenient policy." in strict.anomalies[0].message


def test_the_table() -> None:
    assert [policy_severity(c, "strict") for c in ("unseen_category", "unknown_column")] == [
        "error",
        "error",
    ]
    assert [policy_severity(c, "lenient") for c in ("unseen_category", "unknown_column")] == [
        "warning",
        "warning",
    ]


@pytest.mark.parametrize("bad", ["Strict", "", None, 1])
def test_unknown_policies_are_refused(bad: object) -> None:
    message = f"The 'policy' argument must be 'strict' or 'lenient'. Got {bad!r} instead."
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        check_policy(bad)
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        validate(pd.DataFrame({"colour": ["red"]}), SCHEMA, policy=bad)  # type: ignore[arg-type]
