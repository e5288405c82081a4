"""JSON encoding for stored values: compact, sorted, and NaN-free."""

from __future__ import annotations

import json
from typing import Any


def dumps(value: Any) -> str:
    """Canonical JSON: sorted keys, no spaces; non-JSON values fall back to ``str``."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def loads(text: str | None) -> Any:
    """Parse stored JSON; None and empty text read as an empty dict."""
    return json.loads(text) if text else {}
