"""pytest at the repository root: the doctests of modules whose optional package is missing
are left out (the boosted candidates need lightgbm / xgboost; the test extras install both)."""

from __future__ import annotations

import importlib.util

_OPTIONAL = {
    "lightgbm": "src/loopline/components/_boosting_lightgbm.py",
    "xgboost": "src/loopline/components/_boosting_xgboost.py",
}

collect_ignore = [
    path for package, path in _OPTIONAL.items() if importlib.util.find_spec(package) is None
]
