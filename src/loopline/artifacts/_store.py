"""The content-addressed artifact store on fsspec.

Every artifact is one blob named by the sha256 of its bytes,
``<root>/objects/<2 hex>/<64 hex>``; a recorded URI is resolved against the store's
current root, so a project folder can move. Writes go to a temporary name beside the
objects and are renamed into place, so a reader never sees half a blob; identical
content is stored once. Reads hash the bytes again and refuse a blob that does not
match the hash the metadata store recorded.

A temporary file is named ``tmp/write-<pid>-<random>``: a process killed with ``kill -9``
mid-write leaves it behind, and the next :class:`ArtifactStore` opened on the folder
removes the ones whose process is gone (loopline issue 10, item 10).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import (
    ArtifactIntegrityError,
    ArtifactNotFoundError,
    BackendUnavailableError,
    ConfigError,
)
from ._materializers import MaterializerRegistry, materializers, type_name

_CHUNK = 1 << 20
#: Prefix of the temporary files of writes in progress, followed by ``<pid>-``.
_TMP_PREFIX = "write-"
#: A temporary file whose writer cannot be told (an older name, or a platform without a
#: safe liveness check) is removed once it has not changed for this long.
_TMP_MAX_AGE_S = 24 * 3600.0


def backend_errors() -> tuple[type[BaseException], ...]:
    """The exceptions a storage backend raises when it cannot be reached or used.

    fsspec backends raise ``OSError`` subclasses for most failures; s3fs lets botocore's
    own errors through when the endpoint cannot be reached at all (no connection, bad
    endpoint URL, no credentials), so those are ours to translate too.
    """
    errors: list[type[BaseException]] = [OSError]
    try:
        from botocore.exceptions import BotoCoreError
    except ImportError:  # pragma: no cover - botocore comes with s3fs; without it, no S3
        pass
    else:
        errors.append(BotoCoreError)
    return tuple(errors)


@dataclass(frozen=True)
class StoredBlob:
    """What the artifact store wrote: where, its hash and size, and how to read it."""

    uri: str
    sha256: str
    size: int
    type: str
    materializer: str
    metadata: dict[str, Any] = field(default_factory=dict)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The sha256 of a local file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class ArtifactStore:
    """Save values as immutable blobs and load them back, verified.

    Args:
        url: A local folder or any fsspec URL (``s3://bucket/prefix``).
        registry: Materializers to use; the process-wide registry by default.

    Example:
        >>> import tempfile
        >>> store = ArtifactStore(tempfile.mkdtemp())
        >>> blob = store.save({"accuracy": 0.93})
        >>> store.load(blob.uri, blob.sha256, blob.materializer)
        {'accuracy': 0.93}
    """

    def __init__(
        self, url: str | os.PathLike[str], registry: MaterializerRegistry | None = None
    ) -> None:
        import fsspec

        self.url = str(url)
        self.registry = registry or materializers
        try:
            self._fs, root = fsspec.core.url_to_fs(self.url)
        except (ImportError, ValueError) as exc:
            raise ConfigError(
                f"The artifact store URL {self.url!r} cannot be used: {exc}",
                hint="Use a local folder, or install the fsspec backend for the URL's "
                "scheme (pip install 'loopline[s3]' for s3://).",
                value=self.url,
            ) from exc
        self._root = root.rstrip("/")
        self._local = self._fs.protocol in ("file", "local") or "file" in self._fs.protocol
        if self._local:
            Path(self._root, "objects").mkdir(parents=True, exist_ok=True)
            Path(self._root, "tmp").mkdir(parents=True, exist_ok=True)
            self.removed_tmp = _sweep_tmp(Path(self._root, "tmp"))
        else:
            self.removed_tmp = 0

    # -- writing -------------------------------------------------------------------------

    def save(self, value: Any, *, materializer: str | None = None) -> StoredBlob:
        """Materialize ``value`` and store its bytes under their sha256.

        Raises:
            MaterializationError: No materializer can save the value, or saving failed.
            BackendUnavailableError: The storage could not be written.
        """
        chosen = (
            self.registry.by_name(materializer) if materializer else self.registry.for_value(value)
        )
        scratch = Path(self._root, "tmp") if self._local else None
        fd, tmp_name = tempfile.mkstemp(prefix=f"{_TMP_PREFIX}{os.getpid()}-", dir=scratch)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            metadata = chosen.save(value, tmp)
            sha = sha256_file(tmp)
            size = tmp.stat().st_size
            uri = self._put(tmp, sha)
        finally:
            tmp.unlink(missing_ok=True)
        return StoredBlob(uri, sha, size, type_name(value), chosen.name, metadata)

    def _put(self, local: Path, sha: str) -> str:
        final = self._object_path(sha)
        try:
            if self._local:
                # An existing blob is kept unless it was altered: then this write repairs it.
                if not os.path.exists(final) or sha256_file(final) != sha:
                    os.makedirs(os.path.dirname(final), exist_ok=True)
                    os.replace(local, final)  # atomic on one filesystem
            elif not self._fs.exists(final) or self._remote_sha(final) != sha:
                staging = f"{self._root}/tmp/{uuid.uuid4().hex}"
                self._fs.put_file(str(local), staging)
                self._fs.mv(staging, final)
        except backend_errors() as exc:
            raise self._unavailable("write to", exc) from exc
        return self._uri(final)

    def _unavailable(self, verb: str, exc: BaseException) -> BackendUnavailableError:
        # The URL and the backend's message only: credentials come from the environment
        # or fsspec's configuration and are never part of either.
        remote = "" if self._local else " (for S3: AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...)"
        return BackendUnavailableError(
            f"Could not {verb} the artifact store at {self.url}: {exc}",
            hint="Check that the location exists and is writable, and that its credentials "
            f"and endpoint are set{remote}.",
            url=self.url,
        )

    def _remote_sha(self, path: str) -> str:
        digest = hashlib.sha256()
        with self._fs.open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    # -- reading -------------------------------------------------------------------------

    def load(self, uri: str, sha256: str, materializer: str) -> Any:
        """Load the value stored at ``uri`` after checking its bytes against ``sha256``.

        Raises:
            ArtifactNotFoundError: The blob is gone.
            ArtifactIntegrityError: The blob's bytes changed since it was written.
            MaterializationError: The bytes could not be read back as a value.
        """
        reader = self.registry.by_name(materializer)
        with self.local_copy(uri, sha256) as path:
            return reader.load(path)

    def local_copy(self, uri: str, sha256: str) -> _LocalCopy:
        """A context manager giving a verified local path to the blob's bytes."""
        return _LocalCopy(self, uri, sha256)

    def locate(self, uri: str) -> str:
        """Where the blob recorded as ``uri`` is in this store (a path or fsspec path)."""
        return self._path(uri)

    def exists(self, uri: str) -> bool:
        """Whether the blob at ``uri`` is present.

        Raises:
            BackendUnavailableError: The storage could not be reached.
        """
        path = self._path(uri)
        if self._local:
            return os.path.exists(path)
        try:
            return bool(self._fs.exists(path))
        except backend_errors() as exc:
            raise self._unavailable("read", exc) from exc

    def verify(self, uri: str, sha256: str, size: int | None = None) -> None:
        """Check that the blob is present and its bytes are the recorded ones.

        The size is compared first (one ``stat``), then the bytes are hashed: a blob
        altered in place is found whatever its size.

        Raises:
            ArtifactNotFoundError: The blob is gone.
            ArtifactIntegrityError: Its size or sha256 differs from the recorded one.
        """
        path = self._path(uri)
        if not self.exists(uri):
            raise self._missing(uri, sha256)
        actual_size = os.path.getsize(path) if self._local else int(self._fs.size(path))
        if size is not None and actual_size != size:
            raise self._altered(
                uri, sha256, f"its size is {actual_size} bytes, the store recorded {size}"
            )
        actual = sha256_file(path) if self._local else self._remote_sha(path)
        if actual != sha256:
            raise self._altered(
                uri, sha256, f"its sha256 is {actual[:12]}…, the store recorded {sha256[:12]}…"
            )

    def _verify(self, path: str, uri: str, sha256: str) -> None:
        actual = sha256_file(path)
        if actual != sha256:
            raise self._altered(
                uri, sha256, f"its sha256 is {actual[:12]}…, the store recorded {sha256[:12]}…"
            )

    def _altered(self, uri: str, sha256: str, difference: str) -> ArtifactIntegrityError:
        # Name the blob where it is now: a recorded URI may hold the project's old folder.
        return ArtifactIntegrityError(
            f"The artifact at {self._shown(uri)} was altered on disk: {difference}.",
            hint="Restore the file from a backup, or rerun the step that produced it "
            "(loopline run --rerun STEP, or --no-cache) to write it again.",
            uri=uri,
            sha256=sha256,
        )

    def _missing(self, uri: str, sha256: str) -> ArtifactNotFoundError:
        return ArtifactNotFoundError(
            f"The artifact {sha256[:12]}… is recorded in the store but its file "
            f"{self._shown(uri)} is gone.",
            hint="Rerun the step that produced it (loopline run --rerun STEP, or --no-cache) "
            "to write it again.",
            uri=uri,
            sha256=sha256,
        )

    def _shown(self, uri: str) -> str:
        path = self._path(uri)
        return path if self._local else self._fs.unstrip_protocol(path)

    # -- paths ---------------------------------------------------------------------------

    def _object_path(self, sha: str) -> str:
        return f"{self._root}/objects/{sha[:2]}/{sha}"

    def _uri(self, path: str) -> str:
        return path if self._local else self._fs.unstrip_protocol(path)

    def _path(self, uri: str) -> str:
        # Blobs are named by their sha256, so a recorded URI is found under this store's
        # own root even after the project folder (or bucket prefix) moved.
        name = uri.rstrip("/").rsplit("/", 1)[-1]
        if len(name) == 64 and all(c in "0123456789abcdef" for c in name):
            return self._object_path(name)
        return uri if self._local else self._fs._strip_protocol(uri)

    def __repr__(self) -> str:
        return f"ArtifactStore({self.url!r})"


def _sweep_tmp(folder: Path) -> int:
    """Remove temporary files left by writers that were killed; return how many.

    A file named ``write-<pid>-…`` is removed when that process no longer runs; any
    other file once it is older than ``_TMP_MAX_AGE_S``. Files of live writers stay.
    """
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    now = time.time()
    for entry in entries:
        pid = _writer_pid(entry.name)
        try:
            stale = (
                not _is_alive(pid)
                if pid is not None and sys.platform != "win32"
                else now - entry.stat().st_mtime > _TMP_MAX_AGE_S
            )
            if stale and entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed += 1
        except OSError:
            continue  # another process removed or renamed it meanwhile
    return removed


def _writer_pid(name: str) -> int | None:
    if not name.startswith(_TMP_PREFIX):
        return None
    pid, sep, _ = name[len(_TMP_PREFIX) :].partition("-")
    return int(pid) if sep and pid.isdigit() else None


def _is_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (POSIX: signal 0 checks without sending anything)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it runs, as another user
    return True


class _LocalCopy:
    """Verified local path of a blob; a remote blob is downloaded to a temporary file."""

    def __init__(self, store: ArtifactStore, uri: str, sha256: str) -> None:
        self._store, self._uri, self._sha = store, uri, sha256
        self._tmpdir: str | None = None

    def __enter__(self) -> Path:
        store = self._store
        path = store._path(self._uri)
        if not store.exists(self._uri):
            raise store._missing(self._uri, self._sha)
        if not store._local:
            self._tmpdir = tempfile.mkdtemp(prefix="loopline-read-")
            local = os.path.join(self._tmpdir, self._sha)
            try:
                store._fs.get_file(path, local)
            except backend_errors() as exc:
                self.__exit__()
                raise store._unavailable("read", exc) from exc
            path = local
        try:
            store._verify(path, self._uri, self._sha)
        except BaseException:
            self.__exit__()  # __exit__ does not run when __enter__ raises
            raise
        return Path(path)

    def __exit__(self, *exc: object) -> None:
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
