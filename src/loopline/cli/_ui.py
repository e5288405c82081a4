"""``loopline ui``: the web UI on uvicorn, over the project's store and artifacts."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from ..errors import InvalidInputError
from ._output import console


def ui_command(project: Path | None, *, host: str, port: int) -> None:
    """Build the UI over the project's registry and serve it until interrupted."""
    import uvicorn

    from ..artifacts import ArtifactStore
    from ..config import load_settings
    from ..registry import Registry
    from ..store import Store
    from ..ui import UIOptions, create_ui_app

    _check_address(host, port)
    settings = load_settings(project)
    store = Store(settings.store_url)
    registry = Registry(store, ArtifactStore(settings.artifacts_url), actor="ui")
    options = UIOptions(
        token=os.environ.get("LOOPLINE_TOKEN") or None,
        admin_token=os.environ.get("LOOPLINE_ADMIN_TOKEN") or None,
    )
    access = "open to read" if options.token is None else "reading needs LOOPLINE_TOKEN"
    acting = (
        "actions off (no LOOPLINE_ADMIN_TOKEN)"
        if options.admin_token is None
        else "actions need LOOPLINE_ADMIN_TOKEN"
    )
    console().print(f"Loopline UI on http://{host}:{port} ({access}; {acting})")
    try:
        uvicorn.run(create_ui_app(registry, options), host=host, port=port, log_level="warning")
    finally:
        store.close()


def _check_address(host: str, port: int) -> None:
    """Fail early, with the fix, when the address cannot be listened on."""
    try:
        with socket.create_server((host, port)):
            pass
    except (OSError, OverflowError) as exc:
        raise InvalidInputError(
            f"Cannot listen on {host}:{port}: {exc}.",
            hint="Pick another --port (or --host), or stop what is using this one.",
            value=f"{host}:{port}",
        ) from exc
