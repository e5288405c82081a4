"""The content-addressed artifact store: layout, dedupe, verified reads, temp files."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import socket
import uuid
from pathlib import Path

import fsspec
import numpy as np
import pytest

from loopline.artifacts import (
    ArtifactStore,
    BaseMaterializer,
    MaterializerRegistry,
    StoredBlob,
    sha256_file,
)
from loopline.errors import (
    ArtifactIntegrityError,
    ArtifactNotFoundError,
    BackendUnavailableError,
    ConfigError,
    IntegrityError,
    MaterializationError,
    NotFoundError,
)


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def json_sha(value: object) -> str:
    """The sha256 the json materializer's file of ``value`` has."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


# -- writing -----------------------------------------------------------------------------


def test_a_new_store_lays_out_its_folders(root: Path, artifact_store: ArtifactStore) -> None:
    assert (root / "objects").is_dir()
    assert (root / "tmp").is_dir()
    assert repr(artifact_store) == f"ArtifactStore({str(root)!r})"


def test_save_names_the_blob_by_its_sha256(root: Path, artifact_store: ArtifactStore) -> None:
    blob = artifact_store.save({"accuracy": 0.93})
    sha = json_sha({"accuracy": 0.93})
    assert blob == StoredBlob(
        uri=str(root / "objects" / sha[:2] / sha),
        sha256=sha,
        size=len(json.dumps({"accuracy": 0.93})),
        type="dict",
        materializer="json",
        metadata={"python_type": "dict"},
    )
    assert sha256_file(blob.uri) == sha
    assert files_under(root) == [Path(blob.uri)]


def test_identical_content_is_stored_once(root: Path, artifact_store: ArtifactStore) -> None:
    blobs = [artifact_store.save({"b": 2, "a": 1}), artifact_store.save({"a": 1, "b": 2})]
    assert blobs[0] == blobs[1]
    other = artifact_store.save({"a": 1, "b": 3})
    assert other.uri != blobs[0].uri
    assert len(files_under(root / "objects")) == 2


def test_save_with_an_explicit_materializer(artifact_store: ArtifactStore) -> None:
    blob = artifact_store.save([1, 2], materializer="json")
    assert blob.materializer == "json"
    with pytest.raises(
        MaterializationError, match=re.escape("No materializer named 'nope' is installed")
    ):
        artifact_store.save([1, 2], materializer="nope")


def test_sha256_file_reads_in_chunks(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    data = os.urandom((1 << 20) * 2 + 17)
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert sha256_file(str(empty)) == hashlib.sha256(b"").hexdigest()


class Partial(BaseMaterializer):
    """Writes part of a file, then raises."""

    name = "partial"

    @classmethod
    def can_save(cls, value: object) -> bool:
        return isinstance(value, str) and value == "partial"

    def _save(self, value: object, path: Path) -> dict[str, object]:
        path.write_bytes(b"\x00" * 1000)
        raise OSError("no space left on device")

    def _load(self, path: Path) -> object:  # pragma: no cover - never saved
        raise NotImplementedError


def test_no_temporary_files_are_left_after_success_or_failure(
    root: Path, registry: MaterializerRegistry, artifact_store: ArtifactStore, tmp_path: Path
) -> None:
    registry.register(Partial)
    artifact_store.save({"a": 1})
    artifact_store.save({"a": 1})  # deduplicated: its temporary copy is dropped
    artifact_store.save(np.arange(3))
    (tmp_path / "folder").mkdir()
    artifact_store.save(tmp_path / "folder")
    assert list((root / "tmp").iterdir()) == []
    with pytest.raises(
        MaterializationError,
        match=re.escape(
            "The partial materializer could not save a value of type str: no space left on device"
        ),
    ):
        artifact_store.save("partial")
    with pytest.raises(MaterializationError, match="dtype object"):
        artifact_store.save(np.array([None]))
    assert list((root / "tmp").iterdir()) == []
    assert len(files_under(root / "objects")) == 3


def test_an_unwritable_object_folder_is_backend_unavailable(
    root: Path, artifact_store: ArtifactStore
) -> None:
    sha = json_sha({"a": 1})
    (root / "objects" / sha[:2]).write_text("a file where a folder should be", encoding="utf-8")
    with pytest.raises(
        BackendUnavailableError,
        match=re.escape(f"Could not write to the artifact store at {root}: "),
    ) as info:
        artifact_store.save({"a": 1})
    assert info.value.url == str(root)
    assert list((root / "tmp").iterdir()) == []


@pytest.mark.parametrize(
    "url",
    [
        "nosuchprotocol://bucket/prefix",
        pytest.param(
            "s3://bucket/prefix",
            marks=pytest.mark.skipif(
                importlib.util.find_spec("s3fs") is not None, reason="s3fs is installed"
            ),
        ),
    ],
)
def test_an_unusable_url_is_a_config_error(url: str) -> None:
    with pytest.raises(
        ConfigError, match=re.escape(f"The artifact store URL {url!r} cannot be used: ")
    ) as info:
        ArtifactStore(url)
    assert info.value.value == url
    assert "pip install" in info.value.hint


# -- reading -----------------------------------------------------------------------------


def test_load_verifies_and_reads(artifact_store: ArtifactStore) -> None:
    blob = artifact_store.save({"a": [1, 2]})
    assert artifact_store.exists(blob.uri)
    with artifact_store.local_copy(blob.uri, blob.sha256) as path:
        assert path == Path(blob.uri)
        assert json.loads(path.read_text(encoding="utf-8")) == {"a": [1, 2]}
    assert artifact_store.load(blob.uri, blob.sha256, blob.materializer) == {"a": [1, 2]}


def test_a_deleted_file_is_artifact_not_found(artifact_store: ArtifactStore) -> None:
    blob = artifact_store.save({"a": 1})
    os.remove(blob.uri)
    assert not artifact_store.exists(blob.uri)
    message = (
        f"The artifact {blob.sha256[:12]}… is recorded in the store "
        f"but its file {blob.uri} is gone."
    )
    with pytest.raises(ArtifactNotFoundError, match=re.escape(message)) as info:
        artifact_store.load(blob.uri, blob.sha256, blob.materializer)
    assert (info.value.uri, info.value.sha256) == (blob.uri, blob.sha256)
    assert "Rerun the step" in info.value.hint
    assert isinstance(info.value, NotFoundError)
    # Saving the same content again brings it back.
    assert artifact_store.save({"a": 1}).uri == blob.uri
    assert artifact_store.load(blob.uri, blob.sha256, blob.materializer) == {"a": 1}


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda p: p.write_text('{"a": 2}', encoding="utf-8"), id="rewritten"),
        pytest.param(lambda p: p.write_bytes(b""), id="emptied"),
        pytest.param(lambda p: p.write_bytes(p.read_bytes() + b" "), id="appended"),
    ],
)
def test_an_altered_file_is_artifact_integrity_error(artifact_store: ArtifactStore, tamper) -> None:
    blob = artifact_store.save({"a": 1})
    tamper(Path(blob.uri))
    actual = sha256_file(blob.uri)
    message = (
        f"The artifact at {blob.uri} was altered on disk: its sha256 is {actual[:12]}…, "
        f"the store recorded {blob.sha256[:12]}…."
    )
    with pytest.raises(ArtifactIntegrityError, match=re.escape(message)) as info:
        artifact_store.load(blob.uri, blob.sha256, blob.materializer)
    assert (info.value.uri, info.value.sha256) == (blob.uri, blob.sha256)
    assert isinstance(info.value, IntegrityError)
    with pytest.raises(ArtifactIntegrityError), artifact_store.local_copy(blob.uri, blob.sha256):
        pass  # pragma: no cover - never entered


def test_saving_again_repairs_an_altered_blob(artifact_store: ArtifactStore) -> None:
    blob = artifact_store.save({"a": 1})
    Path(blob.uri).write_text('{"a": 2}', encoding="utf-8")
    assert artifact_store.save({"a": 1}).uri == blob.uri
    assert artifact_store.load(blob.uri, blob.sha256, blob.materializer) == {"a": 1}


# -- non-local filesystems (fsspec memory://, and S3 on a test server) ---------------------


def test_remote_store_save_and_load(
    remote_url: str, remote_store: ArtifactStore, system_tmp: Path
) -> None:
    blob = remote_store.save({"accuracy": 0.93})
    sha = json_sha({"accuracy": 0.93})
    assert blob.sha256 == sha
    assert blob.uri.startswith(remote_url.split("://")[0] + "://")
    assert blob.uri.endswith(f"/objects/{sha[:2]}/{sha}")
    assert remote_store.exists(blob.uri)
    assert remote_store.load(blob.uri, blob.sha256, blob.materializer) == {"accuracy": 0.93}
    assert remote_store.save({"accuracy": 0.93}) == blob

    fs, path = fsspec.core.url_to_fs(remote_url)
    assert fs.cat_file(f"{path}/objects/{sha[:2]}/{sha}") == json.dumps({"accuracy": 0.93}).encode()
    assert fs.find(f"{path}/tmp") == []  # staging copies were moved into place
    assert list(system_tmp.iterdir()) == []  # local scratch and download copies are gone


def test_remote_store_missing_blob(remote_store: ArtifactStore, system_tmp: Path) -> None:
    blob = remote_store.save([1, 2, 3])
    fs, path = fsspec.core.url_to_fs(blob.uri)
    fs.rm(path)
    assert not remote_store.exists(blob.uri)
    with pytest.raises(ArtifactNotFoundError, match=re.escape(f"its file {blob.uri} is gone")):
        remote_store.load(blob.uri, blob.sha256, blob.materializer)


def test_remote_store_altered_blob(remote_store: ArtifactStore) -> None:
    blob = remote_store.save([1, 2, 3])
    fs, path = fsspec.core.url_to_fs(blob.uri)
    fs.pipe_file(path, b"[1, 2, 4]")
    with pytest.raises(
        ArtifactIntegrityError, match=re.escape(f"The artifact at {blob.uri} was altered on disk")
    ):
        remote_store.load(blob.uri, blob.sha256, blob.materializer)


def test_remote_store_altered_blob_leaves_no_download_behind(
    remote_store: ArtifactStore, system_tmp: Path
) -> None:
    blob = remote_store.save([1, 2, 3])
    fs, path = fsspec.core.url_to_fs(blob.uri)
    fs.pipe_file(path, b"[1, 2, 4]")
    with pytest.raises(ArtifactIntegrityError):
        remote_store.load(blob.uri, blob.sha256, blob.materializer)
    assert list(system_tmp.iterdir()) == []


def test_remote_store_failed_save_leaves_nothing(
    remote_url: str, registry: MaterializerRegistry, remote_store: ArtifactStore, system_tmp: Path
) -> None:
    registry.register(Partial)
    with pytest.raises(MaterializationError, match="no space left on device"):
        remote_store.save("partial")
    fs, path = fsspec.core.url_to_fs(remote_url)
    assert not fs.exists(f"{path}/objects") or fs.find(f"{path}/objects") == []
    assert list(system_tmp.iterdir()) == []


# -- crashes and moves (issue 10, item 10) -----------------------------------------------

_SLOW_WRITER = """
import sys, time
from pathlib import Path
from loopline.artifacts import ArtifactStore, BaseMaterializer, MaterializerRegistry

class Slow(BaseMaterializer):
    name = "test.slow"

    @classmethod
    def can_save(cls, value):
        return isinstance(value, bytes)

    def _save(self, value, path):
        with open(path, "wb") as fh:
            fh.write(value)
            fh.flush()
            Path(sys.argv[2]).touch()
            time.sleep(600)
        return {}

    def _load(self, path):
        return path.read_bytes()

registry = MaterializerRegistry()
registry.register(Slow)
ArtifactStore(sys.argv[1], registry=registry).save(b"x" * (8 << 20))
"""


def test_kill_9_mid_write_leaves_a_temp_file_the_next_store_removes(
    root: Path, tmp_path: Path
) -> None:
    import signal
    import subprocess
    import sys
    import time

    kept = ArtifactStore(root).save({"kept": True})
    marker = tmp_path / "writing"
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, str(root), str(marker)])
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the writer never wrote"
        time.sleep(0.05)
    [left] = list((root / "tmp").iterdir())
    assert left.name.startswith(f"write-{proc.pid}-") and left.stat().st_size == 8 << 20
    assert ArtifactStore(root).removed_tmp == 0  # its writer is alive: left alone
    assert left.exists()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    store = ArtifactStore(root)

    assert store.removed_tmp == 1
    assert list((root / "tmp").iterdir()) == []
    assert store.load(kept.uri, kept.sha256, kept.materializer) == {"kept": True}


def test_temp_files_of_unknown_writers_go_once_old(root: Path) -> None:
    tmp = root / "tmp"
    tmp.mkdir(parents=True)
    mine = tmp / f"write-{os.getpid()}-abc"
    recent = tmp / "write-legacy1"  # the name earlier versions gave: no pid
    old = tmp / "write-legacy2"
    for path in (mine, recent, old):
        path.write_bytes(b"partial")
    two_days_ago = os.path.getmtime(old) - 2 * 24 * 3600
    os.utime(old, (two_days_ago, two_days_ago))

    store = ArtifactStore(root)

    assert store.removed_tmp == 1
    assert sorted(p.name for p in tmp.iterdir()) == sorted([mine.name, recent.name])


def test_errors_after_the_store_moved_name_where_the_blob_is_now(tmp_path: Path) -> None:
    first = tmp_path / "before" / "artifacts"
    blob = ArtifactStore(first).save({"a": 1})
    moved = tmp_path / "after" / "artifacts"
    moved.parent.mkdir()
    os.rename(first, moved)
    store = ArtifactStore(moved)
    now = store.locate(blob.uri)
    assert now.startswith(str(moved))
    with open(now, "w", encoding="utf-8") as fh:
        fh.write('{"a": 2}')

    with pytest.raises(ArtifactIntegrityError, match=re.escape(f"The artifact at {now} was")):
        store.load(blob.uri, blob.sha256, blob.materializer)
    os.remove(now)
    with pytest.raises(ArtifactNotFoundError, match=re.escape(f"its file {now} is gone")) as info:
        store.verify(blob.uri, blob.sha256, blob.size)
    assert str(first) not in str(info.value)


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (
            lambda p: p.write_bytes(p.read_bytes() + b" "),
            "its size is 9 bytes, the store recorded 8",
        ),
        (lambda p: p.write_bytes(p.read_bytes().replace(b"1", b"2")), "its sha256 is "),
    ],
    ids=["size", "bytes"],
)
def test_verify_checks_size_then_hash(artifact_store: ArtifactStore, tamper, message: str) -> None:
    blob = artifact_store.save({"a": 1})
    assert blob.size == 8
    artifact_store.verify(blob.uri, blob.sha256, blob.size)
    tamper(Path(blob.uri))
    with pytest.raises(ArtifactIntegrityError, match=re.escape(message)):
        artifact_store.verify(blob.uri, blob.sha256, blob.size)


# -- S3 failures are ours, and never show the credentials ---------------------------------


def test_a_missing_bucket_is_backend_unavailable_without_the_secret(
    s3_env: dict[str, str], registry: MaterializerRegistry
) -> None:
    store = ArtifactStore("s3://loopline-no-such-bucket/prefix", registry=registry)
    with pytest.raises(
        BackendUnavailableError,
        match=re.escape(
            "Could not write to the artifact store at s3://loopline-no-such-bucket/prefix: "
            "The specified bucket does not exist"
        ),
    ) as info:
        store.save({"a": 1})
    assert "AWS_ENDPOINT_URL" in info.value.hint
    assert s3_env["AWS_SECRET_ACCESS_KEY"] not in str(info.value) + info.value.hint


def test_an_unreachable_endpoint_is_backend_unavailable(
    s3_env: dict[str, str], registry: MaterializerRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    fsspec.get_filesystem_class("s3").clear_instance_cache()  # one made for another endpoint
    store = ArtifactStore(f"s3://loopline-unreachable-{uuid.uuid4().hex[:8]}/p", registry=registry)
    with pytest.raises(
        BackendUnavailableError, match=re.escape("Could not write to the artifact store at s3://")
    ) as info:
        store.save({"a": 1})
    assert "Could not connect to the endpoint URL" in str(info.value)
    with pytest.raises(BackendUnavailableError, match="Could not read the artifact store"):
        store.exists(f"{store.url}/objects/ab/{'ab' * 32}")
    fsspec.get_filesystem_class("s3").clear_instance_cache()
