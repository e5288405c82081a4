"""Model references: ``NAME@ALIAS``, ``NAME/VERSION``, or ``NAME`` (its production alias)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InvalidInputError

_REF = re.compile(
    r"^(?P<name>[A-Za-z0-9_.\-]+)(?:@(?P<alias>[A-Za-z0-9_.\-]+)|/(?P<version>\d+))?$"
)


@dataclass(frozen=True)
class ModelRef:
    """A parsed reference to a model version, by alias or by number."""

    name: str
    alias: str | None = None
    version: int | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}/{self.version}"
        return f"{self.name}@{self.alias}"


def parse_ref(text: str) -> ModelRef:
    """Parse ``wine@production``, ``wine/3`` or ``wine`` (meaning ``wine@production``).

    Raises:
        InvalidInputError: The text is not a model reference.
    """
    match = _REF.match(text.strip())
    if match is None:
        raise InvalidInputError(
            f"{text!r} is not a model reference.",
            hint="Write NAME@ALIAS (wine@production), NAME/VERSION (wine/3) or NAME.",
            value=text,
        )
    version = match["version"]
    if version is not None:
        return ModelRef(match["name"], version=int(version))
    return ModelRef(match["name"], alias=match["alias"] or "production")
