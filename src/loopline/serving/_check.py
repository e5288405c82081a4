"""``python -m loopline.serving._check PACKAGE_DIR``: serve the package's samples once.

Run by the registry's infra validation in a fresh process. Prints one JSON line:
``{"ok": true, "rows": N}`` or ``{"ok": false, "error": "..."}``.
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    """Load the package as the service does, validate and predict its sample rows, report."""
    try:
        from pathlib import Path

        from ..components import load_package
        from ._service import LoadedModel
        from ._validation import check_frame

        package = load_package(argv[0])
        samples = package.samples()
        checked = check_frame(samples, package.schema, policy="strict")
        checked.raise_for_errors()
        loaded = LoadedModel(package.manifest["name"], 0, package, Path(argv[0]))
        predictions = loaded.predict(checked.frame)
        if len(predictions) != len(samples):
            raise ValueError(f"{len(predictions)} predictions for {len(samples)} rows")
    except Exception as exc:  # noqa: BLE001 - any failure is the verdict, reported as JSON
        print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}))
        return 1
    print(json.dumps({"ok": True, "rows": len(samples)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
