"""Model references: ``NAME@ALIAS``, ``NAME/VERSION``, or ``NAME`` (its production alias)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..config import NAME_PATTERN
from ..errors import InvalidInputError

#: The largest version number (the store keeps versions as 32-bit integers on PostgreSQL).
MAX_VERSION = 2**31 - 1

_NAME = NAME_PATTERN.removeprefix("^").removesuffix("$")
_REF = re.compile(rf"^(?P<name>{_NAME})(?:@(?P<alias>{_NAME})|/(?P<version>\d{{1,10}}))?$")


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
        return ModelRef(match["name"], version=check_version(int(version)))
    return ModelRef(match["name"], alias=match["alias"] or "production")


def check_version(version: object) -> int:
    """Return ``version`` if it can be a version number (1 to ``MAX_VERSION``).

    Raises:
        InvalidInputError: It is not an integer in that range.
    """
    if isinstance(version, int) and not isinstance(version, bool) and 1 <= version <= MAX_VERSION:
        return version
    raise InvalidInputError(
        f"A version number is an integer from 1 to {MAX_VERSION:,}. Got {str(version)[:40]}.",
        hint="List the versions with 'loopline models list NAME'.",
        value=str(version)[:40],
    )
