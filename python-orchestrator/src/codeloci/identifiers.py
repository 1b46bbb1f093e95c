"""What an identifier is: the one definition the code index and the retrieval gate share.

The code index (:mod:`codeloci.indexing.text`: BM25 words, the dense text's name words,
identifier queries) and the gate (:mod:`codeloci.gate`: names a query mentions, looked up in
the project's symbol vocabulary) read names out of text with the functions here, so a name is
split the same way when a chunk is indexed, when a query is searched and when a query is gated.

* **Identifier** (:func:`identifiers`): ``[A-Za-z_][A-Za-z0-9_]*``, or a run of digits that
  starts one. Anything else (``$``, ``-``, non-ASCII letters, punctuation) separates them.
* **Words of an identifier** (:func:`identifier_words`): it is split at ``_`` and at camelCase
  boundaries (a lower-case letter or digit before an upper-case one, and the last capital of
  an acronym before a capitalised word): ``parse_header_line``, ``parseHeaderLine`` and
  ``ParseHeaderLine`` all give ``parse header line``, ``HTTPServer`` gives ``http server``,
  ``utf8Decode`` gives ``utf8 decode``; digits stay with the letters they follow (``seq2``).
  :func:`is_snake` and :func:`is_camel` tell whether a token has either kind of boundary.
* **Qualified name** (:func:`split_qualified`, :func:`last_name`): parts joined by ``.``
  (Python, Java, JavaScript, and the Rust server's own qualified names), ``::`` (Rust, C++),
  ``#`` (Ruby and JSDoc instance members) or ``/`` (module paths such as Go's
  ``net/http.Client``; ``\\`` counts as ``/``). Empty parts are dropped, so ``::a::b`` is
  ``a``, ``b``; the last name is the last part.
* **Mention** (:func:`name_tokens`): how a query may name something: a token that starts and
  ends with a word character (``\\w`` or ``$``) and may hold the separators of qualified
  names, paths and kebab-case in between, so ``gate/core.py``, ``Gate.decide``,
  ``mod::Type::new`` and ``parse-file`` stay whole and sentence punctuation is left out.
* **Identifier query** (:func:`is_identifier_query`): a whole query that is one possibly
  qualified name (``parse_config``, ``Foo.bar``, ``a::b``, ``Cmd#run``, ``f()``).
* **Normal form** (:func:`normalize_identifier`): lower case without ``_`` and ``-``, so
  ``parse_file``, ``parseFile`` and ``parse-file`` are the same name.

The gate's trained model hashes features computed with these functions and the index's
``TEXT_VERSION`` pins the words it stores: a change to any output here needs the gate
retrained and, for the index, ``TEXT_VERSION`` bumped. Only :mod:`re` is imported; the gate
loads in milliseconds.
"""

from __future__ import annotations

import functools
import re
from typing import Final

__all__ = [
    "identifier_words",
    "identifiers",
    "is_camel",
    "is_identifier_query",
    "is_snake",
    "last_name",
    "name_tokens",
    "normalize_identifier",
    "split_qualified",
    "split_words",
]

_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+")
_CAMEL_BOUNDARY: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_QUALIFIER: Final = re.compile(r"::|[.#/\\]")
_NAME_TOKEN: Final = re.compile(r"[\w$][\w$.\-/:#]*[\w$]|[\w$]")
_IDENTIFIER_QUERY: Final = re.compile(
    r"\s*[A-Za-z_$][\w$]*(?:(?:\.|::|#)[A-Za-z_$][\w$]*)*\s*(?:\(\))?\s*"
)


def identifiers(text: str) -> list[str]:
    """The identifiers in ``text``, in order: ``a.b_c(1)`` -> ``a``, ``b_c``, ``1``."""
    return _IDENTIFIER.findall(text)


def split_words(identifier: str) -> list[str]:
    """The words of one identifier, case kept: ``parseHTTP_header`` -> ``parse``, ``HTTP``,
    ``header``."""
    return [w for piece in identifier.split("_") for w in _CAMEL_BOUNDARY.split(piece) if w]


@functools.lru_cache(maxsize=1 << 15)
def _lower_words(identifier: str, compounds: bool) -> tuple[str, ...]:
    """One identifier's part of :func:`identifier_words`, remembered: an index run splits the
    same few thousand identifiers over and over, in every chunk that uses them."""
    words = [w.lower() for w in split_words(identifier)]
    if compounds and len(words) > 1:
        return ("".join(words), *words)
    return tuple(words)


def identifier_words(text: str, *, compounds: bool = False) -> list[str]:
    """Lower-cased words of every identifier in ``text``. With ``compounds``, an identifier of
    several words is also given whole, before its words (``parse_config`` -> ``parseconfig``,
    ``parse``, ``config``), so both an exact name and its words match it."""
    out: list[str] = []
    extend = out.extend
    for identifier in _IDENTIFIER.findall(text):
        extend(_lower_words(identifier, compounds))
    return out


def is_snake(token: str) -> bool:
    """``parse_file``, ``MAX_SIZE``, ``__init__`` (an underscore between word characters)."""
    return "_" in token.strip("_")


def is_camel(token: str) -> bool:
    """``parseFile``, ``ChunkStore``, ``HTTPServer`` (a camelCase boundary inside)."""
    return _CAMEL_BOUNDARY.search(token) is not None


def split_qualified(name: str) -> list[str]:
    """``a.b::C#d`` -> ``['a', 'b', 'C', 'd']``; ``net/http.Client`` -> ``['net', 'http',
    'Client']`` (empty parts dropped)."""
    return [p for p in _QUALIFIER.split(name) if p]


def last_name(qualified: str) -> str:
    """The last part of a qualified name (``a.b``, ``a::b``, ``A#b``, ``a/b``): ``b``; ``""``
    for a name without parts."""
    parts = split_qualified(qualified)
    return parts[-1] if parts else ""


def name_tokens(text: str) -> list[str]:
    """Tokens of ``text`` that may name something, with paths, qualified names and
    identifiers kept whole: ``see ./a/b.py, parse_file()`` -> ``see``, ``a/b.py``,
    ``parse_file`` (``\\`` is read as ``/``)."""
    return _NAME_TOKEN.findall(text.replace("\\", "/"))


def is_identifier_query(query: str) -> bool:
    """Whether ``query`` looks like a symbol name rather than a sentence (by its text alone)."""
    return _IDENTIFIER_QUERY.fullmatch(query) is not None


def normalize_identifier(name: str) -> str:
    """Case- and separator-insensitive key: ``parse_file``, ``parseFile``, ``parse-file`` all
    map to ``parsefile``."""
    return name.lower().replace("_", "").replace("-", "")
