"""Infra validation, as TFX's InfraValidator: can the package serve, in a fresh process?

The package is loaded by the serving code in a new Python process, which answers the
package's holdout sample rows within a time limit. A package that cannot be unpickled
with the installed library versions, that needs a module missing here, or that is too
slow, fails before any alias points at it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

#: Seconds the fresh process may take to load the package and answer its samples.
DEFAULT_TIMEOUT = 60.0


def validate_infra(package_dir: Path, *, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """Load and query the package in a fresh process; return the verdict as JSON.

    Returns:
        ``{"valid": bool, "seconds": float, "rows": int, "error": str | None}``.
    """
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "loopline.serving._check", str(package_dir)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {
            "valid": False,
            "seconds": round(time.perf_counter() - start, 3),
            "rows": 0,
            "error": f"the package did not answer its sample rows within {timeout:.0f} s",
        }
    seconds = round(time.perf_counter() - start, 3)
    lines = done.stdout.strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        answer = {}
    if done.returncode != 0 or not answer.get("ok"):
        error = answer.get("error") or (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"valid": False, "seconds": seconds, "rows": 0, "error": error}
    return {"valid": True, "seconds": seconds, "rows": answer["rows"], "error": None}
