"""Artifact records: what the metadata store knows of each stored blob."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..errors import NotFoundError
from . import _schema as t
from ._engine import transaction
from ._json import dumps
from ._records import Artifact
from ._runs import artifact_from_row


class ArtifactRecords:
    """Add and look up artifact records; identical content shares one record."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(
        self,
        *,
        uri: str,
        sha256: str,
        type: str,
        materializer: str,
        size: int,
        metadata: Mapping[str, Any] | None = None,
    ) -> Artifact:
        """Record an artifact, or return the existing record of the same content."""
        key = (t.artifacts.c.sha256 == sha256) & (t.artifacts.c.materializer == materializer)
        with transaction(self._engine) as conn:
            row = conn.execute(sa.select(t.artifacts).where(key)).first()
            if row is None:
                conn.execute(
                    t.artifacts.insert().values(
                        uri=uri,
                        sha256=sha256,
                        type=type,
                        materializer=materializer,
                        size=size,
                        metadata=dumps(dict(metadata or {})),
                        created_at=time.time(),
                    )
                )
                row = conn.execute(sa.select(t.artifacts).where(key)).one()
        return artifact_from_row(row)

    def get(self, artifact_id: int) -> Artifact:
        """The artifact with this id.

        Raises:
            NotFoundError: No such artifact.
        """
        with transaction(self._engine, write=False) as conn:
            row = conn.execute(
                sa.select(t.artifacts).where(t.artifacts.c.id == artifact_id)
            ).first()
        if row is None:
            raise NotFoundError(
                f"No artifact with id {artifact_id} in this store.",
                hint="Find artifact ids with 'loopline runs show RUN_ID'.",
                artifact_id=artifact_id,
            )
        return artifact_from_row(row)

    def find(self, sha256_prefix: str) -> Artifact:
        """The artifact whose sha256 starts with this prefix (at least 6 characters).

        Raises:
            NotFoundError: No artifact, or several, match.
        """
        if len(sha256_prefix) < 6:
            raise NotFoundError(
                f"The hash prefix {sha256_prefix!r} is too short to name an artifact.",
                hint="Give at least 6 characters of a unique sha256, or the artifact's id.",
                artifact_id=sha256_prefix,
            )
        with transaction(self._engine, write=False) as conn:
            rows = conn.execute(
                sa.select(t.artifacts)
                .where(t.artifacts.c.sha256.startswith(sha256_prefix.lower(), autoescape=True))
                .limit(2)
            ).all()
        if len(rows) != 1:
            what = "several artifacts" if len(rows) > 1 else "no artifact"
            raise NotFoundError(
                f"The hash prefix {sha256_prefix!r} matches {what}.",
                hint="Give at least 6 characters of a unique sha256, or the artifact's id.",
                artifact_id=sha256_prefix,
            )
        return artifact_from_row(rows[0])
