"""ASGI apps for the ``serve --workers`` supervisor's tests (imported by spawned workers)."""

from __future__ import annotations

from typing import Any


async def failing_startup(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An app whose lifespan startup fails: uvicorn does not start serving it."""
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no model today"})


async def dies_after_start(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An app that starts, then its process exits with code 1 a moment later."""
    import asyncio
    import os

    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.complete"})
        asyncio.get_running_loop().call_later(0.2, os._exit, 1)
        await receive()  # shutdown: never comes
