"""Benchmark groups. Each is a module with `NAME`, `TITLE` and `run(ctx) -> GroupResult`.

`GROUPS` lists the implemented ones in the order BENCHMARKS.md shows them; `PLANNED` lists
the rows issue 7 asks for that no group measures yet, so the file shows them as not measured.
"""

from __future__ import annotations

import importlib
from types import ModuleType

GROUPS: dict[str, str] = {
    "rust": "codeloci_bench.groups.rust",
    "handshake": "codeloci_bench.groups.handshake",
    "service": "codeloci_bench.groups.service",
    "index": "codeloci_bench.groups.index",
    "scale": "codeloci_bench.groups.scale",
    "search": "codeloci_bench.groups.search",
    "embed": "codeloci_bench.groups.embed",
    "fullembed": "codeloci_bench.groups.fullembed",
    "memory": "codeloci_bench.groups.memory",
    "gate": "codeloci_bench.groups.gate",
    "quality": "codeloci_bench.groups.quality",
    "symbols": "codeloci_bench.groups.symbols",
}

# name -> (title, [(work, anchor, target)]) for groups that do not exist yet.
PLANNED: dict[str, tuple[str, list[tuple[str, str, str]]]] = {}

# Sections of BENCHMARKS.md that no longer exist: dropped from the file on the next run
# ("orchestrator" was the placeholder for what index/search/embed/memory now measure).
RETIRED: tuple[str, ...] = ("orchestrator",)

ORDER: list[str] = [
    "rust", "handshake", "service", "index", "scale", "search", "embed", "fullembed", "memory", "gate", "quality",
    "symbols",
]  # fmt: skip


def load(name: str) -> ModuleType:
    return importlib.import_module(GROUPS[name])


def placeholder(name: str) -> str:
    title, rows = PLANNED[name]
    lines = [
        f"## {title}\n",
        (
            f"_Not measured yet: no `{name}` group exists in bench/ (`python bench/run.py --only {name}` "
            "will fill this section once it does)._\n"
        ),
        "| Benchmark | Anchor (same run) | Target | Meets? |",
        "|---|---|---|---|",
    ]
    lines += [f"| {w} | {a} | {t} | ❌ **NOT MEASURED** |" for w, a, t in rows]
    return "\n".join(lines) + "\n"
