"""Benchmark groups. Each is a module with `NAME`, `TITLE` and `run(ctx) -> GroupResult`.

`GROUPS` lists the implemented ones in the order BENCHMARKS.md shows them; `PLANNED` lists
the rows issue 7 asks for that no group measures yet, so the file shows them as not measured.
"""

from __future__ import annotations

import importlib
from types import ModuleType

GROUPS: dict[str, str] = {
    "rust": "codeloci_bench.groups.rust",
}

# name -> (title, [(work, anchor, target)]) for groups that do not exist yet.
PLANNED: dict[str, tuple[str, list[tuple[str, str, str]]]] = {
    "orchestrator": (
        "Orchestrator: index, search, proxy, memory",
        [
            ("incremental no-op, 10k files", "full re-index", "< 1 s"),
            ("edit → searchable with the watcher", "—", "< 1 s"),
            ("cold index ~100k LOC, per stage and to first searchable", "—", "lexical-searchable < 60 s"),
            ("embed chunks/s", "the same model via sentence-transformers", "≥ 1.4×"),
            (
                "code_search over MCP at 10k / 100k chunks",
                "the same query straight on the store",
                "p50 < 15 ms, p99 < 50 ms",
            ),
            ("proxy overhead (orchestrator → Rust)", "calling codeloci-ast directly", "< 2 ms p50"),
            ("orchestrator RSS idle / indexing", "—", "< 400 MB"),
        ],
    ),
    "gate": ("Retrieval gate", [("gate latency", "—", "p99 < 1 ms")]),
    "quality": (
        "Retrieval quality",
        [("MRR@10, fused", "BM25 only, dense only", "fused ≥ best single + 0.03 MRR@10")],
    ),
}

ORDER: list[str] = ["rust", "orchestrator", "gate", "quality"]


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
