"""Handshake: process start to the `initialize` and `tools/list` answers, and what tools/list
costs the model.

Protocol: a fresh process per round, JSON-RPC by hand over stdio (initialize, then
notifications/initialized and tools/list), the clock from `Popen` to each answer line.
- `codeloci serve --no-index --no-watch` **cold**: a new data directory each round (no
  handshake cache: the answers wait for the server to load);
- `codeloci serve` **warm**: one data directory whose handshake cache a first, unmeasured start
  wrote (the answers come from the cache while the server loads, `codeloci.handshake`);
- `codeloci-ast --root R`: the floor, the same exchange with the Rust server alone.
The tools/list size is what Claude Code sends the model per tool (name + description + input
schema as JSON), all 15 tools, in characters and characters / 4.

Tokens per `code_search` answer: this repository indexed (`codeloci index --no-embed`), 12
queries, k=10, default budget, lexical mode (the same answers every run), each answer as the
model would read it: the JSON of its `structuredContent` (what Claude Code hands the model when a
result has one) and codeloci's rendered text (what `--results auto` sends Claude Code); same
results, same content.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from .. import product
from ..model import Context, GroupResult, Row, Stat, Target

NAME = "handshake"
TITLE = "Handshake and tools/list size"


def _round(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, list[dict[str, Any]]]:
    done = product.stdio_handshake(cmd, cwd, env)
    return done.initialized_ms, done.listed_ms, done.tools


def _size(tools: list[dict[str, Any]]) -> int:
    return sum(len(t["name"]) + len(t.get("description") or "") + len(json.dumps(t["inputSchema"])) for t in tools)


QUERIES = [
    "parse_config", "split a large definition at its children", "score_fusion",
    "MemoryStore", "read-only store refuses writes", "embed_pending", "retrieval gate threshold",
    "watch_repository", "handshake cache", "RustBridge restart back-off", "token budget snippet",
    "secret redaction patterns",
]  # fmt: skip


def _answer_tokens(ctx: Context, tmp: Path) -> tuple[list[float], list[float]]:
    """(structured JSON tokens, rendered text tokens) per query."""
    import anyio
    from codeloci.indexing.models import CodeSearchInput, CodeSearchResult
    from codeloci.render import render_code_search

    data = tmp / "answers"
    product.cli_index(ctx, ctx.repo, data, "--no-embed")
    as_json: list[float] = []
    as_text: list[float] = []

    async def search() -> None:
        async with product.mcp_session(
            product.codeloci_cmd(), product.serve_args(data, ctx.repo, "--results", "structured"), product.env(ctx)
        ) as s:
            for q in QUERIES:
                args = CodeSearchInput(query=q, k=10, mode="lexical", force=True).model_dump(exclude_defaults=True)
                answer = CodeSearchResult.model_validate(product.structured(await s.call_tool("code_search", args)))
                dumped = answer.model_dump(mode="json")
                as_json.append(len(json.dumps(dumped, separators=(",", ":"), ensure_ascii=False)) / 4)
                as_text.append(len(render_code_search(dumped)) / 4)

    anyio.run(search)
    return as_json, as_text


def run(ctx: Context) -> GroupResult:
    rounds = 5 if ctx.quick else 15
    env = product.env(ctx)
    ast = str(product.binary(ctx).path)
    serve = [product.codeloci_cmd()]
    with tempfile.TemporaryDirectory(prefix="codeloci-bench-hs-") as tmp:
        root = Path(tmp) / "repo"
        root.mkdir()
        (root / "a.py").write_text("def a():\n    return 1\n")
        quiet = ["--no-index", "--no-watch"]
        cold: list[tuple[float, float]] = []
        for i in range(rounds):
            args = product.serve_args(Path(tmp) / f"cold-{i}", root, *quiet)
            init, listed, tools = _round([*serve, *args], root, env)
            cold.append((init, listed))
        as_json, as_text = _answer_tokens(ctx, Path(tmp))
        warm_args = product.serve_args(Path(tmp) / "warm", root, *quiet)
        _round([*serve, *warm_args], root, env)  # writes the handshake cache
        warm = [_round([*serve, *warm_args], root, env)[:2] for _ in range(rounds)]
        floor = [_round([ast, "--root", str(root)], root, env)[:2] for _ in range(rounds)]
    size = _size(tools)
    warm_list = Stat.of([w[1] for w in warm])
    floor_list = Stat.of([f[1] for f in floor])
    ast_anchor = f"codeloci-ast {floor_list.median:.0f} ms"
    rows = [
        Row(
            "`codeloci serve` start → tools/list answered, warm (handshake cache)",
            warm_list,
            "ms",
            anchor=ast_anchor,
            ratio=Stat.of([f[1] / w[1] for w, f in zip(warm, floor, strict=True)]),
            target=Target("value", "<", 300.0, "< 300 ms p50"),
            notes=f"initialize {Stat.of([w[0] for w in warm]).median:.0f} ms; {rounds} starts",
        ),
        Row(
            "`codeloci serve` start → tools/list answered, cold (no cache: first start after an install)",
            Stat.of([c[1] for c in cold]),
            "ms",
            anchor=ast_anchor,
            notes=f"initialize {Stat.of([c[0] for c in cold]).median:.0f} ms; each round a new data directory",
        ),
        Row(
            "`codeloci-ast` start → tools/list answered (the floor)",
            floor_list,
            "ms",
            notes=f"initialize {Stat.of([f[0] for f in floor]).median:.0f} ms",
        ),
        Row(
            "tools/list as the model sees it (15 tools: name + description + input schema)",
            Stat.of([size / 4]),
            "tokens",
            target=Target("value", "<=", 4000.0, "≤ 4,000 tokens (chars / 4)"),
            notes=f"{size:,} characters, {len(tools)} tools",
        ),
    ]
    rows += [
        Row(
            "`code_search` answer as the model reads it: rendered text (`--results auto` for Claude Code)",
            Stat.of(as_text),
            "tokens",
            anchor=f"structured JSON {Stat.of(as_json).median:,.0f} tokens",
            ratio=Stat.of([j / t for j, t in zip(as_json, as_text, strict=True)]),
            target=Target("ratio", ">=", 1 / 0.6, "≤ 60% of the JSON (ratio ≥ 1.67)"),
            notes=f"{len(QUERIES)} queries, k=10, lexical, default budget; chars / 4; same results and content",
        ),
    ]
    return GroupResult(
        NAME,
        TITLE,
        rows,
        intro="Time to a usable MCP session, the fixed token cost of the tool list, and what a search answer costs.",
    )
