"""Hypothesis strategies shared by the test suite.

Values stay within what every store backend keeps exactly: text without NUL (which
PostgreSQL refuses), integers within a 32-bit ``INTEGER`` column, finite floats where a
``FLOAT`` column stores them, and keys no longer than their ``VARCHAR`` column.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

#: Text any backend stores and returns unchanged.
safe_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00"),
    max_size=40,
)

#: Non-empty keys (metric, param and tag names; event kinds and subjects).
keys = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00"),
    min_size=1,
    max_size=40,
)

int32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
finite_floats = st.floats(allow_nan=False, allow_infinity=False)


def json_values(*, allow_infinity: bool = False, max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """JSON-able values without NaN: None, bools, ints, floats, text, lists, str-keyed dicts.

    NaN is left out because ``nan != nan`` makes a round trip unequal by definition.
    """
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=allow_infinity)
        | st.text()
    )
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=5)
            | st.dictionaries(st.text(max_size=10), children, max_size=5)
        ),
        max_leaves=max_leaves,
    )


#: ``(key, value, step, timestamp)`` tuples as ``TrackingStore.write`` takes them.
metric_rows = st.lists(
    st.tuples(keys, finite_floats, st.none() | int32, finite_floats),
    max_size=20,
)

#: Param batches: keys to JSON-able values.
param_dicts = st.dictionaries(keys, json_values(), max_size=10)

#: Tag batches: keys to text.
tag_dicts = st.dictionaries(keys, safe_text, max_size=10)

#: Keyword arguments of ``EventLog.append``.
event_specs = st.fixed_dictionaries(
    {
        "kind": keys,
        "subject_type": keys,
        "subject_id": keys,
        "actor": keys,
        "reason": st.none() | safe_text,
        "payload": st.dictionaries(st.text(max_size=10), json_values(), max_size=5),
    }
)
