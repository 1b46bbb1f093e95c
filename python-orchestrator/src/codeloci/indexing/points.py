"""From a Rust ``chunk`` result to store points: ids, payload and the project filters.

A code point is a PROJECT_CONTEXT memory of kind ``code`` (so ``memory_find`` sees it) with
extra fields for code search. Its id is derived from the chunk's stable id *and* the project,
so the same file in two repositories gives two points. Language and chunk kind are also
written as tags (``lang:python``, ``kind:function``) because ``tags`` has a keyword index.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from codeloci.ast_types import Chunk
from codeloci.models import MAX_SYMBOL_CHARS
from codeloci.store import Cond, Filter, Match, MatchAny

__all__ = [
    "CODE_KIND",
    "code_filter",
    "file_filter",
    "kind_tag",
    "language_tag",
    "point_id",
    "point_payload",
]

CODE_KIND = "code"
LEVEL = "PROJECT_CONTEXT"


def point_id(chunk_id: str, project: str) -> str:
    return str(uuid.uuid5(uuid.UUID(chunk_id), project))


def language_tag(language: str) -> str:
    return f"lang:{language}"


def kind_tag(kind: str) -> str:
    return f"kind:{kind}"


def code_filter(project: str, *extra: Cond) -> Filter:
    """Every code point of one project (plus ``extra`` conditions)."""
    return Filter(must=(Match("project", project), Match("kind", CODE_KIND), *extra))


def file_filter(project: str, paths: list[str]) -> Filter:
    return code_filter(project, MatchAny("path", tuple(paths)))


def point_payload(
    chunk: Chunk,
    *,
    project: str,
    file: dict[str, Any],
    index: int,
    file_chunks: int,
    now: float,
) -> dict[str, Any]:
    """The payload of one chunk. ``file`` is the scan's FileEntry (hash, size, mtime_ns)."""
    stamp = datetime.fromtimestamp(now, tz=UTC).isoformat()
    symbol = chunk.get("qualified_name")
    symbol = symbol[:MAX_SYMBOL_CHARS] if isinstance(symbol, str) else None
    start = max(1, int(chunk["start_line"]))
    end = max(start, int(chunk["end_line"]))
    language = str(chunk["language"])
    chunk_kind = str(chunk["kind"])
    redactions: dict[str, int] = {}
    for found in chunk.get("redactions") or []:
        redactions[str(found["kind"])] = redactions.get(str(found["kind"]), 0) + 1
    return {
        # memory fields (memory_find shows code chunks as PROJECT_CONTEXT memories)
        "content": chunk["content"],
        "context_level": LEVEL,
        "kind": CODE_KIND,
        "project": project,
        "session_id": None,
        "tags": [CODE_KIND, language_tag(language), kind_tag(chunk_kind)],
        "source": {
            "path": chunk["path"],
            "symbol": symbol,
            "start_line": start,
            "end_line": end,
            "content_hash": chunk["content_hash"],
        },
        "path": chunk["path"],
        "created_at": stamp,
        "updated_at": stamp,
        "created_at_ts": now,
        "updated_at_ts": now,
        "expires_at": None,
        "expires_at_ts": None,
        # code fields
        "chunk_id": chunk["id"],
        "chunk_kind": chunk_kind,
        "chunk_index": index,
        "file_chunks": file_chunks,
        "language": language,
        "symbol": symbol,
        "name": chunk.get("name"),
        "signature": chunk.get("signature"),
        "docstring": chunk.get("docstring"),
        "context": chunk.get("context"),
        "start_line": start,
        "end_line": end,
        "content_hash": chunk["content_hash"],
        "file_hash": file["hash"],
        "file_size": int(file["size"]),
        "file_mtime_ns": int(file["mtime_ns"]),
        # secrets the Rust chunker replaced in `content`, by kind (index_status sums them)
        "redaction_count": sum(redactions.values()),
        "redactions": redactions,
    }
