"""The small interface every benchmark group speaks: it returns rows plus a markdown section.

A group is a module under `codeloci_bench.groups` exposing `NAME`, `TITLE` and
`run(ctx: Context) -> GroupResult`. The harness renders the rows as one table per group and
keeps each group's section between HTML comment markers in BENCHMARKS.md.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class Stat:
    """A figure measured over repeated runs: median with min and max."""

    median: float
    low: float
    high: float
    runs: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Stat:
        if not values:
            raise ValueError("a Stat needs at least one value")
        return cls(statistics.median(values), min(values), max(values), len(values))

    def map(self, fn: Callable[[float], float]) -> Stat:
        """Applies a monotonic function (e.g. seconds → MB/s); min and max swap if it decreases."""
        a, b = fn(self.low), fn(self.high)
        return Stat(fn(self.median), min(a, b), max(a, b), self.runs)


@dataclass(frozen=True)
class Target:
    """A target from the issues, checked against the row's value or its ratio (median)."""

    on: Literal["value", "ratio"]
    op: Literal[">=", "<=", "<", ">"]
    threshold: float
    text: str

    def check(self, x: float) -> bool:
        if self.op == ">=":
            return x >= self.threshold
        if self.op == "<=":
            return x <= self.threshold
        if self.op == "<":
            return x < self.threshold
        return x > self.threshold


@dataclass(frozen=True)
class Row:
    """One line of a group's table.

    `value` is our figure; `anchor` names what it was compared with side by side in the same
    run and `ratio` is ours/anchor computed per round (median, min, max over rounds). `meets`
    is derived from `target` (None: a reference row with no target).
    """

    name: str
    value: Stat | None
    unit: str
    anchor: str = ""
    ratio: Stat | None = None
    target: Target | None = None
    notes: str = ""

    @property
    def meets(self) -> bool | None:
        if self.target is None:
            return None
        x = self.value if self.target.on == "value" else self.ratio
        return None if x is None else self.target.check(x.median)


@dataclass
class GroupResult:
    """What a group returns: its rows and free markdown shown above (intro) and below (details)."""

    name: str
    title: str
    rows: list[Row]
    intro: str = ""
    details: str = ""
    mode: str = ""
    elapsed_s: float = 0.0
    load: str = ""  # load average before → after, set by the harness


@dataclass
class Context:
    """What the harness hands a group."""

    repo: Path
    quick: bool
    workdir: Path
    log: Callable[[str], None]
    build: bool = False  # rebuild codeloci-ast before measuring
