from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from loopline.errors import ArtifactIntegrityError, ConflictError, InvalidInputError, NotFoundError
from loopline.registry import Registry, parse_ref

from ..conftest import StoreUrls
from .conftest import copy_project


def _register(
    registry: Registry, trained: dict[str, Any], index: int, policy: str = "manual"
) -> Any:
    registered = registry.register_run(trained["runs"][index], name="wine", policy=policy)
    assert registered is not None
    return registered[0]


def test_manual_policy_registers_pending_and_production_needs_approval(
    registry: Registry, trained: dict
) -> None:
    v1 = _register(registry, trained, 0)
    assert (v1.version, v1.status, v1.blessed) == (1, "pending", True)
    assert "accuracy" in v1.metrics
    with pytest.raises(
        ConflictError,
        match=re.escape(
            "Version 1 of 'wine' is pending approval; only an approved version can reach production."
        ),
    ):
        registry.promote("wine", 1)
    registry.promote("wine", 1, alias="staging")  # other aliases do not need approval
    registry.approve("wine", 1, reason="reviewed the card")
    move = registry.promote("wine", 1, reason="first release")
    assert (move.alias, move.version, move.previous) == ("production", 1, None)
    assert registry.resolve("wine@production").version == 1
    assert registry.store.models.get("wine", 1).infra_valid is True


def test_same_package_registers_once(registry: Registry, trained: dict) -> None:
    first = registry.register_run(trained["runs"][0], name="wine")
    again = registry.register_run(trained["runs"][0], name="wine")
    assert first is not None and again is not None
    assert first[1] is True and again[1] is False and again[0].version == 1


def test_auto_policy_approves_with_an_event(registry: Registry, trained: dict) -> None:
    v1 = _register(registry, trained, 0, policy="auto")
    assert v1.status == "approved"
    events = registry.store.events.list(subject_type="model", subject_id="wine/1")
    assert [(e.kind, e.actor) for e in reversed(events)] == [
        ("model.registered", "tester"),
        ("model.approved", "policy:auto"),
    ]


def test_rollback_returns_production_to_the_version_before(
    registry: Registry, trained: dict
) -> None:
    _register(registry, trained, 0, policy="auto")
    _register(registry, trained, 1, policy="auto")
    registry.promote("wine", 1)
    registry.promote("wine", 2, reason="better")
    move = registry.rollback("wine", reason="v2 misbehaves")
    assert (move.version, move.previous) == (1, 2)
    history = registry.store.models.history("wine", "production")
    assert [(m.version, m.previous, m.actor, m.reason) for m in history] == [
        (1, None, "tester", None),
        (2, 1, "tester", "better"),
        (1, 2, "tester", "v2 misbehaves"),
    ]
    kinds = [e.kind for e in registry.store.events.list(kind="alias.*")]
    assert kinds == ["alias.rolled_back", "alias.moved", "alias.moved"]


def test_rollback_without_history_is_refused(registry: Registry, trained: dict) -> None:
    _register(registry, trained, 0, policy="auto")
    registry.promote("wine", 1)
    with pytest.raises(ConflictError, match="has no earlier version to roll back to"):
        registry.rollback("wine")


def test_reject_rules(registry: Registry, trained: dict) -> None:
    _register(registry, trained, 0, policy="auto")
    registry.promote("wine", 1)
    with pytest.raises(
        ConflictError, match=re.escape("Version 1 of 'wine' is behind alias(es) production")
    ):
        registry.reject("wine", 1, reason="bad")
    _register(registry, trained, 1)
    registry.reject("wine", 2, reason="worse on the north slice")
    with pytest.raises(ConflictError, match="was rejected; it cannot take alias 'staging'"):
        registry.promote("wine", 2, alias="staging")
    with pytest.raises(InvalidInputError, match="give a reason"):
        registry.approve("wine", 2, reason="  ")


def test_load_package_gives_the_model_that_was_trained(registry: Registry, trained: dict) -> None:
    _register(registry, trained, 0, policy="auto")
    registry.promote("wine", 1)
    package = registry.load_package("wine@production")
    samples = package.samples()
    by_number = registry.load_package("wine/1").model
    assert list(package.model.predict(samples)) == list(by_number.predict(samples))


def test_altered_package_is_refused(registry: Registry, trained: dict) -> None:
    version = _register(registry, trained, 0, policy="auto")
    record = registry.store.artifacts.get(version.artifact_id)
    with open(registry.artifacts.locate(record.uri), "r+b") as fh:
        fh.seek(100)
        fh.write(b"tampered")
    with pytest.raises(ArtifactIntegrityError, match="was altered on disk"):
        registry.load_package("wine/1")
    with pytest.raises(ArtifactIntegrityError):
        registry.promote("wine", 1)


@pytest.mark.parametrize(
    ("ref", "error", "message"),
    [
        (
            "wien@production",
            NotFoundError,
            "No model named 'wien' in the registry. Did you mean 'wine'?",
        ),
        ("wine@canary", NotFoundError, "Model 'wine' has no alias 'canary'"),
        ("wine/7", NotFoundError, "Model 'wine' has no version 7; its versions are 1 to 1."),
        ("wine@@x", InvalidInputError, "'wine@@x' is not a model reference."),
    ],
)
def test_bad_references(
    registry: Registry, trained: dict, ref: str, error: type, message: str
) -> None:
    _register(registry, trained, 0, policy="auto")
    with pytest.raises(error, match=re.escape(message)):
        registry.resolve(ref)


def test_parse_ref() -> None:
    assert str(parse_ref("wine")) == "wine@production"
    assert parse_ref("wine/3").version == 3
    assert parse_ref("wine@staging").alias == "staging"


def test_infra_validation_failure_blocks_the_alias(
    registry: Registry, trained: dict, tmp_path: Path
) -> None:
    version = _register(registry, trained, 0, policy="auto")
    from loopline.registry import _infra

    broken = tmp_path / "broken"
    broken.mkdir()
    verdict = _infra.validate_infra(broken)
    assert verdict["valid"] is False and "not a Loopline model package" in verdict["error"]
    registry.store.models.record_infra_validation("wine", version.version, False, verdict)
    with pytest.raises(
        ConflictError, match="failed infra validation: .*not a Loopline model package"
    ):
        registry.promote("wine", 1)


def test_load_model_from_a_project(trained: dict, tmp_path: Path, store_urls: StoreUrls) -> None:
    import loopline
    from loopline.artifacts import ArtifactStore
    from loopline.store import Store

    project = tmp_path / "proj"
    url = copy_project(trained, project, store_urls)
    (project / "loopline.toml").write_text(
        f'[store]\nurl = "{url}"\n[artifacts]\nurl = "artifacts"\n'
    )
    with Store(url) as store:
        registry = Registry(store, ArtifactStore(project / "artifacts"))
        registry.register_run(trained["runs"][0], name="wine", policy="auto")
        registry.promote("wine", 1)
    model = loopline.load_model("wine@production", project_dir=project)
    frame = pd.read_csv(project / "wine.csv").drop(columns="target")
    assert len(model.predict(frame)) == len(frame)


# -- the name rule (issue 10) ------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["", "../../evil", "a\nb", "a\x00", "\ud800", "x" * 100_000], ids=lambda n: repr(n[:12])
)
def test_names_and_aliases_that_break_the_rule_are_refused(registry: Registry, name: str) -> None:
    with pytest.raises(InvalidInputError, match="is not a valid model name: names of models"):
        registry.register(name, 1)
    with pytest.raises(InvalidInputError, match="is not a valid alias: names of models"):
        registry.promote("wine", 1, alias=name)
    with pytest.raises(InvalidInputError, match="is not a valid alias"):
        registry.rollback("wine", alias=name)


@pytest.mark.parametrize("version", [0, -1, 2**31, 2**63, True])
def test_versions_outside_the_store_range_are_refused(registry: Registry, version: int) -> None:
    with pytest.raises(InvalidInputError, match="A version number is an integer from 1 to"):
        registry.promote("wine", version)


def _alter_in_place(registry: Registry, version: Any) -> str:
    """Change bytes of a version's package without changing its size; return its path."""
    record = registry.store.artifacts.get(version.artifact_id)
    path = registry.artifacts.locate(record.uri)
    with open(path, "r+b") as fh:
        fh.seek(100)
        byte = fh.read(1)
        fh.seek(100)
        fh.write(bytes([byte[0] ^ 0xFF]))
    return path


def test_an_altered_package_cannot_take_an_alias_after_infra_validation(
    registry: Registry, trained: dict
) -> None:
    _register(registry, trained, 0, policy="auto")
    registry.promote("wine", 1, alias="staging")  # infra validation ran and is recorded
    path = _alter_in_place(registry, registry.store.models.get("wine", 1))

    message = f"Version 1 of 'wine' cannot take alias 'production': The artifact at {path} was "
    with pytest.raises(ArtifactIntegrityError, match=re.escape(message)) as info:
        registry.promote("wine", 1)

    assert "its sha256 is" in str(info.value)
    assert "Restore the package file from a backup" in info.value.hint
    assert (info.value.model, info.value.version) == ("wine", 1)
    assert "production" not in registry.store.models.aliases("wine")
    assert registry.store.events.list(kind="alias.moved")[0].payload["alias"] == "staging"


def test_rollback_onto_an_altered_package_is_refused(registry: Registry, trained: dict) -> None:
    _register(registry, trained, 0, policy="auto")
    _register(registry, trained, 1, policy="auto")
    registry.promote("wine", 1)
    registry.promote("wine", 2)
    _alter_in_place(registry, registry.store.models.get("wine", 1))

    with pytest.raises(ArtifactIntegrityError, match="Version 1 of 'wine' cannot take alias"):
        registry.rollback("wine")

    assert registry.store.models.aliases("wine")["production"] == 2


def test_concurrent_alias_moves_keep_one_unbroken_history(
    registry: Registry, trained: dict
) -> None:
    """Threads with connections of their own move one alias at once (SQLite and PostgreSQL).

    Every move is kept, each names the version the one before it left (no lost update),
    and the alias ends where the last move put it.
    """
    import threading

    for index in (0, 1):
        _register(registry, trained, index, policy="auto")
    moves_per_thread, threads = 15, 6
    barrier = threading.Barrier(threads)
    failures: list[BaseException] = []

    def mover(worker: int) -> None:
        barrier.wait()
        try:
            for i in range(moves_per_thread):
                registry.store.models.move_alias(
                    "wine", "staging", 1 + (worker + i) % 2, actor=f"worker-{worker}"
                )
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    workers = [threading.Thread(target=mover, args=(w,)) for w in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert failures == []
    history = registry.store.models.history("wine", "staging")
    assert len(history) == threads * moves_per_thread
    assert history[0].previous is None
    assert [m.previous for m in history[1:]] == [m.version for m in history[:-1]]
    assert registry.store.models.aliases("wine")["staging"] == history[-1].version


def test_concurrent_checked_moves_let_exactly_one_through(
    registry: Registry, trained: dict
) -> None:
    """Moves that expect the alias where it is now: one wins, the others are told it moved."""
    import threading

    for index in (0, 1):
        _register(registry, trained, index, policy="auto")
    registry.store.models.move_alias("wine", "staging", 1, actor="setup")
    threads = 6
    barrier = threading.Barrier(threads)
    outcomes: list[str] = []

    def mover(worker: int) -> None:
        barrier.wait()
        try:
            registry.store.models.move_alias(
                "wine", "staging", 2, actor=f"worker-{worker}", expect=1
            )
            outcomes.append("moved")
        except ConflictError as exc:
            assert "it moved meanwhile" in str(exc)
            outcomes.append("conflict")

    workers = [threading.Thread(target=mover, args=(w,)) for w in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert sorted(outcomes) == ["conflict"] * (threads - 1) + ["moved"]
    assert [m.version for m in registry.store.models.history("wine", "staging")] == [1, 2]
