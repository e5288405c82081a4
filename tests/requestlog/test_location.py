"""Where the request log lives: bad locations fail at once, clearly, and never show
credentials."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

from loopline.errors import ConfigError
from loopline.requestlog import (
    RequestLog,
    append_error,
    check_request_log,
    count_errors,
    has_requests,
    read_request_log,
)
from loopline.requestlog._location import location_of, redact

NOW = datetime(2024, 5, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "call",
    [
        lambda url: RequestLog(url),
        lambda url: read_request_log(url, "churn"),
        lambda url: append_error(url, "churn", 500, "boom"),
        lambda url: count_errors(url, "churn", None, NOW),
        lambda url: has_requests(url, "churn"),
        check_request_log,
    ],
    ids=["RequestLog", "read", "append_error", "count_errors", "has_requests", "check"],
)
def test_an_unknown_scheme_names_the_setting_and_the_fix(call: object) -> None:
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "The request log location 'foo://x' cannot be used: Protocol not known: foo."
        ),
    ) as info:
        call("foo://x")  # type: ignore[operator]
    assert info.value.hint == (
        "Set the request log's location ([serving] request_log in loopline.toml, or "
        "LOOPLINE_REQUEST_LOG_URL) to a local folder or an fsspec URL such as "
        "s3://bucket/prefix (pip install 'loopline[s3]' for s3://)."
    )


@pytest.mark.parametrize("given", ["logs/requests", "file:///srv/requests"])
def test_local_folders_and_file_urls_take_the_local_path(tmp_path: Path, given: str) -> None:
    location = location_of(given)
    assert location.is_local and location.fs is None
    assert location.folder == Path(given.removeprefix("file://"))


def test_credentials_in_a_url_or_the_environment_are_never_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "loopline-secret-XYZ")
    assert redact("s3://key:pass@bucket/x failed: loopline-secret-XYZ") == (
        "s3://bucket/x failed: ***"
    )
    with pytest.raises(ConfigError) as info:
        location_of("foo://user:loopline-secret-XYZ@host/x")
    assert "loopline-secret-XYZ" not in str(info.value) + str(info.value.hint)
    assert "foo://host/x" in str(info.value)


def test_a_missing_bucket_fails_when_the_log_is_opened(s3_env: dict[str, str]) -> None:
    bucket = f"loopline-missing-{uuid.uuid4().hex[:12]}"
    url = f"s3://{bucket}/requests"
    message = f"The bucket '{bucket}' of the request log {url} does not exist."
    for call in (RequestLog, check_request_log):
        with pytest.raises(ConfigError, match=re.escape(message)) as info:
            call(url)
        assert info.value.hint == (
            "Create the bucket, or point the request log ([serving] request_log in "
            "loopline.toml, or LOOPLINE_REQUEST_LOG_URL) at one that exists."
        )


def test_a_missing_prefix_in_an_existing_bucket_is_an_empty_log(s3_bucket: str) -> None:
    url = f"{s3_bucket}/not/yet/written"
    check_request_log(url)
    assert not has_requests(url, "churn")
    frame, stats = read_request_log(url, "churn")
    assert len(frame) == 0 and stats.files_read == 0
    assert count_errors(url, "churn", None, NOW) == 0
