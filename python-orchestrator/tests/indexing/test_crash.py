"""A run killed with SIGKILL at any stage leaves the store consistent, and the next run
converges: no duplicate point, no orphan point, manifest identical to the store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from codeloci.config import project_id_for
from codeloci.embedder import Embedder
from codeloci.indexing.manifest import ManifestPaths
from codeloci.indexing.models import CodeSearchInput

from .conftest import (
    assert_consistent,
    needs_shared_store,
    open_service,
    store_env,
    symbols_by_path,
    write_files,
)

pytestmark = pytest.mark.anyio

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import anyio
    from codeloci.bridge import RustBridge
    from codeloci.embedder import MiniLMEmbedder
    from codeloci.indexing import pipeline
    from codeloci.indexing.service import IndexingService
    from codeloci.memory import memory_collection_spec
    from codeloci.store import open_store

    root, data_dir, stage = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    after, rust = int(sys.argv[4]), sys.argv[5:]
    pipeline.CHUNK_BATCH = 5
    pipeline.EMBED_BATCH = 4
    seen = {"n": 0}

    def progress(state):
        if state.stage == stage:
            seen["n"] += 1
            if seen["n"] >= after:
                os.kill(os.getpid(), signal.SIGKILL)

    async def main():
        embedder = MiniLMEmbedder()
        store = open_store(
            memory_collection_spec(embedder),
            data_dir=data_dir,
            qdrant_url=os.environ.get("QDRANT_URL"),
            qdrant_api_key=os.environ.get("QDRANT_API_KEY"),
        )
        async with RustBridge(rust, [root]) as bridge:
            service = IndexingService(store, embedder, bridge, data_dir)
            await service.index.index_repository(root, progress=progress)
        print("finished without being killed")

    anyio.run(main)
    """
)


def _module(n: int, version: int) -> str:
    body = f"def function_{n}_v{version}(x):\n    return x + {n} * {version}\n"
    return body + f"\n\nclass Thing{n}:\n    pass\n"


def _run_child(repo: Path, data_dir: Path, stage: str, after: int, rust: list[str]) -> int:
    script = data_dir.parent / "child.py"
    script.write_text(CHILD)
    proc = subprocess.run(
        [sys.executable, str(script), str(repo), str(data_dir), stage, str(after), *rust],
        capture_output=True,
        text=True,
        env={**os.environ, **store_env(data_dir)},
        timeout=600,
        check=False,
    )
    return proc.returncode


@pytest.mark.parametrize(("stage", "after"), [("chunk", 2), ("chunk", 4), ("embed", 2)])
async def test_kill_9_mid_index_then_reindex_converges(
    tmp_path: Path,
    data_dir: Path,
    rust_server: list[str],
    embedder: Embedder,
    stage: str,
    after: int,
) -> None:
    needs_shared_store()
    repo = (tmp_path / "repo").resolve()
    write_files(repo, {f"mod{n}.py": _module(n, 1) for n in range(30)})
    data_dir.mkdir(parents=True)

    # A first complete run, then edits, so the killed run has changes, adds and removals.
    async with open_service(data_dir, [repo], rust_server, embedder) as service:
        await service.index.index_repository(repo, embed=False)
    write_files(repo, {f"mod{n}.py": _module(n, 2) for n in range(0, 30, 2)})
    write_files(repo, {f"new{n}.py": _module(100 + n, 1) for n in range(10)})
    for n in range(1, 10, 2):
        (repo / f"mod{n}.py").unlink()

    code = _run_child(repo, data_dir, stage, after, rust_server)
    assert code == -signal.SIGKILL
    paths = ManifestPaths.under(data_dir, project_id_for(repo))
    if stage == "chunk":
        assert paths.dirty  # killed between the first store write and the manifest

    # More edits after the crash: a file the killed run wrote vanishes, another changes.
    (repo / "new0.py").unlink()
    write_files(repo, {"mod0.py": _module(0, 3)})

    async with open_service(data_dir, [repo], rust_server, embedder) as service:
        report = await service.index_repository(repo)
        assert_consistent(service.store, data_dir, repo)
        symbols = symbols_by_path(service.store, repo)
        expected_files = {p.name for p in repo.iterdir() if p.suffix == ".py"}
        assert set(symbols) == expected_files
        assert symbols["mod0.py"] == {"function_0_v3", "Thing0"}
        assert symbols["mod2.py"] == {"function_2_v2", "Thing2"}
        assert "new0.py" not in symbols and "mod1.py" not in symbols
        status = service.status(repo)
        assert status.pending == 0 and status.manifest == "ok"
        assert status.files == len(expected_files)
        hit = service.search(repo, CodeSearchInput(query="function_4_v2", k=1))
        assert hit.results[0].path == "mod4.py"
        if stage == "chunk":
            assert report.warnings  # the interruption was detected and reported
        again = await service.index_repository(repo)
        assert again.chunks_written == 0 and again.embedded == 0 and not again.warnings
