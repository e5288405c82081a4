"""Where the request log lives: a local folder, or a prefix on an fsspec filesystem.

A local folder keeps the fast path of ``os`` and ``open`` (temporary files, ``fsync``,
rename). Anything else (``s3://bucket/prefix``, ``gs://...``, ``memory://...``) is an
fsspec filesystem; the writer puts each file as one whole object, as object stores have
no rename and a PUT is atomic. Credentials come only from the usual variables
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``, ...) and fsspec's
own configuration; they are never part of a message or log line (``redact``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loopline.artifacts import backend_errors
from loopline.errors import BackendUnavailableError, ConfigError

__all__ = ["Location", "check_request_log", "location_of", "redact"]

#: Where a user sets the request log's location, for messages.
SETTING = "[serving] request_log in loopline.toml, or LOOPLINE_REQUEST_LOG_URL"

#: Bounded waits for S3, so that an endpoint that does not answer gives an error within
#: seconds rather than botocore's minutes (60 s connect timeout, several retries). An
#: option set in fsspec's configuration (``FSSPEC_S3_CONFIG_KWARGS``...) wins over these.
_S3_CONFIG = {
    "connect_timeout": 5,
    "read_timeout": 30,
    "retries": {"max_attempts": 3, "mode": "standard"},
}
#: Variables whose values must never be shown, even if a backend's message held one.
_SECRETS = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID")
_USERINFO = re.compile(r"(?<=://)[^/@\s]*@")


def redact(text: str) -> str:
    """``text`` without credentials: no ``user:password@`` in URLs, and no value of the
    AWS credential variables (defence in depth: no backend message we know holds one)."""
    text = _USERINFO.sub("", text)
    for name in _SECRETS:
        value = os.environ.get(name)
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    return text


@dataclass(frozen=True)
class Location:
    """A request log's root: a local folder (``folder``) or an fsspec path (``fs``, ``path``).

    Attributes:
        url: The location as given, without credentials (for messages).
        folder: The local folder, or ``None`` for a remote location.
        fs: The fsspec filesystem of a remote location, else ``None``.
        path: The root as the filesystem names it (no trailing ``/``).
    """

    url: str
    folder: Path | None
    fs: Any
    path: str

    @property
    def is_local(self) -> bool:
        """Whether the log is a local folder (written with ``os`` and ``open``)."""
        return self.folder is not None

    def join(self, *parts: str) -> str:
        """The filesystem path of ``parts`` below the root."""
        return "/".join([self.path, *parts])

    def shown(self, path: str) -> str:
        """A path below the root as a URL for messages (``s3://bucket/...``)."""
        if self.folder is not None:
            return path
        return redact(str(self.fs.unstrip_protocol(path)))

    def unavailable(self, verb: str, exc: BaseException) -> BackendUnavailableError:
        """Our error for a backend failure: the URL and the backend's message only."""
        reason = redact(str(exc)) or type(exc).__name__
        return BackendUnavailableError(
            f"Could not {verb} the request log at {self.url}: {reason}",
            hint="Check that the location exists and is reachable, and its endpoint and "
            "credentials (for S3: AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, "
            "AWS_SECRET_ACCESS_KEY, or fsspec's options).",
            url=self.url,
        )

    def check(self) -> None:
        """Check once that a remote location's bucket exists and answers.

        The prefix below the bucket may be absent (the first write makes it).

        Raises:
            ConfigError: The bucket does not exist.
            BackendUnavailableError: The endpoint cannot be reached or refused us.
        """
        if self.fs is None:
            return
        bucket = self.path.split("/", 1)[0]
        try:
            self.fs.info(bucket)
        except FileNotFoundError as exc:
            raise ConfigError(
                f"The bucket {bucket!r} of the request log {self.url} does not exist.",
                hint=f"Create the bucket, or point the request log ({SETTING}) at one that exists.",
                url=self.url,
            ) from exc
        except backend_errors() as exc:
            raise self.unavailable("reach", exc) from exc


def location_of(root: str | os.PathLike[str]) -> Location:
    """The location of a request log given as a local folder or an fsspec URL.

    Raises:
        ConfigError: The URL's scheme is unknown, or its fsspec backend is not installed.
    """
    text = os.fspath(root)
    if "://" not in text or text.startswith("file://"):
        folder = Path(text.removeprefix("file://"))
        return Location(str(folder), folder, None, str(folder))
    import fsspec

    shown = redact(text)
    protocol = text.split("://", 1)[0]
    try:
        fs, path = fsspec.core.url_to_fs(text, **_options(protocol))
    except (ImportError, ValueError) as exc:
        raise ConfigError(
            f"The request log location {shown!r} cannot be used: {redact(str(exc))}.",
            hint=f"Set the request log's location ({SETTING}) to a local folder or an "
            "fsspec URL such as s3://bucket/prefix (pip install 'loopline[s3]' for s3://).",
            value=shown,
        ) from exc
    if "file" in fs.protocol or "local" in fs.protocol:
        folder = Path(path)
        return Location(str(folder), folder, None, str(folder))
    return Location(shown, None, fs, str(path).rstrip("/"))


def check_request_log(root: str | os.PathLike[str]) -> Location:
    """Open a request log's location and check it once (a remote bucket must exist).

    ``loopline serve`` and ``loopline monitor`` call this at startup, so a wrong setting
    fails there with a clear message rather than on the first write or read.

    Raises:
        ConfigError: The URL cannot be used, or its bucket does not exist.
        BackendUnavailableError: The endpoint cannot be reached.
    """
    location = location_of(root)
    location.check()
    return location


def _options(protocol: str) -> dict[str, Any]:
    """Storage options we add for S3: bounded timeouts and retries (under the user's own
    fsspec configuration), and no listings cache."""
    if protocol not in ("s3", "s3a"):
        return {}
    import fsspec.config

    configured = fsspec.config.conf.get("s3", {}).get("config_kwargs") or {}
    # No cached listings: other processes (the replicas) add files all the time, and a
    # reader must see them; each read lists once per day of its window anyway.
    return {"config_kwargs": {**_S3_CONFIG, **configured}, "use_listings_cache": False}
