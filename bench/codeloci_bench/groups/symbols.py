"""Symbol navigation: `symbol_find` against Jedi, and its latency over MCP at ~100k chunks.

Quality: `python -m devtools.symbols.evaluate --json` (see its docstring): two installed
packages not in `just eval`'s corpus (requests, click) chunked by the real `codeloci-ast` into
the symbol table an index run writes, queried as the tool queries it; ground truth Jedi's
static analysis (kept in python-orchestrator/devtools/symbols/truth/, so Jedi is not needed to
rerun). Definition recall over every function and class Jedi names (query: the module-qualified
name); callers precision and recall over a seeded sample of 60 functions per package, places
(path, line) micro-averaged, non-call references and nested callers counted, places the tool
lists as ambiguous not counted as answers.

Latency: the `crates-100k` fixture (`codeloci index --no-embed`, which writes the symbol table
beside the store), `codeloci serve` over MCP stdio, `symbol_find` called with the qualified
names of a seeded sample of the fixture's functions and methods, each once to warm up, then
measured: a definition lookup, and the same with `refs: "callers"` (depth 1).
"""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
import time
from typing import Any

import anyio

from .. import product
from ..model import Context, GroupResult, Row, Stat, Target

NAME = "symbols"
TITLE = "Symbol navigation (symbol_find)"
SEED = 15
READING = (
    "- **Reading the disagreements:** a place Jedi does not list is not always wrong: Jedi does not "
    "narrow a type through `isinstance` (`if isinstance(command, Group): command.resolve_command(...)`), "
    "and it cannot type `self.type` where the project has one method of that name; such places count "
    "against precision here. What we miss is mostly a receiver whose type only inference knows (a loop "
    "variable, `self.attr`, a local assigned from a constructor or from a function's return annotation)."
)


def _quality(ctx: Context) -> list[dict[str, Any]]:
    ctx.log("  python -m devtools.symbols.evaluate --json (requests, click)")
    proc = subprocess.run(
        [sys.executable, "-m", "devtools.symbols.evaluate", "--json"],
        cwd=ctx.repo / "python-orchestrator",  # devtools/ is beside the package, not installed
        capture_output=True,
        text=True,
        env=product.env(ctx),
        timeout=3600,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"devtools.symbols.evaluate failed: {proc.stderr[-2000:]}")
    return list(json.loads(proc.stdout))


def _queries(fx: product.Fixture, n: int) -> list[str]:
    from codeloci.config import project_id_for
    from codeloci.indexing.symbols import symbols_path

    path = symbols_path(fx.data, project_id_for(fx.repo.path))
    con = sqlite3.connect(path)
    names = sorted({str(r[0]) for r in con.execute("SELECT qname FROM defs WHERE kind IN ('function', 'method')")})
    con.close()
    return random.Random(SEED).sample(names, min(n, len(names)))


async def _latency(ctx: Context, fx: product.Fixture, queries: list[str]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"find": [], "callers": []}
    args = product.serve_args(fx.data, fx.repo.path)
    async with product.mcp_session(product.codeloci_cmd(), args, product.env(ctx)) as s:
        for q in queries:  # warm-up: the first answers load the store and the table
            product.structured(await s.call_tool("symbol_find", {"query": q, "force": True}))
        for q in queries:
            for label, extra in (("find", {}), ("callers", {"refs": "callers"})):
                t0 = time.perf_counter()
                product.structured(await s.call_tool("symbol_find", {"query": q, "force": True, **extra}))
                out[label].append((time.perf_counter() - t0) * 1000)
    return out


def run(ctx: Context) -> GroupResult:
    rows: list[Row] = []
    results = _quality(ctx)
    for r in results:
        pkg = f"{r['package']} {r['version']}"
        measures = [
            (f"definition lookup recall ({r['definitions']} definitions)", "definition_recall", 0.98, ""),
            (
                f"callers recall ({r['functions']} functions, {r['true_sites']} true places)",
                "caller_recall",
                0.90,
                "",
            ),
            (
                f"callers precision ({r['answered_sites']} places answered)",
                "caller_precision",
                0.97,
                f"{r['ambiguous_places']} places listed as ambiguous, not counted",
            ),
        ]
        for label, key, bound, notes in measures:
            rows.append(
                Row(
                    f"{pkg}: {label}",
                    Stat.of([r[key]]),
                    "",
                    anchor="Jedi",
                    target=Target("value", ">=", bound, f">= {bound:.2f}"),
                    notes=notes,
                )
            )
    n = 60 if ctx.quick else 200
    fx = product.fixture(ctx, "crates-100k")
    queries = _queries(fx, n)
    ctx.log(f"  symbol_find over MCP: {len(queries)} qualified names at {fx.chunks:,} chunks")
    lat = anyio.run(_latency, ctx, fx, queries)
    size = f"{fx.chunks:,} chunks"
    for label, what in (("find", "definition lookup"), ("callers", "definition + callers (depth 1)")):
        values = lat[label]
        rows.append(
            Row(
                f"`symbol_find` {what} over MCP at {size}: p50",
                Stat.of([product.percentile(values, 0.5)]),
                "ms",
                target=Target("value", "<", 20.0, "< 20 ms p50"),
                notes=f"p99 {product.percentile(values, 0.99):.1f} ms, {len(values)} queries",
            )
        )
    misses = [m for r in results for m in r["missed"]]
    wrong = [w for r in results for w in r["wrong"]]
    details = "\n".join(
        [
            f"- **Callers missed** ({len(misses)}): " + "; ".join(misses[:30]),
            f"- **Callers answered that Jedi does not list** ({len(wrong)}): " + "; ".join(wrong[:30]),
            READING,
        ]
    )
    return GroupResult(NAME, TITLE, rows, intro=__doc__ or "", details=details)
