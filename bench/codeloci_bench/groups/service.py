"""Many sessions, one service: handshake, memory and latency of `codeloci serve` as a thin
session of the per-user service against the same server in-process (`--no-service`), same run.

Protocol:
- **handshake**: a fresh `codeloci serve` per round, JSON-RPC by hand over stdio, the clock
  from `Popen` to the `tools/list` answer. *Service warm*: the service already runs and the
  handshake cache is written. *Service cold*: a new data directory each round (no service, no
  cache); also timed to the first `memory_list` answer, which waits for the service to start
  and open the store. *In-process warm*: `--no-service` with its cache written (the anchor).
- **RSS**: three sessions at once, each having stored a memory, searched memories and searched
  code (so the embedder and the store are loaded): the sum of VmRSS of every process involved
  (sessions, the service, their `codeloci-ast` children), three `--no-service` servers (each on
  its own copy of the data directory: in-process, a second one cannot open the same store)
  against one service plus three thin sessions.
- **latency**: `memory_find` and `code_search` (lexical, this repository indexed) p50 over MCP
  from the SDK client, through a thin session and the service against in-process, same data,
  same queries, interleaved rounds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from .. import product
from ..model import Context, GroupResult, Row, Stat, Target

NAME = "service"
TITLE = "Many sessions, one service"

QUERIES = ["handshake cache", "score fusion", "RustBridge restart", "token budget", "retrieval gate"]


def _handshake(cmd: list[str], cwd: Path, env: dict[str, str], first_call: bool = False) -> tuple[float, float]:
    """(ms to tools/list, ms to the first memory_list answer or 0)."""
    done = product.stdio_handshake(cmd, cwd, env, first_call=first_call)
    return done.listed_ms, done.called_ms


def _tree_rss(pid: int) -> float:
    """VmRSS (MiB) of a process and all its descendants."""
    total = 0.0
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            total += product.rss_mib(p)[0]
        except OSError:
            continue
        stack.extend(product.children(p))
    return total


def _paths(data: Path) -> Any:
    from codeloci.config import Settings
    from codeloci.service.paths import ServicePaths

    return ServicePaths.for_settings(Settings(data_dir=data, project_root=data, rust_server=None))


def _service_pid(data: Path) -> int | None:
    return _paths(data).read_pid()


def _stop_service(data: Path) -> None:
    from codeloci.service.client import stop_service

    stop_service(_paths(data))


async def _sessions(ctx: Context, data: Path, service: bool, rounds: int) -> tuple[float, list[float], list[float]]:
    """Three sessions at once: (RSS MiB of everything, memory_find ms, code_search ms)."""
    env = product.env(ctx, CODELOCI_GATE_ENABLED="0")
    finds: list[float] = []
    searches: list[float] = []
    before = set(product.children(os.getpid()))
    async with AsyncExitStack() as stack:
        sessions = []
        for i in range(3):
            own = data
            if not service and i:  # in-process, each session needs a store of its own
                own = data.with_name(f"{data.name}-{i}")
                if not own.exists():
                    shutil.copytree(data, own, ignore=shutil.ignore_patterns("*.lock", "service"))
            args = product.serve_args(own, ctx.repo, "--session-id", f"bench-{i}", service=service)
            sessions.append(await stack.enter_async_context(product.mcp_session(product.codeloci_cmd(), args, env)))
        for i, s in enumerate(sessions):
            product.structured(
                await s.call_tool("memory_store", {"content": f"bench note {i}", "level": "PROJECT_CONTEXT"})
            )
            product.structured(await s.call_tool("memory_find", {"query": "bench note", "force": True}))
            product.structured(
                await s.call_tool("code_search", {"query": "handshake", "mode": "lexical", "force": True})
            )
        procs = [p for p in product.children(os.getpid()) if p not in before]
        rss = sum(_tree_rss(p) for p in procs)
        pid = _service_pid(data) if service else None
        if pid is not None and all(pid not in product.children(p) for p in procs):
            rss += _tree_rss(pid)  # reparented: its starter was not the first session
        s = sessions[0]
        for _ in range(rounds):
            for q in QUERIES:
                t = time.perf_counter()
                product.structured(await s.call_tool("memory_find", {"query": q, "force": True}))
                finds.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                product.structured(await s.call_tool("code_search", {"query": q, "mode": "lexical", "force": True}))
                searches.append((time.perf_counter() - t) * 1000)
    return rss, finds, searches


def run(ctx: Context) -> GroupResult:
    import anyio

    rounds = 5 if ctx.quick else 15
    env = product.env(ctx)
    serve = [product.codeloci_cmd()]
    with tempfile.TemporaryDirectory(prefix="codeloci-bench-svc-") as tmp_name:
        tmp = Path(tmp_name)
        root = tmp / "repo"
        root.mkdir()
        (root / "a.py").write_text("def a():\n    return 1\n")
        # handshake: service cold (a new data directory per round), then warm, then in-process
        cold: list[tuple[float, float]] = []
        for i in range(rounds):
            data = tmp / f"cold-{i}"
            cold.append(_handshake([*serve, *product.serve_args(data, root, service=True)], root, env, True))
            _stop_service(data)
        warm_data = tmp / "warm"
        warm_args = product.serve_args(warm_data, root, service=True)
        _handshake([*serve, *warm_args], root, env, True)  # starts the service, writes the cache
        keeper = subprocess.Popen([*serve, *warm_args], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env)
        try:  # a session that stays open keeps the service up between rounds
            warm = [_handshake([*serve, *warm_args], root, env)[0] for _ in range(rounds)]
        finally:
            assert keeper.stdin
            keeper.stdin.close()
            keeper.wait(30)
            _stop_service(warm_data)
        local_args = product.serve_args(tmp / "local", root)
        _handshake([*serve, *local_args], root, env)
        local = [_handshake([*serve, *local_args], root, env)[0] for _ in range(rounds)]

        # three sessions: RSS and latency, this repository indexed lexically, same data for both
        data = tmp / "sessions"
        product.cli_index(ctx, ctx.repo, data, "--no-embed")
        rss_local, find_local, search_local = anyio.run(_sessions, ctx, data, False, rounds)
        rss_svc, find_svc, search_svc = anyio.run(_sessions, ctx, data, True, rounds)
        _stop_service(data)
        shutil.rmtree(tmp, ignore_errors=True)

    def p50(xs: list[float]) -> float:
        return product.percentile(xs, 0.5)

    find_added = p50(find_svc) - p50(find_local)
    search_added = p50(search_svc) - p50(search_local)
    rows = [
        Row(
            "thin session start → tools/list answered, service warm",
            Stat.of(warm),
            "ms",
            anchor=f"in-process, cache warm {Stat.of(local).median:.0f} ms",
            target=Target("value", "<", 300.0, "< 300 ms p50"),
            notes=f"{rounds} starts; the service up, the handshake cache written",
        ),
        Row(
            "thin session start → tools/list answered, service cold (none running, no cache)",
            Stat.of([c[0] for c in cold]),
            "ms",
            notes=f"first memory_list answered after {Stat.of([c[1] for c in cold]).median:.0f} ms "
            "(service start, embedder, store)",
        ),
        Row(
            "RSS of 3 sessions: 1 service + 3 thin sessions (with their codeloci-ast children)",
            Stat.of([rss_svc]),
            "MiB",
            anchor=f"3 in-process servers {rss_local:.0f} MiB",
            ratio=Stat.of([rss_local / rss_svc]),
            notes="after memory_store, memory_find and code_search in each",
        ),
        Row(
            "memory_find p50 over MCP through the service",
            Stat.of([p50(find_svc)]),
            "ms",
            anchor=f"in-process {p50(find_local):.2f} ms",
            target=Target("value", "<=", p50(find_local) + 1.5, "≤ in-process + 1.5 ms"),
            notes=f"added {find_added:+.2f} ms; {len(find_svc)} calls",
        ),
        Row(
            "code_search (lexical) p50 over MCP through the service",
            Stat.of([p50(search_svc)]),
            "ms",
            anchor=f"in-process {p50(search_local):.2f} ms",
            target=Target("value", "<=", p50(search_local) + 1.5, "≤ in-process + 1.5 ms"),
            notes=f"added {search_added:+.2f} ms; {len(search_svc)} calls",
        ),
    ]
    return GroupResult(
        NAME,
        TITLE,
        rows,
        intro="Sessions share one per-user service (codeloci.service); each figure against the same "
        "server in-process (`--no-service`) in the same run. A call through the service crosses two "
        "more processes (the session and the service), so on 2 shared cores what it adds grows with "
        "the load: compare runs taken at a similar load average.",
    )
