"""The results of ``codeloci-ast``'s ``scan`` and ``chunk`` as the orchestrator reads them.

Typed views of ``shared-schemas/{scan,chunk}.output.schema.json`` (the contract both servers
test against): a ``tests/test_ast_types.py`` check fails when a field here and the schema
part ways. They are ``TypedDict``s, not validating models, on purpose: a ``chunk`` reply of a
large repository holds tens of thousands of chunks, the MCP client already checked it against
the very schema these mirror, and a second validation would cost more than the chunking.
"""

from __future__ import annotations

from typing import Any, TypedDict

__all__ = [
    "Binding",
    "Chunk",
    "ChunkResult",
    "ChunkedFile",
    "Definition",
    "FileEntry",
    "FileError",
    "FileSymbols",
    "ImportSite",
    "Redaction",
    "Reference",
    "ScanResult",
    "ScanStats",
    "Skipped",
]


class FileEntry(TypedDict):
    path: str
    language: str
    size: int
    mtime_ns: int
    hash: str


class Skipped(TypedDict):
    path: str
    reason: str
    detail: str


class ScanStats(TypedDict):
    files: int
    bytes: int
    hashed: int
    unchanged: int
    skipped: int
    elapsed_ms: float


class ScanResult(TypedDict):
    root: str
    files: list[FileEntry]
    skipped: list[Skipped]
    added: list[str]
    changed: list[str]
    removed: list[str]
    unchanged: list[str]
    stats: ScanStats


class Redaction(TypedDict):
    kind: str
    start_byte: int
    end_byte: int


class Chunk(TypedDict):
    id: str
    path: str
    language: str
    kind: str
    name: str | None
    qualified_name: str | None
    signature: str | None
    docstring: str | None
    parent: str | None
    context: str | None
    symbols: list[str]
    start_line: int
    end_line: int
    start_byte: int
    end_byte: int
    content: str
    content_hash: str
    calls: list[str]
    metadata: dict[str, Any] | None
    redactions: list[Redaction]


class Definition(TypedDict):
    kind: str
    name: str
    qualified_name: str
    signature: str
    doc: str | None
    start_line: int
    end_line: int
    parent: int | None


class Reference(TypedDict):
    name: str
    line: int
    qualifier: str | None
    call: bool


class ImportSite(TypedDict):
    text: str
    line: int


class Binding(TypedDict):
    name: str
    line: int


class FileSymbols(TypedDict):
    definitions: list[Definition]
    references: list[Reference]
    imports: list[ImportSite]
    bindings: list[Binding]


class _ChunkedFileSymbols(TypedDict, total=False):
    #: Only when ``chunk`` was asked for ``symbols``.
    symbols: FileSymbols


class ChunkedFile(_ChunkedFileSymbols):
    path: str
    language: str
    chunks: int
    bytes: int
    hash: str
    redactions: int


class FileError(TypedDict):
    path: str
    error: str


class ChunkResult(TypedDict):
    chunks: list[Chunk]
    files: list[ChunkedFile]
    errors: list[FileError]
