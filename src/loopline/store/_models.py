"""The registry's records: models, versions, approval status, aliases and their history."""

from __future__ import annotations

import builtins
import difflib
import time
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, Row

from ..errors import ConflictError, NotFoundError
from . import _schema as t
from ._engine import transaction
from ._json import dumps, loads
from ._records import AliasMove, ModelVersion
from ._runs import _new_id


def _version(row: Row[Any], name: str) -> ModelVersion:
    m = row._mapping
    return ModelVersion(
        id=m["id"],
        model=name,
        version=m["version"],
        artifact_id=m["artifact_id"],
        run_id=m["run_id"],
        status=m["status"],
        blessed=m["blessed"],
        metrics=loads(m["metrics"]),
        infra_valid=m["infra_valid"],
        infra_details=loads(m["infra_details"]) if m["infra_details"] else None,
        created_at=m["created_at"],
    )


class ModelStore:
    """Register model versions and move aliases atomically, keeping every move."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- models and versions -------------------------------------------------------------

    def register(
        self,
        name: str,
        artifact_id: int,
        *,
        status: str,
        run_id: str | None = None,
        blessed: bool | None = None,
        metrics: Mapping[str, Any] | None = None,
    ) -> tuple[ModelVersion, bool]:
        """Register a package as the next version of ``name`` (the model is created).

        Returns:
            The version, and whether it is new (False: this package was registered before).
        """
        with transaction(self._engine) as conn:
            model_id = conn.execute(
                sa.select(t.models.c.id).where(t.models.c.name == name)
            ).scalar()
            if model_id is None:
                model_id = _new_id(
                    conn.execute(t.models.insert().values(name=name, created_at=time.time()))
                )
            existing = conn.execute(
                sa.select(t.model_versions).where(
                    t.model_versions.c.model_id == model_id,
                    t.model_versions.c.artifact_id == artifact_id,
                )
            ).first()
            if existing is not None:
                return _version(existing, name), False
            number = conn.execute(
                sa.select(sa.func.coalesce(sa.func.max(t.model_versions.c.version), 0)).where(
                    t.model_versions.c.model_id == model_id
                )
            ).scalar_one()
            version_id = _new_id(
                conn.execute(
                    t.model_versions.insert().values(
                        model_id=model_id,
                        version=number + 1,
                        artifact_id=artifact_id,
                        run_id=run_id,
                        status=status,
                        blessed=blessed,
                        metrics=dumps(dict(metrics or {})),
                        created_at=time.time(),
                    )
                )
            )
            row = conn.execute(
                sa.select(t.model_versions).where(t.model_versions.c.id == version_id)
            ).one()
        return _version(row, name), True

    def names(self) -> builtins.list[str]:
        """Every model name, sorted."""
        with transaction(self._engine, write=False) as conn:
            return list(
                conn.execute(sa.select(t.models.c.name).order_by(t.models.c.name)).scalars()
            )

    def versions(self, name: str) -> builtins.list[ModelVersion]:
        """Every version of a model, oldest first.

        Raises:
            NotFoundError: No model of that name.
        """
        with transaction(self._engine, write=False) as conn:
            model_id = self._model_id(conn, name)
            rows = conn.execute(
                sa.select(t.model_versions)
                .where(t.model_versions.c.model_id == model_id)
                .order_by(t.model_versions.c.version)
            )
            return [_version(row, name) for row in rows]

    def get(self, name: str, version: int) -> ModelVersion:
        """One version of a model.

        Raises:
            NotFoundError: No such model or version.
        """
        with transaction(self._engine, write=False) as conn:
            model_id = self._model_id(conn, name)
            row = conn.execute(
                sa.select(t.model_versions).where(
                    t.model_versions.c.model_id == model_id, t.model_versions.c.version == version
                )
            ).first()
            if row is None:
                latest = conn.execute(
                    sa.select(sa.func.max(t.model_versions.c.version)).where(
                        t.model_versions.c.model_id == model_id
                    )
                ).scalar()
                raise NotFoundError(
                    f"Model {name!r} has no version {version}; its versions are 1 to {latest}.",
                    hint=f"List them with 'loopline models show {name}'.",
                    model=name,
                    version=version,
                )
        return _version(row, name)

    def set_status(self, name: str, version: int, status: str) -> ModelVersion:
        """Change a version's approval status."""
        current = self.get(name, version)
        with transaction(self._engine) as conn:
            conn.execute(
                t.model_versions.update()
                .where(t.model_versions.c.id == current.id)
                .values(status=status)
            )
        return self.get(name, version)

    def record_infra_validation(
        self, name: str, version: int, valid: bool, details: Mapping[str, Any]
    ) -> ModelVersion:
        """Record whether the package served its sample rows in a fresh process."""
        current = self.get(name, version)
        with transaction(self._engine) as conn:
            conn.execute(
                t.model_versions.update()
                .where(t.model_versions.c.id == current.id)
                .values(infra_valid=valid, infra_details=dumps(dict(details)))
            )
        return self.get(name, version)

    # -- aliases -------------------------------------------------------------------------

    def aliases(self, name: str) -> dict[str, int]:
        """Alias -> version number of a model.

        Raises:
            NotFoundError: No model of that name.
        """
        with transaction(self._engine, write=False) as conn:
            model_id = self._model_id(conn, name)
            rows = conn.execute(
                sa.select(t.aliases.c.alias, t.model_versions.c.version)
                .join(t.model_versions, t.model_versions.c.id == t.aliases.c.version_id)
                .where(t.aliases.c.model_id == model_id)
                .order_by(t.aliases.c.alias)
            )
            return {alias: version for alias, version in rows}

    def resolve(self, name: str, alias: str) -> ModelVersion:
        """The version an alias points at.

        Raises:
            NotFoundError: No such model, or the alias points nowhere.
        """
        aliases = self.aliases(name)
        if alias not in aliases:
            known = ", ".join(sorted(aliases)) or "none yet"
            raise NotFoundError(
                f"Model {name!r} has no alias {alias!r} (its aliases: {known}).",
                hint=f"Point it at a version with 'loopline models promote {name} VERSION "
                f"--alias {alias}'.",
                model=name,
                alias=alias,
            )
        return self.get(name, aliases[alias])

    def move_alias(
        self,
        name: str,
        alias: str,
        version: int,
        *,
        actor: str,
        reason: str | None = None,
        expect: int | None | str = "any",
    ) -> AliasMove:
        """Point ``alias`` at ``version`` in one transaction, and record the move.

        Args:
            name: The model.
            alias: The alias, e.g. ``production``.
            version: The version it will point at.
            actor: Who moves it.
            reason: Why.
            expect: The version the alias must point at now (None: nowhere), to refuse a
                move based on a stale view; ``"any"`` skips the check.

        Raises:
            NotFoundError: No such model or version.
            ConflictError: The alias moved since the caller looked (``expect``).
        """
        target = self.get(name, version)
        now = time.time()
        with transaction(self._engine) as conn:
            model_id = self._model_id(conn, name)
            previous_id = conn.execute(
                sa.select(t.aliases.c.version_id).where(
                    t.aliases.c.model_id == model_id, t.aliases.c.alias == alias
                )
            ).scalar()
            previous = _number(conn, previous_id)
            if expect != "any" and previous != expect:
                raise ConflictError(
                    f"The alias {alias!r} of {name!r} points at version {previous}, not "
                    f"{expect}: it moved meanwhile.",
                    hint="Look again with 'loopline models show' and retry.",
                    model=name,
                    alias=alias,
                )
            if previous_id is None:
                conn.execute(
                    t.aliases.insert().values(
                        model_id=model_id, alias=alias, version_id=target.id, updated_at=now
                    )
                )
            else:
                conn.execute(
                    t.aliases.update()
                    .where(t.aliases.c.model_id == model_id, t.aliases.c.alias == alias)
                    .values(version_id=target.id, updated_at=now)
                )
            conn.execute(
                t.alias_history.insert().values(
                    model_id=model_id,
                    alias=alias,
                    version_id=target.id,
                    previous_version_id=previous_id,
                    time=now,
                    actor=actor,
                    reason=reason,
                )
            )
        return AliasMove(name, alias, version, previous, now, actor, reason)

    def remove_alias(
        self, name: str, alias: str, *, actor: str, reason: str | None = None
    ) -> AliasMove | None:
        """Remove ``alias`` (it then points nowhere) and record the move; None if it had none.

        Raises:
            NotFoundError: No such model.
        """
        now = time.time()
        with transaction(self._engine) as conn:
            model_id = self._model_id(conn, name)
            previous_id = conn.execute(
                sa.select(t.aliases.c.version_id).where(
                    t.aliases.c.model_id == model_id, t.aliases.c.alias == alias
                )
            ).scalar()
            if previous_id is None:
                return None
            previous = _number(conn, previous_id)
            conn.execute(
                t.aliases.delete().where(
                    t.aliases.c.model_id == model_id, t.aliases.c.alias == alias
                )
            )
            conn.execute(
                t.alias_history.insert().values(
                    model_id=model_id,
                    alias=alias,
                    version_id=None,
                    previous_version_id=previous_id,
                    time=now,
                    actor=actor,
                    reason=reason,
                )
            )
        return AliasMove(name, alias, None, previous, now, actor, reason)

    def history(self, name: str, alias: str | None = None) -> builtins.list[AliasMove]:
        """Every move of the model's aliases (or of one alias), oldest first."""
        with transaction(self._engine, write=False) as conn:
            model_id = self._model_id(conn, name)
            query = (
                sa.select(t.alias_history)
                .where(t.alias_history.c.model_id == model_id)
                .order_by(t.alias_history.c.id)
            )
            if alias is not None:
                query = query.where(t.alias_history.c.alias == alias)
            rows = conn.execute(query).all()
            return [
                AliasMove(
                    model=name,
                    alias=r.alias,
                    version=_number(conn, r.version_id),
                    previous=_number(conn, r.previous_version_id),
                    time=r.time,
                    actor=r.actor,
                    reason=r.reason,
                )
                for r in rows
            ]

    def _model_id(self, conn: Connection, name: str) -> int:
        model_id = conn.execute(sa.select(t.models.c.id).where(t.models.c.name == name)).scalar()
        if model_id is None:
            names = list(conn.execute(sa.select(t.models.c.name)).scalars())
            close = difflib.get_close_matches(name, names, n=1)
            raise NotFoundError(
                f"No model named {name!r} in the registry."
                + (f" Did you mean {close[0]!r}?" if close else "")
                + (f" Models: {', '.join(sorted(names))}." if names else " It has no models yet."),
                hint="Models are registered when a blessed training run ends ('loopline run').",
                model=name,
            )
        return int(model_id)


def _number(conn: Connection, version_id: int | None) -> int | None:
    if version_id is None:
        return None
    return conn.execute(
        sa.select(t.model_versions.c.version).where(t.model_versions.c.id == version_id)
    ).scalar()
