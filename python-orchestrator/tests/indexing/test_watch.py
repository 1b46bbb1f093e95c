"""The watcher picks up saves, atomic saves, renames and deletes without a manual run."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from codeloci.embedder import Embedder
from codeloci.indexing.models import CodeSearchInput
from codeloci.indexing.service import IndexingService
from codeloci.indexing.watch import watch_repository

from .conftest import open_service, symbols_by_path

pytestmark = pytest.mark.anyio

#: Upper bound on waiting for the watcher (a failure bound, not a speed assertion).
GIVE_UP_SECONDS = 60


async def _eventually(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + GIVE_UP_SECONDS
    while time.monotonic() < deadline:
        if check():
            return
        await anyio.sleep(0.1)
    raise AssertionError("the watcher did not pick the change up")


def _paths_with(service: IndexingService, root: Path, symbol: str) -> set[str]:
    return {p for p, symbols in symbols_by_path(service.store, root).items() if symbol in symbols}


async def test_watcher_reindexes_saves_renames_and_deletes(
    repo: Path, data_dir: Path, rust_server: list[str], embedder: Embedder
) -> None:
    async with open_service(data_dir, [repo], rust_server, embedder) as service:
        ready = anyio.Event()
        stop = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: watch_repository(service, repo, ready=ready, stop_event=stop))
            await ready.wait()
            await anyio.sleep(0.5)  # let the OS watch be registered

            (repo / "pkg/fresh.py").write_text("def watcher_saw_me():\n    return 1\n")
            await _eventually(
                lambda: _paths_with(service, repo, "watcher_saw_me") == {"pkg/fresh.py"}
            )
            hits = service.search(repo, CodeSearchInput(query="watcher_saw_me", k=1))
            assert hits.results[0].path == "pkg/fresh.py"

            # an editor's atomic save: write a temporary file, then rename it over the original
            tmp = repo / "pkg/.fresh.py.swp"
            tmp.write_text("def watcher_saw_atomic_save():\n    return 2\n")
            os.replace(tmp, repo / "pkg/fresh.py")
            await _eventually(
                lambda: (
                    _paths_with(service, repo, "watcher_saw_atomic_save") == {"pkg/fresh.py"}
                    and not _paths_with(service, repo, "watcher_saw_me")
                )
            )

            (repo / "pkg/fresh.py").rename(repo / "pkg/renamed.py")
            await _eventually(
                lambda: _paths_with(service, repo, "watcher_saw_atomic_save") == {"pkg/renamed.py"}
            )

            (repo / "pkg/renamed.py").unlink()
            await _eventually(lambda: not _paths_with(service, repo, "watcher_saw_atomic_save"))
            stop.set()
        assert "pkg/config.py" in symbols_by_path(service.store, repo)
