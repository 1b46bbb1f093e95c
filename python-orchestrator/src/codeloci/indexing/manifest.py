"""The per-project manifest: what the last completed index run wrote to the store.

One JSON file per project under ``<data_dir>/code-index/<project>.json``: path → (hash, size,
mtime_ns, language, point ids). It is handed to the Rust ``scan`` as ``previous`` so unchanged
files are not even re-read, and it is written **last**, atomically (temporary file, fsync,
``os.replace``, fsync of the directory).

A run marks the project *dirty* (``<project>.dirty``, fsynced) before its first store write and
clears the mark after the manifest is in place. A dirty mark found at start means an earlier run
died in between: the store may hold points the manifest does not know about, and the pipeline
reconciles the store against the files before trusting the manifest. A manifest that cannot be
parsed raises :class:`ManifestError` (never served silently); the pipeline rebuilds it from the
store or re-indexes, as asked.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeloci.indexing.points import PAYLOAD_VERSION
from codeloci.indexing.text import TEXT_VERSION

__all__ = [
    "MANIFEST_FORMAT",
    "FileRecord",
    "Manifest",
    "ManifestError",
    "ManifestPaths",
]

log = logging.getLogger(__name__)

MANIFEST_FORMAT = 1


class ManifestError(RuntimeError):
    """The manifest exists but cannot be used; the message says what is wrong."""


@dataclass
class FileRecord:
    hash: str
    size: int
    mtime_ns: int
    language: str
    chunks: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "hash": self.hash,
            "size": self.size,
            "mtime_ns": self.mtime_ns,
            "language": self.language,
            "chunks": self.chunks,
        }

    @classmethod
    def from_json(cls, data: Any) -> FileRecord:
        if not isinstance(data, dict):
            raise TypeError("a file entry is not an object")
        chunks = data["chunks"]
        if not isinstance(chunks, list) or not all(isinstance(c, str) for c in chunks):
            raise TypeError("chunks is not a list of ids")
        return cls(
            hash=str(data["hash"]),
            size=int(data["size"]),
            mtime_ns=int(data["mtime_ns"]),
            language=str(data["language"]),
            chunks=list(chunks),
        )


@dataclass
class Manifest:
    project: str
    root: str
    files: dict[str, FileRecord] = field(default_factory=dict)
    last_run: dict[str, Any] | None = None
    #: The :data:`~codeloci.indexing.text.TEXT_VERSION` the points were built with (0: before
    #: it was recorded).
    text_version: int = TEXT_VERSION
    #: The :data:`~codeloci.indexing.points.PAYLOAD_VERSION` the points were built with (0:
    #: before it was recorded).
    payload_version: int = PAYLOAD_VERSION

    @property
    def chunk_count(self) -> int:
        return sum(len(r.chunks) for r in self.files.values())

    def previous(self) -> dict[str, dict[str, Any]]:
        """The ``previous`` argument of the Rust ``scan``."""
        return {
            path: {"hash": r.hash, "size": r.size, "mtime_ns": r.mtime_ns}
            for path, r in self.files.items()
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "format": MANIFEST_FORMAT,
            "text_version": self.text_version,
            "payload_version": self.payload_version,
            "project": self.project,
            "root": self.root,
            "last_run": self.last_run,
            "files": {p: r.to_json() for p, r in sorted(self.files.items())},
        }

    @classmethod
    def from_json(cls, data: Any, where: Path) -> Manifest:
        try:
            if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
                raise TypeError(f"not a format-{MANIFEST_FORMAT} manifest")
            files = data["files"]
            if not isinstance(files, dict):
                raise TypeError("files is not an object")
            return cls(
                project=str(data["project"]),
                root=str(data["root"]),
                files={str(p): FileRecord.from_json(r) for p, r in files.items()},
                last_run=data.get("last_run"),
                text_version=int(data.get("text_version", 0)),
                payload_version=int(data.get("payload_version", 0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(f"the index manifest {where} is damaged ({exc})") from exc


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


@dataclass(frozen=True)
class ManifestPaths:
    """Where one project's manifest and dirty mark live."""

    directory: Path
    project: str

    @classmethod
    def under(cls, data_dir: Path, project: str) -> ManifestPaths:
        return cls(data_dir / "code-index", project)

    @property
    def manifest(self) -> Path:
        return self.directory / f"{self.project}.json"

    @property
    def dirty_mark(self) -> Path:
        return self.directory / f"{self.project}.dirty"

    def load(self) -> Manifest | None:
        """The manifest, ``None`` when there is none; :class:`ManifestError` when damaged."""
        try:
            raw = self.manifest.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ManifestError(f"cannot read the index manifest {self.manifest}: {exc}") from exc
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ManifestError(f"the index manifest {self.manifest} is damaged ({exc})") from exc
        manifest = Manifest.from_json(data, self.manifest)
        if manifest.project != self.project:
            raise ManifestError(
                f"the index manifest {self.manifest} belongs to project {manifest.project}"
            )
        return manifest

    def save(self, manifest: Manifest) -> None:
        data = json.dumps(manifest.to_json(), separators=(",", ":")).encode("utf-8")
        _write_atomic(self.manifest, data)

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.manifest.unlink()

    @property
    def dirty(self) -> bool:
        return self.dirty_mark.exists()

    def mark_dirty(self) -> None:
        if not self.dirty:
            _write_atomic(self.dirty_mark, str(os.getpid()).encode())

    def clear_dirty(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.dirty_mark.unlink()
        _fsync_dir(self.directory)
