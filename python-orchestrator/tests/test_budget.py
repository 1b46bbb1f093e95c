"""codeloci.budget: token estimates and the one way ranked results are cut to a budget."""

from __future__ import annotations

from codeloci.budget import (
    MIN_SNIPPET_TOKENS,
    RESULT_OVERHEAD_TOKENS,
    estimate_tokens,
    fit_to_budget,
    snippet,
)
from codeloci.models import MIN_TOKEN_BUDGET


def test_estimate_tokens() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2


def test_snippet_cuts_at_a_line_boundary() -> None:
    text = "def f():\n    return 1\n\nx = 2\n"
    assert snippet(text, 4) == "def f():\n"  # 16 characters, cut after the last whole line
    assert snippet(text, 100) == text
    assert snippet("one long line without breaks", 2) == "one long"  # no line to cut at
    assert snippet(text, 0) == ""


def test_whole_results_then_one_snippet_then_omitted() -> None:
    items = ["a" * 400, "b\n" * 200, "c" * 4]  # 100, 100, 1 tokens of content
    budget = 100 + 60 + 2 * RESULT_OVERHEAD_TOKENS  # the second gets 60 tokens
    out = fit_to_budget(items, budget, lambda s: s)
    assert [(f.content[:1], f.truncated) for f in out.kept] == [("a", False), ("b", True)]
    assert out.kept[1].content.endswith("\n") and out.omitted == 1
    assert out.used == budget
    # a result that would fit after the cut one is not kept: the order is the ranking
    assert out.kept[-1].item == items[1]


def test_too_little_room_for_a_snippet_omits_the_rest() -> None:
    first = 10 + RESULT_OVERHEAD_TOKENS  # "x" * 40
    budget = first + RESULT_OVERHEAD_TOKENS + MIN_SNIPPET_TOKENS - 1
    out = fit_to_budget(["x" * 40, "y" * 400, "z"], budget, len_text)
    assert [f.item for f in out.kept] == ["x" * 40] and out.used == first and out.omitted == 2


def test_the_smallest_budget_still_shows_the_best_result() -> None:
    out = fit_to_budget(["q" * 4000], MIN_TOKEN_BUDGET, len_text)
    assert len(out.kept) == 1 and out.kept[0].truncated and out.used <= MIN_TOKEN_BUDGET


def len_text(s: str) -> str:
    return s
