"""A million lines: cold lexical index, each stage against codeloci-ast's own chunk time, peak RSS.

Protocol (see bench/README.md, "The orchestrator groups"):
- input: `crates-1m`, whole crates of ~/.cargo/registry/src in name order until ~1M lines (all
  files, as the other crate repositories; quick: ~250k lines).
- ours: `codeloci index REPO --no-embed --no-service --json` into a fresh data directory, one
  process; the stages and "searchable" come from the run's own report; peak RSS is the
  process's VmHWM, polled from /proc every 50 ms until it exits (HWM only grows, so what is
  missed is the growth of the last 50 ms).
- anchors, in the same round on the same files (the files the run's manifest lists):
  `codeloci-ast bench chunk LIST --threads 2` (in-process: read, parse, chunk, no MCP, no JSON)
  and the same files chunked over MCP stdio by the orchestrator's bridge in the pipeline's own
  batches, results dropped (the transfer floor: what indexing would cost if writing were free).
- rounds alternate ours and the anchors; ratios are per round.
- before/after: with `CODELOCI_BENCH_BASELINE=[LABEL=]SRC[:BINARY]` (an older checkout's
  `python-orchestrator/src`, and optionally its codeloci-ast; LABEL names it in the table) each
  round also runs that code's
  `codeloci index --no-embed` on the same repository (the same console script with `SRC` first on
  `PYTHONPATH`; with `--no-service` where that code has the per-user service, whose process
  would otherwise do the work out of sight), and the rows compare the two side by side.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from .. import product
from ..machine import package_version
from ..model import Context, GroupResult, Row, Stat, Target

NAME = "scale"
TITLE = "A million lines: cold index stages against codeloci-ast's own chunk time, peak RSS"


@dataclass(frozen=True)
class Settings:
    rounds: int


FULL = Settings(rounds=3)
QUICK = Settings(rounds=1)


@dataclass
class Run:
    report: dict[str, Any]
    wall: float
    peak_mib: float


def _peak_rss_run(cmd: list[str], env: dict[str, str], timeout: float) -> tuple[str, str, int, float, float]:
    """Runs `cmd`; (stdout, stderr, returncode, wall seconds, peak RSS MiB from VmHWM)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak = 0
    done = threading.Event()

    def poll() -> None:
        nonlocal peak
        status = Path(f"/proc/{proc.pid}/status")
        while not done.is_set():
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
            except (OSError, ValueError):
                return
            done.wait(0.05)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    out, err = proc.communicate(timeout=timeout)
    wall = time.perf_counter() - start
    done.set()
    watcher.join()
    return out, err, proc.returncode, wall, peak / 1024


@dataclass(frozen=True)
class Baseline:
    src: Path
    binary: Path | None
    label: str

    @classmethod
    def from_env(cls) -> Baseline | None:
        spec = os.environ.get("CODELOCI_BENCH_BASELINE", "")
        if not spec:
            return None
        label, _, rest = spec.rpartition("=")
        src, _, binary = rest.partition(":")
        return cls(Path(src), Path(binary) if binary else None, label)

    def describe(self) -> str:
        if self.label:
            return self.label
        return f"`{self.src}`" + (f" with `{self.binary}`" if self.binary else "")


def _index(ctx: Context, repo: Path, data: Path, baseline: Baseline | None = None) -> Run:
    if data.exists():
        shutil.rmtree(data)
    cmd = [product.codeloci_cmd(), "index", str(repo), "--json", "--no-embed", "--data-dir", str(data)]
    env = product.env(ctx)
    # in-process: the per-user service would do the work in another process, out of the
    # measurement (code older than the service lacks the flag and indexes in-process anyway)
    if baseline is None or (baseline.src / "codeloci" / "service").is_dir():
        cmd.append("--no-service")
    if baseline is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(baseline.src), env.get("PYTHONPATH", "")]))
        if baseline.binary is not None:
            env["CODELOCI_RUST_SERVER"] = str(baseline.binary)
    out, err, code, wall, peak = _peak_rss_run(cmd, env, 3600)
    if code != 0:
        raise RuntimeError(f"codeloci index failed ({code}): {err[-2000:]}")
    return Run(json.loads(out), wall, peak)


def _indexed_files(repo: Path, data: Path) -> list[str]:
    from codeloci.config import project_id_for
    from codeloci.indexing.manifest import ManifestPaths

    manifest = ManifestPaths.under(data, project_id_for(repo.resolve())).load()
    assert manifest is not None, "the run wrote no manifest"
    return sorted(manifest.files)


def _rust_chunk(ctx: Context, repo: Path, files: list[str], listfile: Path) -> tuple[float, int]:
    listfile.write_text("".join(f"{repo / f}\n" for f in files))
    out = subprocess.run(
        [str(product.binary(ctx).path), "bench", "chunk", str(listfile), "--threads", "2", "--repeat", "1"],
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    report = json.loads(out.stdout)
    return float(report["seconds"][-1]), int(report["chunks"])


async def _bridge_chunk(ctx: Context, repo: Path) -> float:
    """Scan, then every file chunked over MCP in the pipeline's batches; results dropped."""
    from codeloci.bridge import RustBridge
    from codeloci.indexing.pipeline import _batches

    async with RustBridge([str(product.binary(ctx).path)], [repo]) as bridge:
        scan = await bridge.scan({"root": str(repo)})
        entries = {f["path"]: f for f in scan["files"]}
        start = time.perf_counter()
        for batch in _batches(sorted(entries), entries):
            result = await bridge.chunk({"paths": batch, "root": str(repo)})
            del result
        return time.perf_counter() - start


def run(ctx: Context) -> GroupResult:
    s = QUICK if ctx.quick else FULL
    b = product.binary(ctx)
    repo = product.crates_repo(ctx, "crates-1m")
    ctx.log(f"  {repo.files:,} files, {repo.lines:,} lines")
    baseline = Baseline.from_env()
    runs: list[Run] = []
    before: list[Run] = []
    rust: list[float] = []
    bridge: list[float] = []
    rust_chunks = 0
    for i in range(s.rounds):
        data = ctx.workdir / "data" / f"crates-1m-{i}"
        ctx.log(f"  round {i + 1}/{s.rounds}: codeloci index --no-embed")
        runs.append(_index(ctx, repo.path, data))
        files = _indexed_files(repo.path, data)
        shutil.rmtree(data, ignore_errors=True)
        if baseline is not None:
            ctx.log(f"  round {i + 1}/{s.rounds}: baseline codeloci index --no-embed ({baseline.src})")
            before.append(_index(ctx, repo.path, data, baseline))
            shutil.rmtree(data, ignore_errors=True)
        ctx.log(f"  round {i + 1}/{s.rounds}: codeloci-ast bench chunk, then chunk over MCP")
        seconds, rust_chunks = _rust_chunk(ctx, repo.path, files, ctx.workdir / "crates-1m.list")
        rust.append(seconds)
        bridge.append(anyio.run(_bridge_chunk, ctx, repo.path))

    def stage(name: str) -> list[float]:
        return [float(r.report["seconds"].get(name, 0.0)) for r in runs]

    def vs_rust(values: list[float]) -> Stat:
        return Stat.of([r / v for r, v in zip(rust, values, strict=True) if v > 0])

    chunks = int(runs[-1].report["chunks_written"])
    searchable = stage("searchable")
    anchor = f"`codeloci-ast bench chunk`, same files, 2 threads (median {Stat.of(rust).median:.2f} s)"
    scale = f"{repo.lines / 1e6:.2f}M lines"
    rows = [
        Row(
            f"cold index → lexical-searchable, {scale}",
            Stat.of(searchable),
            "s",
            anchor=anchor,
            ratio=vs_rust(searchable),
            target=Target("value", "<", 60.0, "< 60 s"),
            notes=f"{repo.files:,} files → {chunks:,} chunks; the run's own `searchable` time; speed-up < 1: "
            "how many times codeloci-ast's own chunk time the whole run takes",
        ),
        Row(
            f"cold index rate, {scale}",
            Stat.of([repo.lines / x for x in searchable]),
            "lines/s",
            target=Target("value", ">=", 30_000.0, "≥ 30k lines/s"),
            notes="lines ÷ the run's `searchable` time",
        ),
        Row(
            "whole `codeloci index --no-embed` command",
            Stat.of([r.wall for r in runs]),
            "s",
            anchor=anchor,
            ratio=vs_rust([r.wall for r in runs]),
            notes="process start (imports, store load, Rust server start) to exit",
        ),
        Row(
            "chunk over MCP stdio alone (bridge, pipeline batches, results dropped)",
            Stat.of(bridge),
            "s",
            anchor=anchor,
            ratio=vs_rust(bridge),
            notes="the transfer floor: scan once, then every file through `RustBridge.chunk` with nothing written",
        ),
    ]
    for name, note in (
        ("chunk", "time in `chunk` calls (overlaps the writing of the previous batch)"),
        ("sparse", "BM25 sparse vectors + payloads (Python, worker thread)"),
        ("upsert", "writes to the embedded Qdrant store (worker thread)"),
    ):
        rows.append(
            Row(f"stage `{name}`", Stat.of(stage(name)), "s", anchor=anchor, ratio=vs_rust(stage(name)), notes=note)
        )
    rows.append(
        Row(
            f"peak RSS of `codeloci index --no-embed`, {chunks:,} chunks",
            Stat.of([r.peak_mib for r in runs]),
            "MiB",
            target=Target("value", "<", 400e6 / 2**20, "< 400 MB (381 MiB, at 100k chunks)"),
            notes="VmHWM of the process (the embedding model is never loaded with `--no-embed`; the "
            "embedded engine's in-memory segment grows by about 4 KB per point, whatever the payload, "
            "and its memory-mapped files count once touched)",
        )
    )
    if before:
        base = f"the baseline ({baseline.describe() if baseline else ''})"
        b_searchable = [float(r.report["seconds"]["searchable"]) for r in before]
        rows += [
            Row(
                f"before → after: cold index → lexical-searchable, {scale}",
                Stat.of(searchable),
                "s",
                anchor=f"{base}: median {Stat.of(b_searchable).median:.1f} s",
                ratio=Stat.of([b / a for b, a in zip(b_searchable, searchable, strict=True)]),
                notes="speed-up = the baseline's `searchable` time ÷ ours, per round",
            ),
            Row(
                "before → after: peak RSS of `codeloci index --no-embed`",
                Stat.of([r.peak_mib for r in runs]),
                "MiB",
                anchor=f"{base}: median {Stat.of([r.peak_mib for r in before]).median:.0f} MiB",
                ratio=Stat.of([b.peak_mib / a.peak_mib for b, a in zip(before, runs, strict=True)]),
                notes="ratio = the baseline's peak ÷ ours (> 1: ours uses less)",
            ),
        ]
    details = [
        f"- **Input:** {repo.describe()}; the Rust anchor chunked {rust_chunks:,} chunks from the same files.",
        (
            f"- **Method:** {s.rounds} round(s), each: `codeloci index --no-embed --no-service --json` into a fresh data "
            "directory (one process, peak RSS from /proc VmHWM polled every 50 ms); then `codeloci-ast bench chunk "
            "LIST --threads 2 --repeat 1` on the files the run's manifest lists (in-process: no MCP, no JSON); then "
            "the same repository scanned and chunked over MCP stdio by `RustBridge` in the pipeline's batches, "
            "results dropped. Speed-up = the Rust time ÷ ours, per round."
        ),
        (
            f"- **Versions:** codeloci {package_version('codeloci')}, codeloci-ast {b.version} (built {b.built}"
            f"{', OLDER than rust-server sources' if b.stale else ''}), "
            f"qdrant-edge-py {package_version('qdrant-edge-py')}, mcp {package_version('mcp')}."
        ),
    ]
    intro = (
        "A cold lexical index of about a million lines of real code, end to end through the CLI, against "
        "codeloci-ast's own chunk time on the same files in the same round. Seconds are wall-clock on 2 shared cores."
    )
    return GroupResult(NAME, TITLE, rows, intro=intro, details="\n".join(details))
