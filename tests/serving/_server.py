"""A prediction service on a real uvicorn server on 127.0.0.1, and requests to it."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sklearn.datasets import load_wine

from loopline.artifacts import ArtifactStore
from loopline.config import load_settings
from loopline.registry import Registry
from loopline.serving import PredictionService, ServingOptions, create_app
from loopline.store import Store

TOKEN, ADMIN = "s3cret-token", "admin-token"


class Server:
    """A uvicorn server in a thread, and a registry on the same project."""

    def __init__(
        self, project: Path, service_args: dict[str, Any], options: ServingOptions
    ) -> None:
        settings = load_settings(project)
        self.store = Store(settings.store_url)
        self.registry = Registry(self.store, ArtifactStore(settings.artifacts_url), actor="test")
        self.project = project
        self.service = PredictionService(
            self.registry,
            service_args.pop("primary", "wine@production"),
            options=options,
            **service_args,
        )
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        config = uvicorn.Config(
            create_app(self.service), host="127.0.0.1", port=self.port, log_level="error"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError("the server did not become ready")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.store.close()


def _records(n: int = 5, start: int = 0) -> list[dict[str, Any]]:
    frame = load_wine(as_frame=True).frame.drop(columns="target")
    return json.loads(frame.iloc[start : start + n].to_json(orient="records"))


def _post(
    server: Server, path: str, body: Any, *, token: str | None = TOKEN, raw: bytes | None = None
) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    content = raw if raw is not None else json.dumps(body).encode()
    return httpx.post(f"{server.url}{path}", content=content, headers=headers, timeout=30)
