"""Loopline's exceptions: one tree, branched by what the caller can do about it.

::

    LooplineError
    ├── NotFoundError (LookupError)          something named does not exist
    │   └── ArtifactNotFoundError             an artifact's bytes are gone
    ├── ConflictError                        the state forbids it now (a lock is held, ...)
    ├── InvalidInputError (ValueError)       the caller's input or definition is wrong
    │   ├── ConfigError                       loopline.toml or a setting is wrong
    │   ├── PipelineDefinitionError           a cycle, an unknown input, a missing argument
    │   └── MaterializationError              a value cannot be saved or loaded as an artifact
    ├── IntegrityError                       stored data does not match what was recorded
    │   ├── ArtifactIntegrityError            an artifact's bytes do not match its sha256
    │   └── SchemaVersionError                the store was written by a newer Loopline
    ├── BackendUnavailableError (OSError)    the database, object store or executor is unreachable
    ├── StepFailedError                      a step raised; the run is marked failed
    └── NotFittedError (ValueError, AttributeError)   a fitted object was used before fit

Every error carries the values it speaks of as attributes (``run_id``,
``artifact_id``, the bad ``value``) and a ``hint`` saying what to do. The CLI prints
``str(error)`` as a headline and the hint below it; the service maps the branch to a
status code.
"""

from __future__ import annotations

from typing import Any as _Any

__all__ = [
    "ArtifactIntegrityError",
    "ArtifactNotFoundError",
    "BackendUnavailableError",
    "ConfigError",
    "ConflictError",
    "IntegrityError",
    "InvalidInputError",
    "LooplineError",
    "MaterializationError",
    "NotFittedError",
    "NotFoundError",
    "PipelineDefinitionError",
    "SchemaVersionError",
    "StepFailedError",
]


class LooplineError(Exception):
    """Root of every error Loopline raises on purpose.

    Args:
        message: What was wrong, what we got, and what is allowed.
        hint: What the user can do about it (printed on its own line by the CLI).
        **data: Values the error is about, kept as attributes (``run_id=...``).
    """

    def __init__(self, message: str, *, hint: str | None = None, **data: _Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.data = data
        for key, value in data.items():
            setattr(self, key, value)

    def __str__(self) -> str:
        return self.message


class NotFoundError(LooplineError, LookupError):
    """A run, artifact, pipeline, model or alias that was named does not exist."""


class ArtifactNotFoundError(NotFoundError):
    """The store knows an artifact whose bytes are missing from the artifact store."""


class ConflictError(LooplineError):
    """The request is valid but the current state forbids it (a held lock, a finished run)."""


class InvalidInputError(LooplineError, ValueError):
    """The caller's input, argument or definition is wrong."""


class ConfigError(InvalidInputError):
    """``loopline.toml`` or a ``LOOPLINE_*`` setting is wrong."""


class PipelineDefinitionError(InvalidInputError):
    """A pipeline cannot be built: a cycle, an unknown input, a missing argument."""


class MaterializationError(InvalidInputError):
    """A value cannot be written as an artifact, or an artifact cannot be read back."""


class IntegrityError(LooplineError):
    """Stored data does not match what the metadata store recorded about it."""


class ArtifactIntegrityError(IntegrityError):
    """An artifact's bytes do not match the sha256 the store holds: it was altered."""


class SchemaVersionError(IntegrityError):
    """The metadata store was created by a newer version of Loopline."""


class BackendUnavailableError(LooplineError, OSError):
    """A database, object store or executor could not be reached."""


class StepFailedError(LooplineError):
    """A step raised an exception; its run is marked failed and can be resumed."""


class NotFittedError(LooplineError, ValueError, AttributeError):
    """A fitted object (drift detector, blessing rule, model package) was used before ``fit``."""
