"""Code indexing: incremental index of a repository, hybrid code search, file watcher."""

from __future__ import annotations

from codeloci.indexing.manifest import FileRecord, Manifest, ManifestError, ManifestPaths
from codeloci.indexing.pipeline import CodeIndex, IndexingError, IndexReport
from codeloci.indexing.progress import IndexProgress, ProgressFn

__all__ = [
    "CodeIndex",
    "FileRecord",
    "IndexProgress",
    "IndexReport",
    "IndexingError",
    "Manifest",
    "ManifestError",
    "ManifestPaths",
    "ProgressFn",
]
