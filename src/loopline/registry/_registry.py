"""The model registry: versions, approvals, aliases, infra validation, rollback.

Every change is an event in the store's log, with actor, time and reason. Rules:

- a version's status is ``pending`` until approved (``manual`` policy) or ``approved`` at
  once (``auto`` policy); ``rejected`` versions can take no alias;
- only an ``approved`` version can become ``production``;
- before an alias points at a version, the version passes infra validation (its package
  answers its sample rows in a fresh process), once per version;
- ``rollback`` points an alias back at the version it pointed at before its last move.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import check_name
from ..errors import (
    ArtifactIntegrityError,
    ArtifactNotFoundError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from ._infra import DEFAULT_TIMEOUT, validate_infra
from ._refs import ModelRef, check_version, parse_ref

if TYPE_CHECKING:
    from ..artifacts import ArtifactStore
    from ..components import ModelPackage
    from ..store import AliasMove, ModelVersion, Store

PRODUCTION = "production"
POLICIES = ("auto", "manual")


class Registry:
    """Register, approve, promote and load model versions.

    Args:
        store: The metadata store (versions, aliases and events live there).
        artifacts: The artifact store holding the model packages.
        actor: Who acts, recorded with every event; ``user@host`` by default.
    """

    def __init__(self, store: Store, artifacts: ArtifactStore, *, actor: str | None = None) -> None:
        from ..store import default_actor

        self.store = store
        self.artifacts = artifacts
        self.actor = actor or default_actor()

    # -- registering -----------------------------------------------------------------------

    def register(
        self,
        name: str,
        package_artifact_id: int,
        *,
        run_id: str | None = None,
        blessed: bool | None = None,
        metrics: dict[str, Any] | None = None,
        policy: str = "manual",
        reason: str | None = None,
    ) -> tuple[ModelVersion, bool]:
        """Register a model package as a new version (or find it if registered before).

        Returns:
            The version and whether it is new.

        Raises:
            InvalidInputError: ``policy`` is not ``auto`` or ``manual``, or ``name`` breaks
                the name rule (``loopline.config.NAME_RULE``).
        """
        check_name(name, what="model name")
        if policy not in POLICIES:
            raise InvalidInputError(
                f"Unknown approval policy {policy!r}. Use one of: {', '.join(POLICIES)}.",
                hint='Set [model] approval = "manual" or "auto" in loopline.toml.',
                value=policy,
            )
        status = "approved" if policy == "auto" else "pending"
        version, created = self.store.models.register(
            name,
            package_artifact_id,
            status=status,
            run_id=run_id,
            blessed=blessed,
            metrics=metrics,
        )
        if created:
            self._event("model.registered", version, reason, {"run_id": run_id, "policy": policy})
            if policy == "auto":
                self._event(
                    "model.approved", version, "approval policy is auto", actor="policy:auto"
                )
        return version, created

    def register_run(
        self, run_id: str, *, name: str, policy: str = "manual"
    ) -> tuple[ModelVersion, bool] | None:
        """Register the package of a standard training run, if the run blessed it.

        Returns:
            The version and whether it is new, or None when the candidate was not blessed.

        Raises:
            NotFoundError: The run has no package or blessing (not a standard training run).
        """
        outputs = self._outputs(run_id)
        if "package" not in outputs or "blessing" not in outputs:
            raise NotFoundError(
                f"Run {run_id[:8]} has no model package and blessing to register.",
                hint="Register the packages of standard training runs ('loopline run').",
                run_id=run_id,
            )
        blessing = outputs["blessing"]
        verdict = self.artifacts.load(blessing.uri, blessing.sha256, blessing.materializer)
        if not verdict["blessed"]:
            return None
        evaluation = outputs.get("evaluation")
        metrics = (
            self.artifacts.load(evaluation.uri, evaluation.sha256, evaluation.materializer)[
                "metrics"
            ]
            if evaluation is not None
            else {}
        )
        return self.register(
            name,
            outputs["package"].id,
            run_id=run_id,
            blessed=True,
            metrics=metrics,
            policy=policy,
            reason="blessed by its training run",
        )

    def _outputs(self, run_id: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for step_run in self.store.runs.steps(run_id):
            if step_run.status in ("succeeded", "cached"):
                found.update(self.store.runs.step_outputs(step_run.id))
        return found

    # -- approval --------------------------------------------------------------------------

    def approve(self, name: str, version: int, *, reason: str) -> ModelVersion:
        """Approve a version, so that it may reach production.

        Raises:
            NotFoundError: No such version.
            InvalidInputError: No reason was given.
        """
        self._require_reason(reason, "approve")
        current = self.store.models.get(name, version)
        updated = self.store.models.set_status(name, version, "approved")
        if current.status != "approved":
            self._event("model.approved", updated, reason)
        return updated

    def reject(self, name: str, version: int, *, reason: str) -> ModelVersion:
        """Reject a version: it can take no alias.

        Raises:
            NotFoundError: No such version.
            ConflictError: The version is behind an alias now; move the alias first.
            InvalidInputError: No reason was given.
        """
        self._require_reason(reason, "reject")
        holding = [a for a, v in self.store.models.aliases(name).items() if v == version]
        if holding:
            raise ConflictError(
                f"Version {version} of {name!r} is behind alias(es) {', '.join(holding)}; "
                "a rejected version cannot serve.",
                hint=f"Move the alias first (loopline models rollback {name}), then reject.",
                model=name,
                version=version,
            )
        updated = self.store.models.set_status(name, version, "rejected")
        self._event("model.rejected", updated, reason)
        return updated

    # -- aliases ---------------------------------------------------------------------------

    def promote(
        self,
        name: str,
        version: int,
        *,
        alias: str = PRODUCTION,
        reason: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> AliasMove:
        """Point ``alias`` at ``version`` after checking approval and infra validation.

        Raises:
            InvalidInputError: The name or alias breaks the name rule, or the version is
                not a version number.
            NotFoundError: No such version.
            ConflictError: The version is rejected, not approved (for production), or
                failed infra validation.
        """
        check_name(name, what="model name")
        check_name(alias, what="alias")
        check_version(version)
        target = self.store.models.get(name, version)
        if target.status == "rejected":
            raise ConflictError(
                f"Version {version} of {name!r} was rejected; it cannot take alias {alias!r}.",
                hint="Approve it again first if that was a mistake.",
                model=name,
                version=version,
            )
        if alias == PRODUCTION and target.status != "approved":
            raise ConflictError(
                f"Version {version} of {name!r} is {target.status} approval; only an approved "
                "version can reach production.",
                hint=f"Approve it: loopline models approve {name} {version} --reason TEXT.",
                model=name,
                version=version,
            )
        # The alias must not move onto bytes the server would refuse (issue 10, item 7).
        self.verify_package(target, alias=alias)
        self.check_infra(name, version, timeout=timeout)
        move = self.store.models.move_alias(name, alias, version, actor=self.actor, reason=reason)
        self._event(
            "alias.moved",
            target,
            reason,
            {"alias": alias, "version": version, "previous": move.previous},
        )
        return move

    def rollback(
        self, name: str, *, alias: str = PRODUCTION, reason: str | None = None
    ) -> AliasMove:
        """Point ``alias`` back at the version it pointed at before its last move.

        Raises:
            NotFoundError: No such model.
            ConflictError: The alias has no earlier version to return to.
            InvalidInputError: The name or alias breaks the name rule.
        """
        check_name(name, what="model name")
        check_name(alias, what="alias")
        moves = self.store.models.history(name, alias)
        if not moves or moves[-1].previous is None:
            raise ConflictError(
                f"The alias {alias!r} of {name!r} has no earlier version to roll back to.",
                hint=f"See its history with 'loopline models history {name}'.",
                model=name,
                alias=alias,
            )
        previous = moves[-1].previous
        self.verify_package(self.store.models.get(name, previous), alias=alias)
        move = self.store.models.move_alias(
            name,
            alias,
            previous,
            actor=self.actor,
            reason=reason or "rollback",
            expect=moves[-1].version,
        )
        self._event(
            "alias.rolled_back",
            self.store.models.get(name, previous),
            reason or "rollback",
            {"alias": alias, "version": previous, "previous": move.previous},
        )
        return move

    def clear_alias(self, name: str, alias: str, *, reason: str) -> AliasMove | None:
        """Remove ``alias`` (e.g. ``staging`` after a failed canary); servers following it
        stop sending it traffic. Returns the move, or None when the alias pointed nowhere.

        Raises:
            NotFoundError: No such model.
            ConflictError: ``alias`` is ``production`` (roll it back instead).
        """
        if alias == PRODUCTION:
            raise ConflictError(
                f"The {PRODUCTION!r} alias of {name!r} cannot be removed: a server follows it.",
                hint=f"Point it elsewhere: loopline models rollback {name}.",
                model=name,
                alias=alias,
            )
        move = self.store.models.remove_alias(name, alias, actor=self.actor, reason=reason)
        if move is not None and move.previous is not None:
            self._event(
                "alias.removed",
                self.store.models.get(name, move.previous),
                reason,
                {"alias": alias, "version": None, "previous": move.previous},
            )
        return move

    def check_infra(
        self, name: str, version: int, *, timeout: float = DEFAULT_TIMEOUT
    ) -> ModelVersion:
        """Run infra validation once per version and record it.

        Raises:
            ConflictError: The package failed to serve its samples.
        """
        current = self.store.models.get(name, version)
        if current.infra_valid is None:
            with tempfile.TemporaryDirectory(prefix="loopline-infra-") as scratch:
                path = self.package_path(current, into=Path(scratch))
                verdict = validate_infra(path, timeout=timeout)
            current = self.store.models.record_infra_validation(
                name, version, verdict["valid"], verdict
            )
            self._event(
                "model.infra_validated" if verdict["valid"] else "model.infra_failed",
                current,
                verdict["error"],
                verdict,
            )
        if not current.infra_valid:
            details = current.infra_details or {}
            raise ConflictError(
                f"Version {version} of {name!r} failed infra validation: {details.get('error')}.",
                hint="Its package cannot serve here: retrain it with the installed packages.",
                model=name,
                version=version,
            )
        return current

    def verify_package(self, version: ModelVersion, *, alias: str | None = None) -> None:
        """Check that a version's package file holds the bytes registered for it.

        Args:
            version: The version whose package to check.
            alias: The alias about to point at it, named in the error.

        Raises:
            ArtifactNotFoundError: The package file is gone.
            ArtifactIntegrityError: The package file was altered since it was registered.
        """
        record = self.store.artifacts.get(version.artifact_id)
        try:
            self.artifacts.verify(record.uri, record.sha256, record.size)
        except (ArtifactIntegrityError, ArtifactNotFoundError) as exc:
            what = f" cannot take alias {alias!r}" if alias else " cannot be used"
            raise type(exc)(
                f"Version {version.version} of {version.model!r}{what}: {exc}",
                hint="Restore the package file from a backup, or train and register a new "
                "version (loopline run --rerun package).",
                model=version.model,
                version=version.version,
                artifact_id=record.id,
                uri=record.uri,
                sha256=record.sha256,
            ) from exc

    # -- reading ---------------------------------------------------------------------------

    def resolve(self, ref: str | ModelRef) -> ModelVersion:
        """The version a reference (``wine@production``, ``wine/3``) names.

        Raises:
            InvalidInputError: The reference is malformed.
            NotFoundError: No such model, alias or version.
        """
        parsed = parse_ref(ref) if isinstance(ref, str) else ref
        if parsed.version is not None:
            return self.store.models.get(parsed.name, parsed.version)
        return self.store.models.resolve(parsed.name, parsed.alias or PRODUCTION)

    def package_path(self, version: ModelVersion, *, into: Path | None = None) -> Path:
        """Unpack a version's model package (after verifying its bytes) and return the folder."""
        import tarfile

        record = self.store.artifacts.get(version.artifact_id)
        target = Path(into or tempfile.mkdtemp(prefix="loopline-model-"))
        with (
            self.artifacts.local_copy(record.uri, record.sha256) as blob,
            tarfile.open(blob) as tar,
        ):
            tar.extractall(target, filter="data")
            top = tar.getmembers()[0].name.split("/")[0]
        return target / top

    def load_package(self, ref: str | ModelRef) -> ModelPackage:
        """The model package a reference names, verified against its recorded sha256."""
        from ..components import load_package

        return load_package(self.package_path(self.resolve(ref)))

    # -- helpers ---------------------------------------------------------------------------

    def _event(
        self,
        kind: str,
        version: ModelVersion,
        reason: str | None,
        payload: dict[str, Any] | None = None,
        *,
        actor: str | None = None,
    ) -> None:
        self.store.events.append(
            kind,
            "model",
            version.ref,
            actor=actor or self.actor,
            reason=reason,
            payload={"model": version.model, "version": version.version, **(payload or {})},
        )

    @staticmethod
    def _require_reason(reason: str, verb: str) -> None:
        if not reason or not reason.strip():
            raise InvalidInputError(
                f"To {verb} a version, give a reason: it is recorded with the decision.",
                hint=f'loopline models {verb} NAME VERSION --reason "why"',
            )


def load_model(ref: str, *, project_dir: str | Path | None = None) -> Any:
    """The fitted scikit-learn pipeline of a registered model version.

    Args:
        ref: ``NAME@ALIAS`` (``wine@production``), ``NAME/VERSION`` (``wine/3``), or
            ``NAME`` for its production version.
        project_dir: The project folder; found from the working directory by default.

    Returns:
        The fitted pipeline (preprocessing + estimator), loaded only after its package's
        bytes matched the sha256 the store recorded.

    Raises:
        NotFoundError: No such model, alias or version.
        ArtifactIntegrityError: The package was altered on disk.
    """
    from ..artifacts import ArtifactStore
    from ..config import load_settings
    from ..store import Store

    settings = load_settings(project_dir)
    with Store(settings.store_url) as store:
        return Registry(store, ArtifactStore(settings.artifacts_url)).load_package(ref).model
