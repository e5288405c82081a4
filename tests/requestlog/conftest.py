"""Fixtures of the request-log tests: the log in a local folder, and on an S3-protocol
server (when ``LOOPLINE_TEST_S3_ENDPOINT`` names one; skipped otherwise)."""

from __future__ import annotations

from pathlib import Path

import pytest


class LogRoot:
    """Where a test's request log is (``url``: a folder or ``s3://bucket/prefix``), with
    what the tests need to look at or damage its files behind the log's back."""

    def __init__(self, url: Path | str) -> None:
        self.url = url
        self._fs = None
        if isinstance(url, str):
            import s3fs

            self._fs = s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False)
            self._base = url.removeprefix("s3://")

    def files(self) -> list[str]:
        """The part files' paths below the root, sorted."""
        if self._fs is None:
            assert isinstance(self.url, Path)
            return sorted(
                path.relative_to(self.url).as_posix() for path in self.url.rglob("part-*.parquet")
            )
        found = self._fs.find(self._base) if self._fs.exists(self._base) else []
        names = [path.removeprefix(f"{self._base}/") for path in found]
        return sorted(n for n in names if n.rsplit("/", 1)[-1].startswith("part-"))

    def read(self, name: str) -> bytes:
        if self._fs is None:
            return Path(self.url, name).read_bytes()
        return bytes(self._fs.cat_file(f"{self._base}/{name}"))

    def write(self, name: str, data: bytes) -> None:
        if self._fs is None:
            Path(self.url, name).write_bytes(data)
        else:
            self._fs.pipe_file(f"{self._base}/{name}", data)

    def shown(self, name: str) -> str:
        """How the log names the file in messages and ``ReadStats.skipped``."""
        return str(Path(self.url, name)) if self._fs is None else f"{self.url}/{name}"


@pytest.fixture(params=["local", "s3"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> LogRoot:
    """A new request log's location: a local folder, or a prefix in a bucket of its own."""
    if request.param == "s3":
        return LogRoot(f"{request.getfixturevalue('s3_bucket')}/requests")
    return LogRoot(tmp_path)
