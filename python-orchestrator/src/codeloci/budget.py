"""Token budgets: how many tokens a text costs and how a ranked list is cut to a budget.

Every searching tool (``memory_find``, ``retrieve_*``, ``code_search``) trims its ranked results
the same way, with :func:`fit_to_budget`:

* a result costs ``estimate_tokens(content) + RESULT_OVERHEAD_TOKENS``;
* results are kept whole, in rank order, while they fit;
* the first result that does not fit becomes a snippet of its content, cut at a line boundary
  (:func:`snippet`), when at least :data:`MIN_SNIPPET_TOKENS` of content still fit; it is marked
  ``truncated`` in the tool's output;
* every result after it (and it too, when too little room is left) is counted as ``omitted``.

Tokens are estimated as ``ceil(characters / CHARS_PER_TOKEN)`` (close for English prose and code
under BPE tokenizers; no tokenizer is run). Only the standard library is imported.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = [
    "CHARS_PER_TOKEN",
    "MIN_SNIPPET_TOKENS",
    "RESULT_OVERHEAD_TOKENS",
    "Fitted",
    "Trimmed",
    "estimate_tokens",
    "fit_to_budget",
    "snippet",
]

#: Characters per token of the estimate.
CHARS_PER_TOKEN = 4
#: Tokens charged per result for its fields besides the content. 40 is the larger of the two
#: tools' former values (memory hits carry an id, two timestamps, level, kind, tags and a
#: source; code hits a path, lines, symbol, kind, language and signature), so neither tool's
#: answers grow past their budget.
RESULT_OVERHEAD_TOKENS = 40
#: The least content a snippet shows: about one line of code (40 characters). With the
#: smallest budget a search accepts (``MIN_TOKEN_BUDGET`` 50) a snippet of the best result still
#: fits: 50 - RESULT_OVERHEAD_TOKENS = 10.
MIN_SNIPPET_TOKENS = 10

T = TypeVar("T")


def estimate_tokens(text: str) -> int:
    """Approximate token count: ``ceil(len(text) / CHARS_PER_TOKEN)``."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def snippet(content: str, tokens: int) -> str:
    """The start of ``content`` that fits ``tokens``, cut after its last whole line when the
    cut falls inside the content and the part kept has a line break (otherwise cut exactly)."""
    cut = content[: max(0, tokens) * CHARS_PER_TOKEN]
    if "\n" in cut and len(cut) < len(content):
        cut = cut[: cut.rfind("\n") + 1]
    return cut


@dataclass(frozen=True, slots=True)
class Fitted(Generic[T]):
    """One kept result: the item, the content to show and whether that is a snippet."""

    item: T
    content: str
    truncated: bool


@dataclass(slots=True)
class Trimmed(Generic[T]):
    """What :func:`fit_to_budget` kept, the tokens they cost and how many were left out."""

    kept: list[Fitted[T]] = field(default_factory=list)
    used: int = 0
    omitted: int = 0


def fit_to_budget(items: Iterable[T], budget: int, content: Callable[[T], str]) -> Trimmed[T]:
    """Trim ranked ``items`` to ``budget`` tokens (see the module docstring); ``content``
    gives an item's text. Every item is consumed: those not kept are counted as omitted."""
    out: Trimmed[T] = Trimmed()
    full = False
    for item in items:
        if full:
            out.omitted += 1
            continue
        text = content(item)
        cost = estimate_tokens(text) + RESULT_OVERHEAD_TOKENS
        if out.used + cost <= budget:
            out.kept.append(Fitted(item, text, False))
            out.used += cost
            continue
        full = True
        room = budget - out.used - RESULT_OVERHEAD_TOKENS
        if room < MIN_SNIPPET_TOKENS:
            out.omitted += 1
            continue
        cut = snippet(text, room)
        out.kept.append(Fitted(item, cut, True))
        out.used += estimate_tokens(cut) + RESULT_OVERHEAD_TOKENS
    return out
