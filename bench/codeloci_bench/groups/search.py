"""code_search latency over MCP stdio at ~10k and ~100k chunks, against the same query straight
on the store in-process; 32 concurrent searches while an index runs; proxy overhead of the
Rust tools through `codeloci serve` against calling `codeloci-ast` directly.

Protocol (see bench/README.md, "The orchestrator groups"):
- Queries come from the indexed repository itself: identifier queries (the last part of a
  chunk's qualified name) and natural-language queries (the first line of a chunk's docstring),
  chosen deterministically from the store.
- Each round: a `codeloci serve` on the store answers every query once per mode over MCP stdio
  (client-side wall time of `call_tool`), then the server stops and this process opens the same
  store and runs the same `CodeSearcher.search` calls straight on it. p50/p99 per round; rows
  show the median (min, max) over rounds; speed-up = in-process p50 / MCP p50 of the round.
- Concurrency: 32 `code_search` calls at once (identifier queries whose answer is known from a
  quiet pass) while `index_repository` indexes another repository in the same server.
- Proxy: `chunk` (one file) and `parse` (outline of one file) through `codeloci serve` vs the
  same call to `codeloci-ast` over its own stdio, same client library, alternating.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import anyio

from .. import product
from ..machine import package_version
from ..model import Context, GroupResult, Row, Stat, Target

NAME = "search"
TITLE = "code_search latency, concurrency, proxy overhead"

MODES = ("hybrid", "lexical")


def _queries(fx: product.Fixture, n: int) -> list[tuple[str, str, str]]:
    """(kind, query, expected path) from the store's own chunks."""
    payloads = product.sample_payloads(fx.data, fx.repo.path, 6 * n)
    ident: list[tuple[str, str, str]] = []
    nl: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for p in payloads:
        sym = str(p.get("symbol") or "")
        name = re.split(r"[.:]+", sym)[-1] if sym else ""
        if len(name) >= 6 and name not in seen and len(ident) < n:
            seen.add(name)
            ident.append(("identifier", name, str(p["path"])))
        doc = str(p.get("docstring") or "").strip().splitlines()
        line = re.sub(r"[^\w\s,.'-]", " ", doc[0]).strip() if doc else ""
        if 4 <= len(line.split()) <= 16 and line not in seen and len(nl) < n:
            seen.add(line)
            nl.append(("nl", line[:200], str(p["path"])))
    return ident + nl


async def _mcp_round(ctx: Context, fx: product.Fixture, queries: list[tuple[str, str, str]]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {m: [] for m in MODES}
    async with product.mcp_session(
        product.codeloci_cmd(), product.serve_args(fx.data, fx.repo.path), product.env(ctx)
    ) as session:
        for _, q, _ in queries[:5]:  # warm-up: embedder, store, first query plans
            await session.call_tool("code_search", {"query": q, "k": 10, "force": True})
        for mode in MODES:
            for _, q, _ in queries:
                t0 = time.perf_counter()
                product.structured(
                    await session.call_tool("code_search", {"query": q, "k": 10, "mode": mode, "force": True})
                )
                out[mode].append((time.perf_counter() - t0) * 1000)
    return out


def _inproc_round(fx: product.Fixture, queries: list[tuple[str, str, str]]) -> dict[str, list[float]]:
    from codeloci.indexing.models import CodeSearchInput
    from codeloci.indexing.search import CodeSearcher

    store, embedder = product.open_inprocess(fx.data)
    out: dict[str, list[float]] = {m: [] for m in MODES}
    try:
        searcher = CodeSearcher(store, embedder)
        root = fx.repo.path.resolve()
        for _, q, _ in queries[:5]:
            searcher.search(root, CodeSearchInput(query=q, k=10))
        for mode in MODES:
            for _, q, _ in queries:
                inp = CodeSearchInput(query=q, k=10, mode=mode)
                t0 = time.perf_counter()
                searcher.search(root, inp)
                out[mode].append((time.perf_counter() - t0) * 1000)
    finally:
        store.close()
    return out


def _latency(ctx: Context, fx: product.Fixture, label: str, rounds: int, nq: int) -> tuple[list[Row], str]:
    queries = _queries(fx, nq)
    per: dict[str, dict[str, list[float]]] = {
        m: {"p50": [], "p99": [], "ip50": [], "ip99": [], "ratio": [], "identifier": [], "nl": []} for m in MODES
    }
    for r in range(rounds):
        ctx.log(f"  {label}: round {r + 1}/{rounds}, {len(queries)} queries × {len(MODES)} modes")
        mcp = anyio.run(_mcp_round, ctx, fx, queries)
        inproc = _inproc_round(fx, queries)
        for m in MODES:
            p50, p99 = product.percentile(mcp[m], 0.5), product.percentile(mcp[m], 0.99)
            i50, i99 = product.percentile(inproc[m], 0.5), product.percentile(inproc[m], 0.99)
            per[m]["p50"].append(p50)
            per[m]["p99"].append(p99)
            per[m]["ip50"].append(i50)
            per[m]["ip99"].append(i99)
            per[m]["ratio"].append(i50 / p50)
            for kind in ("identifier", "nl"):  # mcp[m][i] answers queries[i]
                of_kind = [t for t, (k, _, _) in zip(mcp[m], queries, strict=True) if k == kind]
                per[m][kind].append(product.percentile(of_kind, 0.5))
    rows: list[Row] = []
    for m in MODES:
        ratio = Stat.of(per[m]["ratio"])
        rows.append(
            Row(
                f"code_search p50 over MCP, {label}, {m}",
                Stat.of(per[m]["p50"]),
                "ms",
                anchor="the same query straight on the store (in-process `CodeSearcher.search`)",
                ratio=ratio,
                target=Target("value", "<", 15.0, "p50 < 15 ms"),
                notes=f"in-process p50 {Stat.of(per[m]['ip50']).median:.1f} ms; speed-up < 1 = MCP overhead; "
                f"over MCP, identifier queries p50 {Stat.of(per[m]['identifier']).median:.1f} ms, "
                f"docstring (natural-language) queries p50 {Stat.of(per[m]['nl']).median:.1f} ms",
            )
        )
        rows.append(
            Row(
                f"code_search p99 over MCP, {label}, {m}",
                Stat.of(per[m]["p99"]),
                "ms",
                anchor="in-process p99",
                ratio=Stat.of([a / b for a, b in zip(per[m]["ip99"], per[m]["p99"], strict=True)]),
                target=Target("value", "<", 50.0, "p99 < 50 ms"),
                notes=f"in-process p99 {Stat.of(per[m]['ip99']).median:.1f} ms",
            )
        )
    kinds = sum(1 for k, _, _ in queries if k == "identifier")
    detail = (
        f"- **{label}:** {fx.repo.describe()}; {fx.chunks:,} chunks; dense vectors: {fx.dense_filled}. "
        f"{len(queries)} queries ({kinds} identifiers, {len(queries) - kinds} docstring first lines), k=10, "
        f"`force: true` (gate bypassed), {rounds} rounds."
    )
    return rows, detail


async def _concurrent(ctx: Context, fx: product.Fixture, other: product.Fixture, n: int) -> dict[str, Any]:
    queries = [q for q in _queries(fx, 64) if q[0] == "identifier"]
    async with product.mcp_session(
        product.codeloci_cmd(), product.serve_args(fx.data, fx.repo.path), product.env(ctx)
    ) as session:
        expected: dict[str, set[str]] = {}
        for _, q, _ in queries:
            res = product.structured(
                await session.call_tool("code_search", {"query": q, "k": 10, "mode": "lexical", "force": True})
            )
            if res["results"]:
                expected[q] = {h["path"] for h in res["results"][:3]}
        picked = list(expected)[:n]
        while len(picked) < n:
            picked += picked[: n - len(picked)]
        lat: list[float] = []
        wrong: list[str] = []
        errors: list[str] = []
        index_result: dict[str, Any] = {}
        index_done = anyio.Event()

        async def indexer() -> None:
            t0 = time.perf_counter()
            try:
                index_result.update(
                    product.structured(await session.call_tool("index_repository", {"path": str(other.repo.path)}))
                )
            except Exception as exc:  # noqa: BLE001 - reported
                index_result["error"] = str(exc)
            index_result["seconds_wall"] = time.perf_counter() - t0
            index_done.set()

        async def one(q: str, lat: list[float] = lat) -> None:
            t0 = time.perf_counter()
            try:
                res = product.structured(
                    await session.call_tool("code_search", {"query": q, "k": 10, "mode": "lexical", "force": True})
                )
            except Exception as exc:  # noqa: BLE001 - counted
                errors.append(str(exc)[:200])
                return
            lat.append((time.perf_counter() - t0) * 1000)
            got = {h["path"] for h in res["results"][:3]}
            if not (got & expected[q]):
                wrong.append(q)

        quiet: list[float] = []
        async with anyio.create_task_group() as burst:
            for q in picked:
                burst.start_soon(one, q, quiet)
        async with anyio.create_task_group() as tg:
            tg.start_soon(indexer)
            await anyio.sleep(1.0)  # the index run is under way (scan/chunk)
            started_during = not index_done.is_set()
            async with anyio.create_task_group() as burst:
                for q in picked:
                    burst.start_soon(one, q)
            during = not index_done.is_set()
    return {
        "lat": lat,
        "quiet": quiet,
        "wrong": wrong,
        "errors": errors,
        "n": len(picked),
        "index": index_result,
        "overlapped": started_during and during,
    }


async def _proxy_round(ctx: Context, fx: product.Fixture, file: str, calls: int) -> dict[str, list[float]]:
    b = product.binary(ctx)
    out: dict[str, list[float]] = {"chunk/serve": [], "chunk/direct": [], "parse/serve": [], "parse/direct": []}
    args = {
        "chunk": {"paths": [file], "root": str(fx.repo.path)},
        "parse": {"path": file, "root": str(fx.repo.path)},
    }
    async with (
        product.mcp_session(
            product.codeloci_cmd(), product.serve_args(fx.data, fx.repo.path), product.env(ctx)
        ) as serve,
        product.mcp_session(str(b.path), ["--root", str(fx.repo.path)], product.env(ctx)) as direct,
    ):
        for tool in ("chunk", "parse"):
            for s in (serve, direct):
                for _ in range(5):
                    product.structured(await s.call_tool(tool, args[tool]))
        for i in range(calls):
            for tool in ("chunk", "parse"):
                order = [("serve", serve), ("direct", direct)]
                if i % 2:
                    order.reverse()
                for label, s in order:
                    t0 = time.perf_counter()
                    product.structured(await s.call_tool(tool, args[tool]))
                    out[f"{tool}/{label}"].append((time.perf_counter() - t0) * 1000)
    return out


def run(ctx: Context) -> GroupResult:
    quick = ctx.quick
    rounds = 2 if quick else 3
    nq = 40 if quick else 100
    rows: list[Row] = []
    details: list[str] = []
    small = product.fixture(ctx, "stdlib")
    product.fill_dense(ctx, small)
    r, d = _latency(
        ctx, small, f"~10k chunks ({small.chunks:,})" if not quick else f"{small.chunks:,} chunks (quick)", rounds, nq
    )
    rows += r
    details.append(d)
    big = product.fixture(ctx, "crates-100k")
    product.fill_dense(ctx, big)
    r, d = _latency(
        ctx, big, f"~100k chunks ({big.chunks:,})" if not quick else f"{big.chunks:,} chunks (quick)", rounds, nq
    )
    rows += r
    details.append(d)

    ctx.log("  32 concurrent code_search while index_repository runs")
    other = product.stdlib_repo(ctx)
    # the index run needs a repository the server may read (inside its project root, which is all
    # it passes to codeloci-ast): a fresh copy of the stdlib repository as a nested git repository
    # of the searched one, so it is indexed as a separate project (a new one each round, so each
    # round's run indexes from scratch); removed afterwards.
    import shutil
    import subprocess

    bursts: list[dict[str, Any]] = []
    for i in range(rounds):
        other_path = big.repo.path / f"zz-bench-nested-stdlib-{i}"
        shutil.copytree(other.path, other_path, ignore=shutil.ignore_patterns(".git"))
        subprocess.run(["git", "init", "-q", str(other_path)], check=True)
        other_fx = product.Fixture(
            product.Repo("nested", other_path, other.source, other.files, other.lines, other.bytes),
            Path(),
            0,
            small.cold,
        )
        try:
            bursts.append(anyio.run(_concurrent, ctx, big, other_fx, 32))
        finally:
            shutil.rmtree(other_path, ignore_errors=True)
    n = sum(b["n"] for b in bursts)
    errors = [e for b in bursts for e in b["errors"]]
    ok = n - sum(len(b["wrong"]) for b in bursts) - len(errors)
    p99 = [product.percentile(b["lat"], 0.99) for b in bursts if b["lat"]]
    quiet99 = [product.percentile(b["quiet"], 0.99) for b in bursts if b["quiet"]]
    index_note = "; ".join(
        b["index"].get("error")
        or f"{b['index'].get('chunks_written')} chunks in {b['index'].get('seconds_wall', 0):.1f} s"
        for b in bursts
    )
    rows.append(
        Row(
            "32 concurrent code_search during index_repository: p99",
            Stat.of(p99) if p99 else None,
            "ms",
            anchor="the same 32 searches at once with no index run (same server, just before)",
            ratio=Stat.of([q / d for q, d in zip(quiet99, p99, strict=True)]) if p99 and quiet99 else None,
            target=Target("value", "<", 150.0, "p99 < 150 ms"),
            notes=f"{ok}/{n} answered correctly (top-3 path as in a quiet pass), {len(errors)} errors"
            f"{'; ' + errors[0] if errors else ''}; p50 during "
            f"{product.percentile([x for b in bursts for x in b['lat']], 0.5):.0f} ms; quiet p99 "
            f"{', '.join(f'{q:.0f}' for q in quiet99)} ms; every burst inside its index run: "
            f"{all(b['overlapped'] for b in bursts)}; index runs: {index_note}",
        )
    )
    rows.append(
        Row(
            "32 concurrent code_search during index_repository: correct answers",
            Stat.of([ok / n * 100]),
            "%",
            target=Target("value", ">=", 100.0, "all answer correctly"),
        )
    )
    details.append(
        f"- **Concurrency:** server on the {big.chunks:,}-chunk store; 32 lexical identifier searches sent at "
        "once with nothing else running (the anchor), then `index_repository` of a fresh copy of the stdlib "
        "repository (a nested git repository inside the searched one, so inside the server's root; a new "
        "project each round) starts and 1 s later the same 32 searches are sent at once; correct = one of the "
        f"top 3 paths of a quiet pass before the index run. {rounds} bursts (one per round); speed-up = quiet "
        "p99 ÷ p99 during the run."
    )

    ctx.log("  proxy overhead: chunk / parse through codeloci serve vs codeloci-ast directly")
    files = sorted(small.repo.path.glob("*.py"), key=lambda p: abs(p.stat().st_size - 8000))
    file = files[0].name
    calls = 60 if quick else 200
    prounds = 2 if quick else 3
    stats: dict[str, list[float]] = {"chunk": [], "parse": []}
    direct50: dict[str, list[float]] = {"chunk": [], "parse": []}
    for _ in range(prounds):
        res = anyio.run(_proxy_round, ctx, small, file, calls)
        for tool in ("chunk", "parse"):
            s50 = product.percentile(res[f"{tool}/serve"], 0.5)
            d50 = product.percentile(res[f"{tool}/direct"], 0.5)
            stats[tool].append(s50 - d50)
            direct50[tool].append(d50)
    size = (small.repo.path / file).stat().st_size
    for tool in ("chunk", "parse"):
        rows.append(
            Row(
                f"proxy overhead p50, `{tool}` (one {size / 1000:.0f} kB file)",
                Stat.of(stats[tool]),
                "ms",
                anchor="`codeloci-ast` directly over stdio",
                target=Target("value", "<", 2.0, "< 2 ms p50"),
                notes=f"p50 through serve − p50 direct, per round; direct p50 {Stat.of(direct50[tool]).median:.2f} ms",
            )
        )
    details.append(
        f"- **Proxy:** `{file}` ({size:,} bytes) of the stdlib repository; {calls} calls per tool per round, "
        f"serve and direct alternating, {prounds} rounds, same `mcp` client library for both."
    )
    b = product.binary(ctx)
    details.append(
        f"- **Versions:** codeloci {package_version('codeloci')}, codeloci-ast {b.version} (built {b.built}), "
        f"qdrant-edge-py {package_version('qdrant-edge-py')}, mcp {package_version('mcp')}."
    )
    intro = (
        "Client-side wall time of MCP `tools/call` over stdio (the Python `mcp` SDK client), one call at a time "
        "unless stated. `hybrid` = dense + BM25 fused in Qdrant (query embedded with MiniLM each time), "
        "`lexical` = BM25 only."
    )
    return GroupResult(NAME, TITLE, rows, intro=intro, details="\n".join(details))
