"""Hashes that decide caching: of step code, of parameters, and of cache keys."""

from __future__ import annotations

import hashlib
import inspect
import json
import textwrap
from collections.abc import Callable, Mapping, Sequence
from typing import Any

#: Bump when the cache key's recipe changes, so old entries stop matching.
CACHE_FORMAT = 1


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: equal values give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=repr)


def sha256_text(text: str) -> str:
    """The hex sha256 of a text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def code_hash(func: Callable[..., Any]) -> str:
    """Hash of a function's source code (dedented), or of its bytecode without source."""
    try:
        source = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError):
        code = getattr(func, "__code__", None)
        source = repr((code.co_code, code.co_consts)) if code else repr(func)
    return sha256_text(source)


def cache_key(
    code: str,
    params: Mapping[str, Any],
    input_hashes: Mapping[str, str],
    output_names: Sequence[str],
) -> str:
    """The key under which a step run's outputs may be reused.

    It changes exactly when the step's code, its parameters, the content of its inputs
    or the names of its outputs change.
    """
    return sha256_text(
        canonical_json(
            {
                "format": CACHE_FORMAT,
                "code": code,
                "params": dict(params),
                "inputs": dict(input_hashes),
                "outputs": list(output_names),
            }
        )
    )
