"""Memory of `codeloci serve`: RSS idle and while indexing (codeloci-ast's idle RSS is in the
rust group).

Protocol (see bench/README.md, "The orchestrator groups"):
- idle: a fresh `codeloci serve` (stdio) on an empty data directory, MCP initialize +
  tools/list + one `index_status`, then VmRSS of the Python process after 2 s.
- indexing: a fresh `codeloci serve` on an empty data directory; `index_repository` of the
  stdlib repository (returns when lexical search works; background embedding then starts),
  then `embed_seconds` more while the background embedding runs. VmRSS of the Python process
  is sampled every 50 ms the whole time; the row is the peak sample (VmHWM in the notes). The
  Rust child's RSS is sampled too and reported in the notes.
"""

from __future__ import annotations

import threading
import time

import anyio

from .. import product
from ..machine import package_version
from ..model import Context, GroupResult, Row, Stat, Target

NAME = "memory"
TITLE = "Orchestrator memory (RSS)"

MIB_PER_MB = 1e6 / 2**20  # 400 MB target = 381.5 MiB


def _serve_pid(parent: int) -> int | None:
    return product.find_pid("codeloci serve", parent) or product.find_pid(" serve ", parent)


async def _idle(ctx: Context, data_dir, root) -> tuple[float, float]:
    async with product.mcp_session(product.codeloci_cmd(), product.serve_args(data_dir, root), product.env(ctx)) as s:
        await s.list_tools()
        product.structured(await s.call_tool("index_status", {}))
        await anyio.sleep(2.0)
        pid = _serve_pid(__import__("os").getpid())
        if pid is None:
            raise RuntimeError("could not find the codeloci serve process")
        return product.rss_mib(pid)


async def _indexing(ctx: Context, data_dir, root, embed_seconds: float) -> dict[str, float]:
    import os

    samples: list[float] = []
    rust: list[float] = []
    stop = threading.Event()
    out: dict[str, float] = {}
    async with product.mcp_session(product.codeloci_cmd(), product.serve_args(data_dir, root), product.env(ctx)) as s:
        await s.list_tools()
        pid = _serve_pid(os.getpid())
        if pid is None:
            raise RuntimeError("could not find the codeloci serve process")

        def sampler() -> None:
            while not stop.is_set():
                try:
                    samples.append(product.rss_mib(pid)[0])
                    for child in product.children(pid):
                        rust.append(product.rss_mib(child)[0])
                except OSError:
                    pass
                time.sleep(0.05)

        th = threading.Thread(target=sampler, daemon=True)
        th.start()
        t0 = time.perf_counter()
        rep = product.structured(await s.call_tool("index_repository", {}))
        out["searchable_s"] = time.perf_counter() - t0
        out["chunks"] = float(rep["chunks_written"])
        await anyio.sleep(embed_seconds)
        status = product.structured(await s.call_tool("index_status", {}))
        out["embedded"] = float(status["embedded"])
        stop.set()
        th.join()
        out["peak"] = max(samples)
        out["hwm"] = product.rss_mib(pid)[1]
        out["rust_peak"] = max(rust) if rust else float("nan")
    return out


def run(ctx: Context) -> GroupResult:
    starts = 2 if ctx.quick else 3
    embed_seconds = 10.0 if ctx.quick else 30.0
    repo = product.stdlib_repo(ctx)
    idle: list[float] = []
    idle_hwm: list[float] = []
    for i in range(starts):
        data = ctx.workdir / "data" / f"mem-idle-{i}"
        rss, hwm = anyio.run(_idle, ctx, data, repo.path)
        idle.append(rss)
        idle_hwm.append(hwm)
    runs = []
    for i in range(starts):
        ctx.log(f"  indexing RSS {i + 1}/{starts}")
        data = ctx.workdir / "data" / f"mem-index-{i}"
        runs.append(anyio.run(_indexing, ctx, data, repo.path, embed_seconds))
    limit = 400 * MIB_PER_MB
    rows = [
        Row(
            "`codeloci serve` RSS idle",
            Stat.of(idle),
            "MiB",
            target=Target("value", "<", limit, "< 400 MB (381 MiB)"),
            notes=f"after initialize + tools/list + index_status, 2 s; VmHWM {Stat.of(idle_hwm).median:.0f} MiB; "
            "Python process only (codeloci-ast: see the rust group)",
        ),
        Row(
            "`codeloci serve` RSS while indexing (peak sample)",
            Stat.of([r["peak"] for r in runs]),
            "MiB",
            target=Target("value", "<", limit, "< 400 MB (381 MiB)"),
            notes=f"index_repository of {repo.files} files → {runs[0]['chunks']:.0f} chunks (searchable in "
            f"{Stat.of([r['searchable_s'] for r in runs]).median:.0f} s), then {embed_seconds:.0f} s of background "
            f"embedding ({Stat.of([r['embedded'] for r in runs]).median:.0f} chunks embedded); VmHWM "
            f"{Stat.of([r['hwm'] for r in runs]).median:.0f} MiB; codeloci-ast child peak "
            f"{Stat.of([r['rust_peak'] for r in runs]).median:.0f} MiB (not included)",
        ),
    ]
    details = (
        f"- **Input:** {repo.describe()}. Every run is a fresh process on an empty data directory; VmRSS sampled "
        f"every 50 ms from `/proc/PID/status`; MiB = 2²⁰ bytes; {starts} runs each.\n"
        f"- **Versions:** codeloci {package_version('codeloci')}, qdrant-edge-py {package_version('qdrant-edge-py')}, "
        f"onnxruntime {package_version('onnxruntime')}, mcp {package_version('mcp')}."
    )
    return GroupResult(NAME, TITLE, rows, intro="Resident memory of the orchestrator process.", details=details)
