"""The innermost definition around a line (what a reference's caller and an import's scope
are): the shortest definition containing it, of equal ones the later, as a pass over every
definition finds it."""

from __future__ import annotations

from typing import Any, cast

from hypothesis import given
from hypothesis import strategies as st

from codeloci.ast_types import Definition
from codeloci.indexing.symbols import _Innermost


def _by_scan(defs: list[dict[str, int]], ids: list[int], line: int) -> int | None:
    best: int | None = None
    best_span = 1 << 60
    for d, i in zip(defs, ids, strict=True):
        if d["start_line"] <= line <= d["end_line"]:
            span = d["end_line"] - d["start_line"]
            if span <= best_span:
                best, best_span = i, span
    return best


spans = st.lists(
    st.tuples(st.integers(1, 60), st.integers(-2, 30)).map(
        lambda t: {"start_line": t[0], "end_line": t[0] + t[1]}
    ),
    max_size=25,
)


@given(spans)
def test_the_innermost_definition_is_the_one_a_full_scan_finds(defs: list[dict[str, int]]) -> None:
    ids = [100 + n for n in range(len(defs))]
    innermost = _Innermost(cast(list[Definition], defs), ids)
    for line in range(-1, 95):
        assert innermost(line) == _by_scan(defs, ids, line), (defs, line)


def test_nested_definitions_of_a_file() -> None:
    defs: list[Any] = [
        {"start_line": 1, "end_line": 40},  # class
        {"start_line": 3, "end_line": 10},  # method
        {"start_line": 5, "end_line": 7},  # inner function
        {"start_line": 12, "end_line": 40},  # method to the class's end
    ]
    innermost = _Innermost(defs, [1, 2, 3, 4])
    assert [innermost(n) for n in (0, 1, 2, 4, 6, 8, 11, 12, 40, 41)] == [
        None,
        1,
        1,
        2,
        3,
        2,
        1,
        4,
        4,
        None,
    ]
