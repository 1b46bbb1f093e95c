"""What gets indexed for a chunk: the lexical tokens (BM25 sparse vector) and the dense text.

Lexical: identifiers are split into words as :mod:`codeloci.identifiers` defines (``_`` and
camelCase boundaries) and lowercased; each compound identifier is also kept whole
(``parse_config`` gives ``parseconfig``, ``parse`` and ``config``), so a query by exact name
and a query in words both match. The words of the
chunk's own name are repeated (:data:`NAME_REPEAT`) so that a query naming what the function
does ranks its definition above code that merely calls it, and common abbreviations in names
get their full word added (``set_seq2`` also gives ``sequence``). The resulting words go
through Qdrant's own BM25 model (English stemming and stop words, term-frequency saturation);
the IDF part is applied by the collection's ``Idf`` modifier at query time, with the statistics
restricted to one project.

Dense: :func:`dense_text` builds the text given to the embedder. The layout was chosen by
``python -m devtools.search.evaluate`` (see BENCHMARKS.md): the chunk's name in plain words
first (``parse_header_line`` -> ``parse header line``), then its kind and qualified name in
words, the path words and the enclosing context, followed by the chunk's code, cut to what the
model reads.

Every parameter here shapes the stored vectors: changing one needs a re-index to take effect.
"""

from __future__ import annotations

import functools
import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import qdrant_edge as qe

from codeloci.identifiers import identifier_words, identifiers, last_name
from codeloci.store import SparseVec

__all__ = [
    "DENSE_TEXT_CHARS",
    "DENSE_TEXT_STYLES",
    "HEADER_TEXT_CHARS",
    "NAME_REPEAT",
    "TEXT_VERSION",
    "dense_text",
    "lexical_text",
    "sparse_document",
    "sparse_query",
]

#: The version of the lexical and dense texts built here. Bump it whenever either changes: an
#: index built with another version is rebuilt on its next run (its vectors would not match
#: the queries' any more). 3: dense vectors from the dynamically quantized model, at most 128
#: word pieces (:mod:`codeloci.embedder`).
TEXT_VERSION = 3

#: Characters of dense text handed to the embedder (which reads at most
#: :data:`codeloci.embedder.MAX_TOKENS` word pieces of it).
DENSE_TEXT_CHARS = 1200
#: The ``header`` style's cut: the name lines plus the start of the body. Shorter than
#: DENSE_TEXT_CHARS because the body's tail diluted the name (evaluate: 500 chars gave dense
#: MRR@10 0.547 vs 0.536 at 1200) and embedding is faster.
HEADER_TEXT_CHARS = 500
#: BM25 parameters: k1, b and the average document length in words (the mean over the
#: evaluation corpus's chunks is 64 before the name repetition). b=0.9 (vs the usual 0.75)
#: favours short chunks, i.e. a definition over a long body that mentions the same words.
BM25_K = 1.2
BM25_B = 0.9
BM25_AVG_LEN = 64.0
#: Extra copies of the chunk's own name words in its lexical text (a field weight).
NAME_REPEAT = 6
#: Full words added next to abbreviations found in a chunk's name (lexical text only).
ABBREVIATIONS: dict[str, str] = {
    "addr": "address", "alloc": "allocate", "arg": "argument", "args": "arguments",
    "attr": "attribute", "attrs": "attributes", "auth": "authenticate", "buf": "buffer",
    "calc": "calculate", "cb": "callback", "cfg": "configuration", "char": "character",
    "chars": "characters", "chk": "check", "cmd": "command", "cnt": "count", "col": "column",
    "cols": "columns", "conf": "configuration", "ctx": "context", "cwd": "directory",
    "del": "delete", "desc": "description", "dest": "destination", "dir": "directory",
    "dirs": "directories", "doc": "document", "dst": "destination", "elem": "element",
    "env": "environment", "eq": "equal", "err": "error", "exe": "executable",
    "ext": "extension", "fmt": "format", "fn": "function", "func": "function",
    "gen": "generate", "hdr": "header", "idx": "index", "impl": "implementation",
    "info": "information", "init": "initialize", "iter": "iterator", "lang": "language",
    "len": "length", "lib": "library", "max": "maximum", "min": "minimum", "mk": "make",
    "mod": "module", "msg": "message", "num": "number", "obj": "object", "opt": "option",
    "opts": "options", "param": "parameter", "params": "parameters", "pkg": "package",
    "pos": "position", "prev": "previous", "proc": "process", "ptr": "pointer",
    "recv": "receive", "ref": "reference", "rel": "relative", "repr": "representation",
    "req": "request", "res": "response", "rm": "remove", "sep": "separator",
    "seq": "sequence", "spec": "specification", "src": "source", "stat": "status",
    "str": "string", "sync": "synchronize", "temp": "temporary", "tmp": "temporary",
    "ts": "timestamp", "util": "utility", "val": "value", "vals": "values", "ver": "version",
}  # fmt: skip

_local = threading.local()


def _bm25() -> Any:
    model = getattr(_local, "bm25", None)
    if model is None:
        config = qe.Bm25Config(k=BM25_K, b=BM25_B, avg_len=BM25_AVG_LEN, language="english")
        model = qe.Bm25(config)
        _local.bm25 = model
    return model


def _lexical_words(text: str) -> list[str]:
    """The words BM25 sees: identifiers split, and each compound also kept whole."""
    return identifier_words(text, compounds=True)


def _name(payload: Mapping[str, Any]) -> str:
    name = payload.get("name")
    if name:
        return str(name)
    symbol = str(payload.get("symbol") or "")
    return last_name(symbol) if symbol else ""


def _expanded(words: list[str]) -> list[str]:
    return [*words, *(ABBREVIATIONS[w] for w in words if w in ABBREVIATIONS)]


def _lexical_pieces(payload: Mapping[str, Any]) -> tuple[list[str], ...]:
    """The word lists BM25 indexes for a chunk: path, qualified name, the name's words again
    (:data:`NAME_REPEAT` times); the code's words are added by the callers."""
    name = _expanded(_lexical_words(_name(payload)))
    return (
        _lexical_words(str(payload.get("path") or "")),
        _expanded(_lexical_words(str(payload.get("symbol") or ""))),
        *([name] * NAME_REPEAT if name else []),
    )


def lexical_text(payload: Mapping[str, Any]) -> str:
    """The words BM25 indexes for a chunk: path, qualified name, the name's words again
    (:data:`NAME_REPEAT` times) and the code itself."""
    pieces: Iterable[list[str]] = (
        *_lexical_pieces(payload),
        _lexical_words(str(payload.get("content") or "")),
    )
    return " ".join(" ".join(p) for p in pieces if p)


def _sparse(vector: Any) -> SparseVec:
    pairs = sorted(zip(vector.indices, vector.values, strict=True))
    return SparseVec(indices=[int(i) for i, _ in pairs], values=[float(v) for _, v in pairs])


@functools.lru_cache(maxsize=1 << 16)
def _word_terms(word: str) -> tuple[int, ...]:
    """The BM25 model's term ids for one word: none for a stop word, its stem's otherwise."""
    return tuple(int(i) for i in _bm25().embed_query(word).indices)


@functools.lru_cache(maxsize=1 << 16)
def _identifier_terms(identifier: str) -> tuple[int, ...]:
    return tuple(t for w in _lexical_words(identifier) for t in _word_terms(w))


def sparse_document(payload: Mapping[str, Any]) -> SparseVec:
    """BM25 document weights of :func:`lexical_text`, equal to the model's own
    ``embed_document`` of it (a test holds them to it): the model tokenizes, stems and drops
    stop words word by word, so each identifier's term ids are worked out once and remembered,
    and only the term-frequency saturation is computed per chunk."""
    terms = [t for piece in _lexical_pieces(payload) for w in piece for t in _word_terms(w)]
    for identifier in identifiers(str(payload.get("content") or "")):
        terms.extend(_identifier_terms(identifier))
    if not terms:
        return SparseVec(indices=[], values=[])
    counts = sorted(Counter(terms).items())
    norm = BM25_K * (1.0 - BM25_B + BM25_B * len(terms) / BM25_AVG_LEN)
    scale = BM25_K + 1.0
    return SparseVec(
        indices=[t for t, _ in counts], values=[tf * scale / (tf + norm) for _, tf in counts]
    )


def sparse_query(query: str) -> SparseVec:
    return _sparse(_bm25().embed_query(" ".join(_lexical_words(query))))


def _path_words(path: str) -> str:
    stem = path.rsplit(".", 1)[0] if "." in path.rsplit("/", 1)[-1] else path
    return " ".join(p for p in re.split(r"[/_.\-]+", stem) if p)


def _plain_words(identifier: str) -> str:
    """``parse_header_line`` / ``parseHeaderLine`` -> ``parse header line``."""
    return " ".join(identifier_words(identifier))


def _named_header(payload: Mapping[str, Any]) -> list[str]:
    """The ``header`` style's first lines: name words, kind + qualified name in words, path
    words, enclosing context."""
    lines = []
    name = _plain_words(_name(payload))
    if name:
        lines.append(name)
    symbol = payload.get("symbol")
    if symbol:
        lines.append(f"{payload.get('chunk_kind') or ''} {_plain_words(str(symbol))}".strip())
    lines.append(_path_words(str(payload.get("path") or "")))
    context = payload.get("context")
    if context:
        lines.append(str(context))
    return lines


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
        return "\n".join([*_named_header(payload), content])[:HEADER_TEXT_CHARS]
    else:
        raise ValueError(f"unknown dense text style {style!r}")
    return text[:DENSE_TEXT_CHARS]


DENSE_TEXT_STYLES = ("header", "raw", "summary")
