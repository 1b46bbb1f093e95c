"""Shared plumbing for the groups that measure the product (`codeloci` orchestrator).

- Repositories: copies of real code on this machine into the run's temp directory, each made a
  git repository (`git init`, nothing committed) so the scanner's .gitignore logic applies.
  * `stdlib`: the top-level modules of the Python standard library (`Lib/*.py`, ~130k lines,
    ~170 files; quick: a hash-ordered subset of ~40k lines).
  * `crates`: crates of `~/.cargo/registry/src` (every file: sources, manifests, docs, data),
    whole crates in name order until ~10k files (quick: ~2.5k), skipping the four generated
    binding crates (`windows*`, `web-sys`, `linux-raw-sys`) that are millions of lines.
  * `crates-100k`: the same crates in the same order until ~6.5k files, which chunk into about
    100k chunks (the size the search latency target names; quick: ~1k files).
  * `crates-1m`: the same crates in the same order until ~1M lines (quick: ~250k lines),
    leaving out any crate over 100k lines (generated code such as `aws-lc-sys`, 2M lines).
- Fixtures: an indexed store per repository, built once per run with `codeloci index --no-embed`
  and shared by the groups (memoised on the run's work directory).
- MCP: a thin timed client over the Python `mcp` SDK (`stdio_client` + `ClientSession`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .binary import Binary, prepare
from .corpus import cargo_registry_src
from .model import Context

GIANT_CRATES = ("windows", "web-sys", "linux-raw-sys")


def codeloci_cmd() -> str:
    """The `codeloci` console script of the running interpreter's environment."""
    scripts = Path(sysconfig.get_paths()["scripts"])
    exe = scripts / "codeloci"
    if exe.is_file():
        return str(exe)
    found = shutil.which("codeloci")
    if not found:
        raise FileNotFoundError("the codeloci command is not installed in this environment")
    return found


_binaries: dict[Path, Binary] = {}


def binary(ctx: Context) -> Binary:
    """The private copy of codeloci-ast for this run (shared with the rust group's logic)."""
    if ctx.workdir not in _binaries:
        dst = ctx.workdir / "bin"
        dst.mkdir(exist_ok=True)
        _binaries[ctx.workdir] = prepare(ctx.repo, dst, ctx.build)
    return _binaries[ctx.workdir]


def env(ctx: Context, **extra: str) -> dict[str, str]:
    e = dict(os.environ)
    e["CODELOCI_RUST_SERVER"] = str(binary(ctx).path)
    e.pop("CODELOCI_DATA_DIR", None)
    e.pop("CODELOCI_PROJECT_ROOT", None)
    e.update(extra)
    return e


def extract_commit(ctx: Context, commit: str, path: str) -> Path:
    """`path` of the repository at `commit`, extracted once per run into the work folder (the
    folder that holds `path`)."""
    target = ctx.workdir / f"tree-{commit[:7]}-{path.replace('/', '-')}"
    if not target.is_dir():
        target.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "-C", str(ctx.repo), "archive", commit, path], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def _git_init(path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(path)], check=True)


def _line_count(root: Path, suffix: str | None = None) -> tuple[int, int, int]:
    files = lines = size = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for f in filenames:
            if suffix and not f.endswith(suffix):
                continue
            p = Path(dirpath, f)
            try:
                data = p.read_bytes()
            except OSError:
                continue
            files += 1
            size += len(data)
            lines += data.count(b"\n")
    return files, lines, size


@dataclass
class Repo:
    name: str
    path: Path
    source: str
    files: int
    lines: int
    bytes: int

    def describe(self) -> str:
        return (
            f"{self.source}: {self.files:,} files, {self.lines:,} lines, {self.bytes / 1e6:.1f} MB "
            f"(copied to a temp dir, `git init`)"
        )


def stdlib_repo(ctx: Context) -> Repo:
    root = Path(sysconfig.get_paths()["stdlib"])
    dst = ctx.workdir / "repos" / "stdlib"
    if not dst.exists():
        dst.mkdir(parents=True)
        files = sorted(p for p in root.glob("*.py") if p.is_file() and not p.is_symlink())
        if ctx.quick:
            files.sort(key=lambda p: hashlib.blake2b(p.name.encode(), digest_size=8).digest())
            kept, lines = [], 0
            for p in files:
                kept.append(p)
                lines += p.read_bytes().count(b"\n")
                if lines >= 40_000:
                    break
            files = kept
        for p in files:
            shutil.copy2(p, dst / p.name)
        _git_init(dst)
    n, lines, size = _line_count(dst)
    what = "subset of the top-level modules" if ctx.quick else "top-level modules (`*.py`)"
    return Repo("stdlib", dst, f"Python {sys.version.split()[0]} standard library, {what}", n, lines, size)


#: Files of crates that chunk into about 100k chunks. Chunks follow files, not lines: the
#: first 10,011 files gave 154,679 chunks, while the first 3.86M and 2.6M lines (a few huge
#: generated files at the end of the order) both took ~9.7k files and gave ~148k.
CRATES_100K_FILES = 6_500
#: Lines of `crates-1m` (all files, counted as newlines).
CRATES_1M_LINES = 1_000_000
#: Largest crate `crates-1m` takes, in lines: one generated crate would be most of it.
CRATES_1M_MAX_CRATE_LINES = 100_000


def _lines(root: Path) -> int:
    total = 0
    for dirpath, _, filenames in os.walk(root):
        for f in filenames:
            p = Path(dirpath, f)
            if not p.is_symlink():
                total += p.read_bytes().count(b"\n")
    return total


def crates_repo(ctx: Context, name: str = "crates") -> Repo:
    """`crates` (~10k files), `crates-100k` (~6.5k files) or `crates-1m` (~1M lines): whole
    crates in name order."""
    src = cargo_registry_src()
    by_lines = name == "crates-1m"
    if by_lines:
        target = CRATES_1M_LINES // 4 if ctx.quick else CRATES_1M_LINES
    elif name == "crates-100k":
        target = 1_000 if ctx.quick else CRATES_100K_FILES
    else:
        target = 2_500 if ctx.quick else 10_000
    dst = ctx.workdir / "repos" / name
    if not dst.exists():
        dst.mkdir(parents=True)
        count = 0
        for index in sorted(p for p in src.iterdir() if p.is_dir()):
            for crate in sorted(p for p in index.iterdir() if p.is_dir()):
                if crate.name.startswith(GIANT_CRATES):
                    continue
                if by_lines:
                    lines = _lines(crate)
                    if lines > CRATES_1M_MAX_CRATE_LINES:
                        continue
                    count += lines
                else:
                    count += sum(len(fs) for _, _, fs in os.walk(crate))
                shutil.copytree(crate, dst / crate.name, symlinks=True)
                if count >= target:
                    break
            if count >= target:
                break
        _git_init(dst)
    n, lines, size = _line_count(dst)
    return Repo(
        name,
        dst,
        f"crates from ~/.cargo/registry/src (all files; whole crates in name order until {target:,} "
        f"{'lines' if by_lines else 'files'}, generated binding crates skipped"
        f"{f', and crates over {CRATES_1M_MAX_CRATE_LINES:,} lines' if by_lines else ''})",
        n,
        lines,
        size,
    )


# ------------------------------------------------------------------ CLI index


@dataclass
class IndexRun:
    wall: float  # whole `codeloci index` command, process start to exit
    report: dict[str, Any]


def cli_index(ctx: Context, repo: Path, data: Path, *extra: str, timeout: float = 3600) -> IndexRun:
    start = time.perf_counter()
    proc = subprocess.run(
        # in-process (its own store, then the HNSW build) as before the per-user service
        [codeloci_cmd(), "index", str(repo), "--json", "--data-dir", str(data), "--no-service", *extra],
        capture_output=True,
        text=True,
        env=env(ctx),
        timeout=timeout,
        check=False,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"codeloci index failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return IndexRun(wall, json.loads(proc.stdout))


# ------------------------------------------------------------------ fixtures


@dataclass
class Fixture:
    repo: Repo
    data: Path
    chunks: int
    cold: IndexRun  # the index run that built it (lexical only)
    dense_filled: str = ""  # how dense vectors were filled, if they were
    sample_vectors: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


_fixtures: dict[tuple[Path, str], Fixture] = {}


def fixture(ctx: Context, name: str, *, built: IndexRun | None = None, data: Path | None = None) -> Fixture:
    """The indexed store of repository `name` (built now unless a group already did)."""
    key = (ctx.workdir, name)
    if key in _fixtures:
        return _fixtures[key]
    repo = stdlib_repo(ctx) if name == "stdlib" else crates_repo(ctx, name)
    if built is None or data is None:
        data = ctx.workdir / "data" / name
        if data.exists():
            shutil.rmtree(data)
        ctx.log(f"  building the {name} index ({repo.files:,} files, lexical only)")
        built = cli_index(ctx, repo.path, data, "--no-embed")
    fx = Fixture(repo, data, int(built.report["chunks_written"]), built)
    _fixtures[key] = fx
    return fx


def open_inprocess(data: Path) -> tuple[Any, Any]:
    """(store, embedder) opened in this process on `data` (exclusive: no server may hold it)."""
    from codeloci.embedder import default_embedder
    from codeloci.memory import memory_collection_spec
    from codeloci.store import open_store

    embedder = default_embedder()
    store = open_store(memory_collection_spec(embedder), data_dir=data)
    return store, embedder


def embed_sample(fx: Fixture, batches: int) -> list[float]:
    """Embeds `batches` batches of pending chunks exactly as `CodeIndex.embed_pending` does
    (pending page -> dense_text -> MiniLM -> set_dense) and returns chunks/s per batch."""
    import numpy as np
    from codeloci.config import project_id_for
    from codeloci.indexing.pipeline import EMBED_BATCH
    from codeloci.indexing.points import code_filter
    from codeloci.indexing.text import dense_text
    from codeloci.store import DENSE_VECTOR, with_vector

    store, embedder = open_inprocess(fx.data)
    rates: list[float] = []
    vectors: list[Any] = []
    try:
        flt = with_vector(code_filter(project_id_for(fx.repo.path.resolve())), DENSE_VECTOR, False)
        for _ in range(batches):
            start = time.perf_counter()
            hits, _ = store.scroll(flt=flt, limit=EMBED_BATCH)
            if not hits:
                break
            texts = [dense_text(h.payload, "header") for h in hits]
            vec = np.asarray(embedder.embed(texts), dtype=np.float32)
            store.set_dense([h.id for h in hits], list(vec))
            rates.append(len(hits) / (time.perf_counter() - start))
            vectors.append(vec)
    finally:
        store.close()
    fx.sample_vectors = np.concatenate(vectors) if vectors else None
    return rates


def fill_dense(ctx: Context, fx: Fixture) -> None:
    """Gives every still-pending chunk a dense vector so servers started on this store have no
    background embedding competing for the CPU. The vectors are real MiniLM embeddings of a
    sample of this repository's chunks (`embed_sample`) and random mixtures of them: dense
    search goes through an HNSW graph once the store is optimized (as here), and its cost and
    recall depend on the values, so the cyclic copies used before (exact duplicates) would not
    do."""
    if fx.dense_filled:
        return
    import numpy as np
    from codeloci.config import project_id_for
    from codeloci.indexing.points import code_filter
    from codeloci.store import DENSE_VECTOR, with_vector

    if fx.sample_vectors is None:
        embed_sample(fx, 4)
    sample = fx.sample_vectors
    start = time.perf_counter()
    store, _ = open_inprocess(fx.data)
    filled = 0
    rng = np.random.default_rng(0)
    try:
        flt = with_vector(code_filter(project_id_for(fx.repo.path.resolve())), DENSE_VECTOR, False)
        while True:
            hits, _ = store.scroll(flt=flt, limit=512)
            if not hits:
                break
            # distinct vectors spread like real ones (HNSW cares about values, exact search did
            # not): a random mixture of three real embeddings plus a little noise, unit length
            n = len(hits)
            idx = rng.integers(0, len(sample), (n, 3))
            mix = (sample[idx] * rng.dirichlet([1.0, 1.0, 1.0], n)[:, :, None]).sum(axis=1)
            mix += rng.normal(0.0, 0.1 / np.sqrt(sample.shape[1]), mix.shape)
            mix /= np.linalg.norm(mix, axis=1, keepdims=True)
            store.set_dense([h.id for h in hits], list(mix.astype(np.float32)))
            filled += len(hits)
        # as `codeloci index` does once every chunk is embedded: build the HNSW index
        opt_start = time.perf_counter()
        store.optimize()
        optimized = time.perf_counter() - opt_start
    finally:
        store.close()
    fx.dense_filled = (
        f"{len(sample)} chunks embedded for real with MiniLM, the other {filled:,} given random "
        "mixtures of three of them plus noise (so no background embedding runs during the measurements); then the store's "
        f"optimize (HNSW build, as `codeloci index` after a fully embedded run): {optimized:.0f} s"
    )
    ctx.log(f"  {fx.repo.name}: dense vectors filled for {filled:,} chunks in {time.perf_counter() - start:.1f}s")


def sample_payloads(data: Path, repo: Path, n: int) -> list[dict[str, Any]]:
    """Up to `n` chunk payloads of `repo`'s project, spread over the store (deterministic)."""
    from codeloci.config import project_id_for
    from codeloci.indexing.points import code_filter

    store, _ = open_inprocess(data)
    out: list[dict[str, Any]] = []
    try:
        offset = None
        while True:
            page, offset = store.scroll(flt=code_filter(project_id_for(repo.resolve())), limit=512, offset=offset)
            out += [h.payload for h in page]
            if offset is None:
                break
    finally:
        store.close()
    out.sort(key=lambda p: hashlib.blake2b(str(p.get("path")).encode() + str(p.get("start_line")).encode()).digest())
    return out[:n]


# ------------------------------------------------------------------ MCP


def rss_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MiB."""
    fields = {}
    for ln in Path(f"/proc/{pid}/status").read_text().splitlines():
        if ln.startswith(("VmRSS", "VmHWM")):
            k, v = ln.split(":", 1)
            fields[k] = int(v.split()[0]) / 1024
    return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)


def children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def find_pid(cmd_fragment: str, parent: int | None = None) -> int | None:
    """Pid of our own child process whose command line contains `cmd_fragment`."""
    candidates = children(parent if parent is not None else os.getpid())
    for pid in candidates:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if cmd_fragment in cmdline:
            return pid
    return None


@asynccontextmanager
async def mcp_session(
    command: str, args: list[str], environ: dict[str, str], cwd: Path | None = None
) -> AsyncIterator[Any]:
    from mcp import ClientSession, StdioServerParameters, stdio_client

    params = StdioServerParameters(command=command, args=args, env=environ, cwd=str(cwd) if cwd else None)
    errlog = open(os.devnull, "w")  # noqa: SIM115, ASYNC230 - /dev/null, closed below
    try:
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            yield session
    finally:
        errlog.close()


def serve_args(data: Path, root: Path, *extra: str, service: bool = False) -> list[str]:
    """`codeloci serve` as the benchmarks start it: no start-up indexing or watching (each
    group runs the index work it measures); in-process (`--no-service`) unless `service`, so
    the groups measure the server itself and never leave a service holding their store (the
    `service` group compares the two)."""
    args = ["serve", "--data-dir", str(data), "--project-root", str(root), "--no-index", "--no-watch", *extra]
    return args if service else [*args, "--no-service"]


def structured(result: Any) -> dict[str, Any]:
    if getattr(result, "isError", False) or getattr(result, "is_error", False):
        text = " ".join(getattr(c, "text", "") for c in result.content)
        raise RuntimeError(f"tool error: {text[:500]}")
    data = getattr(result, "structuredContent", None)
    if data is None:
        data = getattr(result, "structured_content", None)
    if data is None:
        data = json.loads(result.content[0].text)
    return data


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


# ------------------------------------------------------------------ stdio by hand

HANDSHAKE_INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}},
}


@dataclass
class Handshake:
    initialized_ms: float
    listed_ms: float
    tools: list[dict[str, Any]]
    called_ms: float = 0.0  # the first `memory_list` answered, when asked for


def stdio_handshake(cmd: list[str], cwd: Path, environ: dict[str, str], *, first_call: bool = False) -> Handshake:
    """A fresh server process, JSON-RPC by hand over stdio (initialize, then
    notifications/initialized and tools/list, and a `memory_list` call when `first_call`),
    the clock from `Popen` to each answer line."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=cwd, env=environ, text=True
    )
    assert proc.stdin and proc.stdout

    def send(message: dict[str, Any]) -> None:
        assert proc.stdin
        proc.stdin.write(json.dumps(message) + "\n")
        proc.stdin.flush()

    def answer(ident: int) -> dict[str, Any]:
        assert proc.stdout
        while True:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"{cmd[0]} closed stdout before answering {ident}")
            message = json.loads(line)
            if message.get("id") == ident:
                return message

    try:
        send(HANDSHAKE_INIT)
        answer(1)
        initialized = (time.perf_counter() - start) * 1000
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        tools = answer(2)["result"]["tools"]
        done = Handshake(initialized, (time.perf_counter() - start) * 1000, tools)
        if first_call:
            send(
                {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "memory_list", "arguments": {}}}
            )
            reply = answer(3)
            if "error" in reply or reply.get("result", {}).get("isError"):
                raise RuntimeError(f"memory_list failed: {reply}")
            done.called_ms = (time.perf_counter() - start) * 1000
    finally:
        proc.stdin.close()
        proc.terminate()
        proc.wait(30)
    return done
