"""JSON encoding for stored values: compact, sorted, and NaN-free."""

from __future__ import annotations

import json
import math
from typing import Any


def dumps(value: Any) -> str:
    """Canonical JSON: sorted keys, no spaces; NaN and infinities become null, other
    non-JSON values fall back to ``str``."""
    return json.dumps(
        _finite(value), sort_keys=True, separators=(",", ":"), default=str, allow_nan=False
    )


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def loads(text: str | None) -> Any:
    """Parse stored JSON; None and empty text read as an empty dict."""
    return json.loads(text) if text else {}
