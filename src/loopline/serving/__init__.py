"""The prediction service: request parsing and validation, micro-batching, the request log.

This placeholder exports nothing yet; the service's public names are added with the app.
"""

from __future__ import annotations

__all__: list[str] = []
