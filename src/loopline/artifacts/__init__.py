"""The content-addressed artifact store and the materializers that fill it."""

from ._materializers import BaseMaterializer as BaseMaterializer
from ._materializers import MaterializerRegistry as MaterializerRegistry
from ._materializers import materializers as materializers
from ._store import ArtifactStore as ArtifactStore
from ._store import StoredBlob as StoredBlob
from ._store import backend_errors as backend_errors
from ._store import sha256_file as sha256_file

__all__ = [
    "ArtifactStore",
    "BaseMaterializer",
    "MaterializerRegistry",
    "StoredBlob",
    "backend_errors",
    "materializers",
    "sha256_file",
]
