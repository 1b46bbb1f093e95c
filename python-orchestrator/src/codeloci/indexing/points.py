"""From a Rust ``chunk`` result to store points: ids, payload and the project filters.

A code point is a PROJECT_CONTEXT memory of kind ``code`` (the memory tools return it only
when a filter's ``kinds`` names ``code``) with extra fields for code search. Its id is derived
from the chunk's stable id *and* the project, so the same file in two repositories gives two
points. Language and chunk kind are also
written as tags (``lang:python``, ``kind:function``) because ``tags`` has a keyword index.

A definition too large for one chunk is split by the Rust chunker into pieces (its header,
line windows, inner definitions, the code between them). Each piece's payload names the
definition it belongs to (:func:`definitions`): ``code_search`` reports that definition (its
qualified name, signature and full line range) and merges pieces of one definition into one
result.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from codeloci.ast_types import Chunk
from codeloci.models import MAX_SYMBOL_CHARS
from codeloci.store import DENSE_VECTOR, Cond, Filter, Match, MatchAny, Range, with_vector

__all__ = [
    "CODE_KIND",
    "FUNCTION_KINDS",
    "PAYLOAD_VERSION",
    "code_filter",
    "definitions",
    "embed_order",
    "file_filter",
    "idf_corpus",
    "kind_tag",
    "language_tag",
    "point_id",
    "point_payload",
]

CODE_KIND = "code"
LEVEL = "PROJECT_CONTEXT"
#: Version of what a payload holds besides the texts of :data:`~codeloci.indexing.text.
#: TEXT_VERSION`; an index built with another one is rebuilt on its next run. 1: the
#: ``definition`` of a piece of a split definition.
PAYLOAD_VERSION = 1
#: Kinds of definitions whose inner pieces (an inner function, a closure, the rest of the body)
#: belong to them. The inner definitions of any other kind (a class's methods, an impl's
#: functions, a section's subsections) are places of their own.
FUNCTION_KINDS = frozenset({"function", "method", "macro"})


def point_id(chunk_id: str, project: str) -> str:
    return str(uuid.uuid5(uuid.UUID(chunk_id), project))


def language_tag(language: str) -> str:
    return f"lang:{language}"


def kind_tag(kind: str) -> str:
    return f"kind:{kind}"


def code_filter(project: str, *extra: Cond) -> Filter:
    """Every code point of one project (plus ``extra`` conditions)."""
    return Filter(must=(Match("project", project), Match("kind", CODE_KIND), *extra))


def idf_corpus(project: str) -> Filter:
    """The points whose BM25 statistics a project's lexical search uses: the project's own.
    Its code chunks are its only points with a sparse vector, so this says what
    :func:`code_filter` says in one condition, which the engine checks once per query term."""
    return Filter(must=(Match("project", project),))


def file_filter(project: str, paths: list[str]) -> Filter:
    return code_filter(project, MatchAny("path", tuple(paths)))


#: The chunk kind of the code between definitions (imports, module-level statements).
GAP_KIND = "code"


def embed_order(project: str, since: float | None) -> list[Filter]:
    """The project's chunks still waiting for a dense vector, in the order they are embedded
    (each filter's chunks before the next one's; a later filter may repeat earlier chunks):
    chunks written at ``since`` or later (the latest index run: what was just changed), then
    the rest; within each, definitions before the code between them, since a question in
    words asks for what a definition does."""
    waiting = with_vector(code_filter(project), DENSE_VECTOR, False)

    def narrowed(*must: Cond, gaps_too: bool) -> Filter:
        gap = () if gaps_too else (Match("tags", kind_tag(GAP_KIND)),)
        return Filter(must=(*waiting.must, *must), must_not=(*waiting.must_not, *gap))

    tiers: list[Filter] = []
    if since is not None:
        recent = Range("updated_at_ts", gte=since)
        tiers += [narrowed(recent, gaps_too=False), narrowed(recent, gaps_too=True)]
    return [*tiers, narrowed(gaps_too=False), waiting]


def _owner(chunk: Chunk) -> str | None:
    """The split definition ``chunk`` is a piece of or lies inside, if any. A piece of a
    definition is not among the definitions wholly inside it (``symbols``); a chunk inside a
    split definition names it as its ``parent``."""
    name = chunk.get("qualified_name")
    if name and name not in (chunk.get("symbols") or ()):
        return name
    return chunk.get("parent") or None


def definitions(chunks: Sequence[Chunk]) -> list[dict[str, Any] | None]:
    """For each chunk of one file (all of them, in file order), the definition it is a piece
    of: ``{symbol, kind, signature, start_line, end_line}``, or None when the chunk is a place
    of its own (a whole definition, top-level code).

    The Rust chunker splits an oversized definition into pieces that carry its qualified name
    (the header and line windows) or name it as ``parent`` (inner definitions and the code
    between them). A piece belongs to the outermost function-like definition around it
    (:data:`FUNCTION_KINDS`): an inner closure or the remainder of a body reports its function;
    a whole method inside a split class stays a place, a piece of the class (its header, its
    fields) reports the class. A definition's range spans every chunk inside it (chunks tile
    the file, so a split definition's chunks are contiguous)."""
    info: dict[str, Chunk] = {}  # split definition -> its first piece (kind, signature, parent)
    for chunk in chunks:
        name = chunk.get("qualified_name")
        if name and _owner(chunk) == name:
            info.setdefault(name, chunk)

    def parent_of(name: str) -> str | None:
        head = info.get(name)
        return head.get("parent") if head is not None else None

    def kind_of(name: str) -> str | None:
        head = info.get(name)
        return str(head["kind"]) if head is not None else None

    spans: dict[str, list[int]] = {}
    units: list[str | None] = []
    for chunk in chunks:
        owner = _owner(chunk)
        start = int(chunk["start_line"])
        tail = str(chunk["content"]).rstrip().count("\n")  # the range without trailing blanks
        end = max(start, min(int(chunk["end_line"]), start + tail))
        seen: set[str] = set()
        name = owner
        while name is not None and name not in seen:  # every enclosing split definition
            seen.add(name)
            span = spans.setdefault(name, [start, end])
            span[0] = min(span[0], start)
            span[1] = max(span[1], end)
            name = parent_of(name)
        unit = owner
        if owner is not None and owner != chunk.get("qualified_name"):
            # Inside `owner` but not a piece of it: a whole inner definition is a place of its
            # own unless `owner` is function-like; code between definitions belongs to it.
            whole = chunk.get("qualified_name") is not None and chunk["kind"] != CODE_KIND
            if whole and kind_of(owner) not in FUNCTION_KINDS:
                unit = None
        if unit is not None:
            seen = {unit}
            while (up := parent_of(unit)) is not None and up not in seen:
                if kind_of(up) not in FUNCTION_KINDS or kind_of(unit) not in FUNCTION_KINDS:
                    break
                seen.add(up)
                unit = up
        units.append(unit)
    out: list[dict[str, Any] | None] = []
    for unit in units:
        if unit is None:
            out.append(None)
            continue
        head = info.get(unit)
        start, end = spans[unit]
        out.append(
            {
                "symbol": unit[:MAX_SYMBOL_CHARS],
                "kind": str(head["kind"]) if head is not None else None,
                "signature": head.get("signature") if head is not None else None,
                "start_line": max(1, start),
                "end_line": max(start, end),
            }
        )
    return out


def point_payload(
    chunk: Chunk,
    *,
    project: str,
    file: dict[str, Any],
    index: int,
    file_chunks: int,
    now: float,
    definition: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The payload of one chunk. ``file`` is the scan's FileEntry (hash, size, mtime_ns);
    ``definition`` is the split definition the chunk is a piece of (:func:`definitions`)."""
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
        # memory fields (memory tools asked for kind code show chunks as memories)
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
        # the split definition this chunk is a piece of (absent: the chunk is a place itself)
        **({"definition": definition} if definition is not None else {}),
    }
