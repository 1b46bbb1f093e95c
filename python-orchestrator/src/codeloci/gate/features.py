"""Feature extraction for the retrieval gate (pure Python, shared by training and inference).

A query is split into *prose* (what the user asks) and *code* (fenced blocks, code-looking
lines).  Features are strings, hashed with CRC-32 into a fixed-size space:

* ``u:`` word unigrams and ``b:`` bigrams of the prose, with identifiers replaced by their
  shape (``<snake>``, ``<camel>``, ``<path>``, ``<file>``, ``<dotted>``, ``<libcall>``) so the
  model learns "names an unknown snake_case identifier" rather than particular names;
* ``f:`` the first two prose tokens (question form: "what is", "where do", "thanks");
* ``c:`` character n-grams of prose words (robust to inflection and typos; optional);
* ``h:`` hand features: length bucket, trailing question mark, fenced code, number of
  code-looking lines, inline backticks, identifier shapes present;
* ``x:``/``t:`` client context: a current file is open, the query points at it ("this",
  "here"), names its basename, and the recent tool names.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from codeloci.gate._text import TokenShape, shape_of
from codeloci.identifiers import name_tokens

__all__ = [
    "DEICTIC_WORDS",
    "Analysis",
    "analyze",
    "extract_features",
    "hash_feature",
]

MAX_PROSE_CHARS: Final = 1_000
MAX_CODE_SCAN_CHARS: Final = 4_000

_FENCE_RE: Final = re.compile(r"```.*?(?:```|\Z)", re.S)
_CODE_LINE_RE: Final = re.compile(
    r"^\s*(?:def |class \w+\s*[:({]|fn |func |function\b|return\b|import |from \S+ import|"
    r"let |const |var |pub |public |private |async def|#include|print\(|console\.log|>>>|\$ )"
    r"|[;{}]\s*$|=>|^\s{2,}\S|^\s*[\w.\[\]]+\s*[+\-*/]?=\s*\S|\w\([^)]*\)\s*:?\s*$"
    r"|^\s*(?:if|for|while|elif|else|try|except|with)\b.*:\s*$|^\s*select\b.*\bfrom\b",
    re.I,
)

DEICTIC_WORDS: Final[frozenset[str]] = frozenset(
    "this here these it that current file function method class test line".split()
)


@dataclass(frozen=True, slots=True)
class Analysis:
    """What the feature extractor (and the gate's reason strings) know about a query."""

    prose: tuple[str, ...]  # lower-cased prose tokens, identifiers replaced by <shape>
    shapes: frozenset[str]  # identifier shapes present in the prose
    fenced: bool
    code_lines: int
    backticks: bool
    question: bool
    words: tuple[str, ...]  # lower-cased plain prose words (no identifiers)


def analyze(text: str) -> Analysis:
    """Split ``text`` into prose and code and tokenise the prose."""
    head = text[:MAX_CODE_SCAN_CHARS]
    fenced = "```" in head
    body = _FENCE_RE.sub("\n", head) if fenced else head
    code_lines = 0
    prose_parts: list[str] = []
    lines = [ln for ln in body.splitlines() if ln.strip()]
    multi = len(lines) > 1
    for line in lines:
        stripped = line.strip()
        # a one-line query is prose unless it ends like a statement
        if (multi and _CODE_LINE_RE.search(line)) or stripped.endswith((";", "{", "}")):
            code_lines += 1
        else:
            prose_parts.append(stripped)
    if fenced:
        code_lines += sum(m.group().count("\n") for m in _FENCE_RE.finditer(head))
    prose_text = " ".join(prose_parts)[:MAX_PROSE_CHARS]
    tokens: list[str] = []
    shapes: set[str] = set()
    words: list[str] = []
    for tok in name_tokens(prose_text):
        shape = shape_of(tok)
        if shape == TokenShape.WORD:
            low = tok.lower()
            tokens.append(low)
            words.append(low)
        else:
            shapes.add(shape)
            tokens.append("<" + shape + ">")
    return Analysis(
        prose=tuple(tokens),
        shapes=frozenset(shapes),
        fenced=fenced,
        code_lines=code_lines,
        backticks="`" in prose_text,
        question=prose_text.rstrip().endswith("?"),
        words=tuple(words),
    )


def _len_bucket(n: int) -> str:
    if n <= 1:
        return "1"
    if n <= 3:
        return "2-3"
    if n <= 6:
        return "4-6"
    if n <= 12:
        return "7-12"
    if n <= 25:
        return "13-25"
    return "26+"


def _code_bucket(n: int) -> str:
    if n == 0:
        return "0"
    if n == 1:
        return "1"
    if n <= 4:
        return "2-4"
    return "5+"


def extract_features(
    text: str,
    current_file: str | None = None,
    recent_tools: Sequence[str] = (),
    *,
    char_ngrams: Sequence[int] = (3, 4),
    analysis: Analysis | None = None,
) -> list[str]:
    """Feature strings for one query (order-stable, may contain duplicates)."""
    a = analysis if analysis is not None else analyze(text)
    feats: list[str] = []
    prev = "<s>"
    for tok in a.prose:
        feats.append("u:" + tok)
        feats.append("b:" + prev + " " + tok)
        prev = tok
    feats.append("b:" + prev + " </s>")
    if a.prose:
        feats.append("f:" + " ".join(a.prose[:2]))
    if char_ngrams:
        for w in a.words:
            padded = " " + w + " "
            for n in char_ngrams:
                for i in range(len(padded) - n + 1):
                    feats.append("c:" + padded[i : i + n])
    feats.append("h:len=" + _len_bucket(len(a.prose)))
    feats.append("h:code=" + _code_bucket(a.code_lines))
    if a.question:
        feats.append("h:q")
    if a.fenced:
        feats.append("h:fenced")
    if a.backticks:
        feats.append("h:backtick")
    for shape in sorted(a.shapes):
        feats.append("h:shape=" + shape)
    if current_file:
        feats.append("x:file")
        if any(w in DEICTIC_WORDS for w in a.words):
            feats.append("x:file+deictic")
        base = current_file.replace("\\", "/").rsplit("/", 1)[-1].lower()
        if base and base in text.lower():
            feats.append("x:file_named")
    if recent_tools:
        feats.append("x:tools")
        for t in recent_tools[:8]:
            feats.append("t:" + t.lower())
    return feats


def hash_feature(feature: str, dim: int) -> int:
    """Stable bucket of a feature string in ``range(dim)`` (``dim`` a power of two)."""
    return zlib.crc32(feature.encode("utf-8")) & (dim - 1)
