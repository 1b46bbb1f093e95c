"""`SymbolVocabulary`: the set of names the project's index knows about.

The gate's hard rule: a query that names a symbol, path or identifier present in the index is
never gated out.  This module implements that rule as plain set lookups over the identifiers
found in the query (no search, no scoring):

* symbol names (``parse_file``), matched case-insensitively and separator-insensitively
  (``parseFile`` and ``parse-file`` find ``parse_file``);
* qualified names and any dotted suffix of them (``Gate.decide`` finds
  ``codeloci.gate.Gate.decide``; ``::`` and ``#`` count as dots);
* paths and any ``/``-separated run of their components (``gate/core.py`` and
  ``codeloci/gate`` find ``src/codeloci/gate/core.py``),
  file basenames (``core.py``) and path components / file stems (``indexer``).

Plain English-looking words only count when they are not in a stop list of common English and
generic programming words (so ``what is a python decorator`` is not forced through by a module
named ``decorator``); backticked words, snake_case, camelCase, dotted names and paths always
count.  Identifiers that exist in every code base (``__init__``, ``main``, ``self``) never do.

The vocabulary is filled by the indexer (:meth:`SymbolVocabulary.extend`) and persisted as a
small gzip'd JSON file holding only the raw names and paths; the lookup sets are derived on load.
"""

from __future__ import annotations

import gzip
import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from codeloci.gate._text import (
    FILE_EXTENSIONS,
    STOPWORDS,
    UBIQUITOUS_IDENTIFIERS,
    TokenShape,
    backticked,
    shape_of,
)
from codeloci.identifiers import name_tokens, normalize_identifier, split_qualified

__all__ = ["MAX_SCAN_CHARS", "SymbolVocabulary"]

#: Only this many leading characters of a query are scanned for identifiers (bounds latency
#: for huge pastes; a mention must appear in the first 16 KiB to be honoured).
MAX_SCAN_CHARS: Final = 16_384

_FORMAT: Final = "codeloci-symbol-vocabulary"
_VERSION: Final = 1
_MIN_WORD_LEN: Final = 3


def _norm_path(path: str) -> str:
    p = path.replace("\\", "/").strip()
    while p.startswith("./"):
        p = p[2:]
    return p.strip("/").lower()


class SymbolVocabulary:
    """Names, qualified names and paths present in the project's index.

    Thread-safe for one writer and many readers: writers take a lock, readers only do set
    membership tests (atomic under the GIL).
    """

    def __init__(self, symbols: Iterable[str] = (), paths: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._raw_symbols: set[str] = set()
        self._raw_paths: set[str] = set()
        # derived lookup sets
        self._names: set[str] = set()  # lower-cased names, stems, path components
        self._norm_names: set[str] = set()  # normalize_identifier() of the above
        self._qualified: set[str] = set()  # lower-cased dotted suffixes with >= 2 parts
        self._path_pieces: set[str] = set()  # lower-cased '/'-runs of >= 2 path components
        self._basenames: set[str] = set()  # lower-cased file names with extension
        self.extend(symbols=symbols, paths=paths)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_iterables(
        cls, symbols: Iterable[str] = (), paths: Iterable[str] = ()
    ) -> SymbolVocabulary:
        """Build from symbol names / qualified names and file paths."""
        return cls(symbols=symbols, paths=paths)

    def extend(self, symbols: Iterable[str] = (), paths: Iterable[str] = ()) -> None:
        """Add symbol names or qualified names (``parse_file``, ``pkg.mod.Class.method``,
        ``crate::a::B``) and file paths (``src/pkg/mod.py``)."""
        with self._lock:
            for s in symbols:
                self._add_symbol(s)
            for p in paths:
                self._add_path(p)

    def add_symbol(self, name: str) -> None:
        """Add one symbol name or qualified name."""
        with self._lock:
            self._add_symbol(name)

    def add_path(self, path: str) -> None:
        """Add one file path (relative to the project root)."""
        with self._lock:
            self._add_path(path)

    def _add_name(self, name: str) -> None:
        low = name.lower()
        if not low:
            return
        self._names.add(low)
        norm = normalize_identifier(low)
        if norm:
            self._norm_names.add(norm)

    def _add_symbol(self, symbol: str) -> None:
        symbol = symbol.strip()
        if not symbol or symbol in self._raw_symbols:
            return
        self._raw_symbols.add(symbol)
        parts = split_qualified(symbol)
        if not parts:
            return
        self._add_name(parts[-1])
        low_parts = [p.lower() for p in parts]
        for i in range(len(low_parts) - 1):
            self._qualified.add(".".join(low_parts[i:]))

    def _add_path(self, path: str) -> None:
        norm = _norm_path(path)
        if not norm or norm in self._raw_paths:
            return
        self._raw_paths.add(norm)
        parts = [p for p in norm.split("/") if p]
        if not parts:
            return
        # every contiguous run of >= 2 components: `gate/core.py`, `src/codeloci/gate`
        n = len(parts)
        for i in range(n - 1):
            for j in range(i + 2, n + 1):
                self._path_pieces.add("/".join(parts[i:j]))
        base = parts[-1]
        self._basenames.add(base)
        stem, dot, ext = base.rpartition(".")
        if dot and stem and ext in FILE_EXTENSIONS:
            self._add_name(stem)
        elif not dot:
            self._add_name(base)
        for comp in parts[:-1]:
            self._add_name(comp)

    # ------------------------------------------------------------------ lookups
    def __len__(self) -> int:
        return len(self._raw_symbols) + len(self._raw_paths)

    def __bool__(self) -> bool:
        return bool(self._raw_symbols or self._raw_paths)

    def __contains__(self, name: object) -> bool:
        """``name in vocab``: exact lookup of one identifier, qualified name or path."""
        if not isinstance(name, str):
            return False
        return self._lookup(name.strip(), explicit=True)

    @property
    def symbols(self) -> frozenset[str]:
        """The raw symbol strings added so far."""
        return frozenset(self._raw_symbols)

    @property
    def paths(self) -> frozenset[str]:
        """The normalised (lower-cased, ``/``-separated) paths added so far."""
        return frozenset(self._raw_paths)

    def _name_hit(self, name: str) -> bool:
        low = name.lower()
        if low in self._names:
            return True
        norm = normalize_identifier(low)
        return bool(norm) and norm in self._norm_names

    def _lookup(self, token: str, *, explicit: bool) -> bool:
        """Is ``token`` (one raw token of the query) a name the index knows?

        ``explicit`` is true for backticked tokens: plain words then bypass the stop list.
        """
        shape = shape_of(token)
        if shape == TokenShape.PATH:
            p = _norm_path(token)
            return p in self._path_pieces
        if shape in (TokenShape.FILE, TokenShape.LIBCALL, TokenShape.DOTTED):
            low = token.lower()
            if shape == TokenShape.FILE and low in self._basenames:
                return True
            parts = split_qualified(low)
            if parts and parts[0] in ("self", "this", "cls", "super"):
                parts = parts[1:]
            if len(parts) >= 2 and ".".join(parts) in self._qualified:
                return True
            if len(parts) == 1:
                return self._lookup(parts[0], explicit=explicit)
            if shape == TokenShape.LIBCALL:
                return False
            last = parts[-1] if parts else ""
            return (is_identifier_shaped(last) or explicit) and self._ident_hit(last)
        if shape in (TokenShape.SNAKE, TokenShape.CAMEL):
            return self._ident_hit(token)
        # plain word
        low = token.lower()
        core = low.strip("_")
        if explicit:
            return len(core) >= 2 and core not in UBIQUITOUS_IDENTIFIERS and self._name_hit(low)
        if len(core) < _MIN_WORD_LEN or core in STOPWORDS or core in UBIQUITOUS_IDENTIFIERS:
            return False
        return low in self._names

    def _ident_hit(self, token: str) -> bool:
        core = token.strip("_").lower()
        if not core or core in UBIQUITOUS_IDENTIFIERS:
            return False
        return self._name_hit(token) or self._name_hit(core)

    def find_mentions(self, text: str, *, limit: int = 3) -> list[str]:
        """Identifiers in ``text`` that the index knows, in order of appearance (at most
        ``limit``; an empty list means the query names nothing indexed)."""
        if not (self._raw_symbols or self._raw_paths) or not text:
            return []
        text = text[:MAX_SCAN_CHARS]
        found: list[str] = []
        seen: set[str] = set()
        for span in backticked(text):
            for tok in name_tokens(span):
                if tok not in seen:
                    seen.add(tok)
                    if self._lookup(tok, explicit=True):
                        found.append(tok)
                        if len(found) >= limit:
                            return found
        for tok in name_tokens(text):
            if tok in seen:
                continue
            seen.add(tok)
            if self._lookup(tok, explicit=False):
                found.append(tok)
                if len(found) >= limit:
                    break
        return found

    # ------------------------------------------------------------------ persistence
    def to_json_bytes(self) -> bytes:
        """Deterministic JSON encoding (sorted raw names and paths)."""
        doc = {
            "format": _FORMAT,
            "version": _VERSION,
            "symbols": sorted(self._raw_symbols),
            "paths": sorted(self._raw_paths),
        }
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the vocabulary; gzip-compressed (byte-stable, mtime 0) unless the file name
        ends in ``.json``."""
        target = Path(path)
        payload = self.to_json_bytes()
        if target.suffix != ".json":
            payload = gzip.compress(payload, compresslevel=9, mtime=0)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(payload)
        os.replace(tmp, target)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SymbolVocabulary:
        """Read a file written by :meth:`save` (gzip or plain JSON)."""
        data = Path(path).read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        doc = json.loads(data.decode("utf-8"))
        if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
            raise ValueError(f"{path}: not a codeloci symbol vocabulary file")
        if doc.get("version") != _VERSION:
            raise ValueError(f"{path}: unsupported vocabulary version {doc.get('version')!r}")
        symbols = doc.get("symbols", [])
        paths = doc.get("paths", [])
        if not all(isinstance(s, str) for s in symbols) or not all(
            isinstance(p, str) for p in paths
        ):
            raise ValueError(f"{path}: malformed vocabulary file")
        return cls(symbols=symbols, paths=paths)


def is_identifier_shaped(token: str) -> bool:
    """snake_case / camelCase tokens (not plain words)."""
    shape = shape_of(token)
    return shape in (TokenShape.SNAKE, TokenShape.CAMEL)
