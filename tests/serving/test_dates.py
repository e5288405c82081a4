"""Date text in requests and batch files: ISO 8601, and the short forms a CSV holds."""

from __future__ import annotations

import pandas as pd

from loopline.components import ColumnSchema, Schema
from loopline.serving._validation import check_frame

SCHEMA = Schema([ColumnSchema("d", "datetime")])


def test_iso_and_short_non_iso_date_text_parse_alike() -> None:
    frame = pd.DataFrame({"d": ["2012-01-31", "2012/01/31", "Jan 31 2012", None]})

    checked = check_frame(frame, SCHEMA)

    assert checked.ok
    stamps = checked.frame["d"]
    assert (
        stamps.iloc[0] == stamps.iloc[1] == stamps.iloc[2] == pd.Timestamp("2012-01-31", tz="UTC")
    )
    assert pd.isna(stamps.iloc[3])


def test_text_that_is_no_date_is_still_refused() -> None:
    long_text = "31 January " + "x" * 60
    checked = check_frame(pd.DataFrame({"d": ["soon", long_text]}), SCHEMA)
    assert [e.row for e in checked.errors] == [0, 1]
    assert "expected a date and time as ISO 8601 text" in checked.errors[0].message
