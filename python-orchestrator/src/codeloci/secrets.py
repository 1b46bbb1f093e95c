"""Secret detection and redaction with the pattern set the Rust server uses.

The patterns live in ``shared-schemas/secret-patterns.json``; the Rust server compiles them in
(``rust-server/src/secrets.rs``) and this module compiles the same file with :mod:`re`. Both are
tested against ``shared-schemas/secret-vectors.json``. In a development checkout the shared file
is read directly; an installed package reads its copy in ``codeloci/data/`` (a test keeps the
two byte-identical).

Semantics, identical to the Rust side:

* every pattern is run over the whole text; a match's capture group ``group`` (0 = the whole
  match) is the secret, and patterns with ``min_entropy`` drop secrets whose Shannon entropy
  (bits per character) is lower (placeholders such as ``password = "changeme"``);
* the secrets are sorted by start, then longest first, and any that overlaps an earlier kept
  one is dropped (earliest, then longest, wins; a tie keeps the pattern listed first);
* each secret is replaced by ``[REDACTED:kind]``.

Offsets here are :class:`str` indices (code points); the Rust side reports UTF-8 byte offsets
of the same spans.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = [
    "PATTERNS_FILE_NAME",
    "Pattern",
    "Redaction",
    "count_kinds",
    "entropy",
    "find",
    "marker",
    "patterns",
    "patterns_source",
    "redact",
]

PATTERNS_FILE_NAME = "secret-patterns.json"
#: ``shared-schemas/`` of a development checkout (src/codeloci/secrets.py → repository root).
_SHARED = Path(__file__).resolve().parents[3] / "shared-schemas" / PATTERNS_FILE_NAME


@dataclass(frozen=True)
class Redaction:
    """One secret found in a text: its kind and ``text[start:end]``."""

    kind: str
    start: int
    end: int


@dataclass(frozen=True)
class Pattern:
    kind: str
    regex: re.Pattern[str]
    group: int
    min_entropy: float | None


def patterns_source() -> tuple[str, bytes]:
    """Where the patterns are read from (a description) and the file's bytes."""
    if _SHARED.is_file():
        return str(_SHARED), _SHARED.read_bytes()
    data = resources.files("codeloci.data").joinpath(PATTERNS_FILE_NAME)
    return f"codeloci.data/{PATTERNS_FILE_NAME}", data.read_bytes()


@cache
def patterns() -> tuple[Pattern, ...]:
    """The compiled pattern set (loaded once)."""
    where, raw = patterns_source()
    doc: dict[str, Any] = json.loads(raw)
    compiled = []
    for spec in doc["patterns"]:
        try:
            regex = re.compile(spec["regex"])
        except re.error as exc:  # pragma: no cover - the file is tested
            raise ValueError(f"{where}: pattern {spec['kind']!r} does not compile: {exc}") from exc
        min_entropy = spec.get("min_entropy")
        compiled.append(
            Pattern(
                kind=str(spec["kind"]),
                regex=regex,
                group=int(spec["group"]),
                min_entropy=None if min_entropy is None else float(min_entropy),
            )
        )
    return tuple(compiled)


def entropy(s: str) -> float:
    """Shannon entropy of ``s`` in bits per character (0 for the empty string)."""
    n = len(s)
    if n == 0:
        return 0.0
    return -sum((k / n) * math.log2(k / n) for k in Counter(s).values())


def find(text: str) -> list[Redaction]:
    """Every secret in ``text``, sorted by position, non-overlapping."""
    found: list[Redaction] = []
    for p in patterns():
        for m in p.regex.finditer(text):
            start, end = m.span(p.group)
            if start < 0:  # the group did not take part in this match
                continue
            if p.min_entropy is not None and entropy(text[start:end]) < p.min_entropy:
                continue
            found.append(Redaction(p.kind, start, end))
    found.sort(key=lambda r: (r.start, -r.end))  # stable: ties keep pattern order
    out: list[Redaction] = []
    for r in found:
        if out and r.start < out[-1].end:
            continue
        out.append(r)
    return out


def marker(kind: str) -> str:
    """The text that replaces a secret of ``kind``."""
    return f"[REDACTED:{kind}]"


def redact(text: str) -> tuple[str, list[Redaction]]:
    """``text`` with every secret replaced by its marker, and the secrets (offsets in ``text``)."""
    found = find(text)
    if not found:
        return text, found
    parts: list[str] = []
    cursor = 0
    for r in found:
        parts.append(text[cursor : r.start])
        parts.append(marker(r.kind))
        cursor = r.end
    parts.append(text[cursor:])
    return "".join(parts), found


def count_kinds(found: list[Redaction], into: dict[str, int] | None = None) -> dict[str, int]:
    """Secrets counted per kind (added to ``into`` when given)."""
    counts = {} if into is None else into
    for r in found:
        counts[r.kind] = counts.get(r.kind, 0) + 1
    return counts
