"""What gets indexed for a chunk: the lexical tokens (BM25 sparse vector) and the dense text.

Lexical: identifiers are split on ``_`` and camelCase boundaries and lowercased; each compound
identifier is also kept whole (``parse_config`` gives ``parse``, ``config`` and
``parseconfig``), so a query by exact name and a query in words both match. The resulting words
go through Qdrant's own BM25 model (English stemming and stop words, term-frequency
saturation); the IDF part is applied by the collection's ``Idf`` modifier at query time, with
the statistics restricted to one project.

Dense: :func:`dense_text` builds the text given to the embedder. The layout was chosen by
``python -m codeloci.indexing.evaluate`` (see BENCHMARKS.md): a short header (path words,
qualified name, enclosing context) followed by the chunk's code, cut to what the model reads.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import qdrant_edge as qe

from codeloci.store import SparseVec

__all__ = [
    "DENSE_TEXT_CHARS",
    "DENSE_TEXT_STYLES",
    "dense_text",
    "identifier_words",
    "lexical_text",
    "sparse_document",
    "sparse_query",
]

#: Characters of dense text handed to the embedder (MiniLM reads at most 256 word pieces).
DENSE_TEXT_CHARS = 1200
#: BM25 parameters: k1, b and the average document length in words (measured on chunks).
BM25_K = 1.2
BM25_B = 0.75
BM25_AVG_LEN = 120.0

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")

_local = threading.local()


def _bm25() -> Any:
    model = getattr(_local, "bm25", None)
    if model is None:
        config = qe.Bm25Config(k=BM25_K, b=BM25_B, avg_len=BM25_AVG_LEN, language="english")
        model = qe.Bm25(config)
        _local.bm25 = model
    return model


def identifier_words(text: str) -> list[str]:
    """Lowercased words of ``text`` with identifiers split (and compounds kept whole)."""
    out: list[str] = []
    for match in _IDENT.finditer(text):
        token = match.group(0)
        parts = [p for piece in token.split("_") for p in _CAMEL.split(piece) if p]
        if len(parts) > 1:
            out.append("".join(parts).lower())
        out.extend(p.lower() for p in parts)
    return out


def lexical_text(payload: Mapping[str, Any]) -> str:
    """The words BM25 indexes for a chunk: path, qualified name and the code itself."""
    pieces: Iterable[str] = (
        str(payload.get("path") or ""),
        str(payload.get("symbol") or ""),
        str(payload.get("content") or ""),
    )
    return " ".join(identifier_words("\n".join(pieces)))


def _sparse(vector: Any) -> SparseVec:
    pairs = sorted(zip(vector.indices, vector.values, strict=True))
    return SparseVec(indices=[int(i) for i, _ in pairs], values=[float(v) for _, v in pairs])


def sparse_document(payload: Mapping[str, Any]) -> SparseVec:
    return _sparse(_bm25().embed_document(lexical_text(payload)))


def sparse_query(query: str) -> SparseVec:
    return _sparse(_bm25().embed_query(" ".join(identifier_words(query))))


def _path_words(path: str) -> str:
    stem = path.rsplit(".", 1)[0] if "." in path.rsplit("/", 1)[-1] else path
    return " ".join(p for p in re.split(r"[/_.\-]+", stem) if p)


def _header(payload: Mapping[str, Any]) -> list[str]:
    lines = [_path_words(str(payload.get("path") or ""))]
    symbol = payload.get("symbol")
    if symbol:
        lines.append(f"{payload.get('chunk_kind') or ''} {symbol}".strip())
    context = payload.get("context")
    if context:
        lines.append(str(context))
    return lines


def dense_text(payload: Mapping[str, Any], style: str = "header") -> str:
    """Text to embed for a chunk. ``style``: ``header`` (default, the measured best),
    ``raw`` (the code alone) or ``summary`` (header + signature + docstring, then code)."""
    content = str(payload.get("content") or "")
    if style == "raw":
        text = content
    elif style == "summary":
        lines = _header(payload)
        for key in ("signature", "docstring"):
            value = payload.get(key)
            if value:
                lines.append(str(value))
        text = "\n".join([*lines, content])
    elif style == "header":
        text = "\n".join([*_header(payload), content])
    else:
        raise ValueError(f"unknown dense text style {style!r}")
    return text[:DENSE_TEXT_CHARS]


DENSE_TEXT_STYLES = ("header", "raw", "summary")
