"""Artifact records: one row per content, looked up by id or sha256 prefix."""

from __future__ import annotations

import hashlib
import re
import time

import pytest

from loopline.errors import NotFoundError
from loopline.store import Artifact, Store


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def add(
    store: Store, digest: str, *, materializer: str = "json", uri: str | None = None
) -> Artifact:
    return store.artifacts.add(
        uri=uri or f"/objects/{digest[:2]}/{digest}",
        sha256=digest,
        type="dict",
        materializer=materializer,
        size=12,
        metadata={"rows": 3, "columns": ["a", "b"]},
    )


def test_add_and_get(store: Store) -> None:
    before = time.time()
    artifact = add(store, sha("a"))
    assert artifact.sha256 == sha("a")
    assert artifact.uri == f"/objects/{sha('a')[:2]}/{sha('a')}"
    assert (artifact.type, artifact.materializer, artifact.size) == ("dict", "json", 12)
    assert artifact.metadata == {"rows": 3, "columns": ["a", "b"]}
    assert before <= artifact.created_at <= time.time()
    assert store.artifacts.get(artifact.id) == artifact


def test_same_content_shares_one_record(store: Store) -> None:
    first = add(store, sha("a"), uri="/first")
    again = add(store, sha("a"), uri="/second")
    assert again == first
    assert again.uri == "/first"
    other_materializer = add(store, sha("a"), materializer="numpy.npy")
    assert other_materializer.id != first.id


def test_get_unknown(store: Store) -> None:
    with pytest.raises(
        NotFoundError, match=re.escape("No artifact with id 999 in this store.")
    ) as info:
        store.artifacts.get(999)
    assert info.value.artifact_id == 999


def test_find_by_prefix(store: Store) -> None:
    artifact = add(store, sha("a"))
    add(store, sha("b"))
    assert store.artifacts.find(sha("a")[:6]) == artifact
    assert store.artifacts.find(sha("a")) == artifact
    assert store.artifacts.find(sha("a")[:10].upper()) == artifact


def test_find_ambiguous_prefix(store: Store) -> None:
    add(store, "abcdef" + "0" * 58)
    add(store, "abcdef" + "1" * 58)
    with pytest.raises(
        NotFoundError, match=re.escape("The hash prefix 'abcdef' matches several artifacts.")
    ) as info:
        store.artifacts.find("abcdef")
    assert "at least 6 characters" in info.value.hint


@pytest.mark.parametrize("prefix", ["123456", "abc_ef", "abc%ef", "fffffff"])
def test_find_no_match(store: Store, prefix: str) -> None:
    add(store, "abcdef" + "0" * 58)
    with pytest.raises(
        NotFoundError, match=re.escape(f"The hash prefix {prefix!r} matches no artifact.")
    ):
        store.artifacts.find(prefix)


def test_find_prefix_too_short_is_refused(store: Store) -> None:
    add(store, "abcdef" + "0" * 58)
    with pytest.raises(NotFoundError, match="at least 6 characters|'abcd'"):
        store.artifacts.find("abcd")


def test_find_prefix_too_short_does_not_claim_no_match(store: Store) -> None:
    add(store, "abcdef" + "0" * 58)
    with pytest.raises(NotFoundError) as info:
        store.artifacts.find("abcd")
    assert "matches no artifact" not in str(info.value)
