"""An index run streams: chunk results are asked for in batches bounded in paths and bytes,
at most ``MAX_BATCHES_HELD`` of them are alive at once whatever the repository's size, and the
next batch is chunked while the previous one is written. Counted, not timed."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import anyio
import pytest

from codeloci.ast_types import ChunkResult
from codeloci.embedder import Embedder
from codeloci.indexing import pipeline
from codeloci.indexing.models import CodeSearchInput
from codeloci.indexing.pipeline import CodeIndex

from .conftest import assert_consistent, open_service, write_files

pytestmark = pytest.mark.anyio


def _module(n: int) -> str:
    functions = "\n\n".join(
        f"def streamed_{n}_{k}(value):\n    return value * {k} + {n}\n" for k in range(12)
    )
    return f'"""Module {n}."""\n\n{functions}'


class _Recorder:
    """Wraps the bridge's ``chunk``: what each call asked for and how many chunks it got."""

    def __init__(self, index: CodeIndex, repo: Path) -> None:
        self.calls: list[tuple[list[str], int, int]] = []
        self.started = [threading.Event() for _ in range(200)]
        real = index.bridge.chunk

        async def chunk(arguments: dict[str, Any]) -> ChunkResult:
            paths = list(arguments["paths"])
            self.started[len(self.calls)].set()
            result = await real(arguments)
            size = sum((repo / p).stat().st_size for p in paths)
            self.calls.append((paths, size, len(result["chunks"])))
            return result

        index.bridge.chunk = chunk  # type: ignore[method-assign]


async def test_a_run_holds_at_most_two_batches_and_chunks_the_next_while_writing(
    tmp_path: Path,
    data_dir: Path,
    rust_server: list[str],
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = (tmp_path / "repo").resolve()
    files = {f"pkg/mod{n:02}.py": _module(n) for n in range(40)}
    write_files(repo, files)
    one_file = max(len(text.encode()) for text in files.values())
    monkeypatch.setattr(pipeline, "CHUNK_BATCH", 4)
    monkeypatch.setattr(pipeline, "CHUNK_BATCH_BYTES", 3 * one_file)

    async with open_service(data_dir, [repo], rust_server, embedder) as service:
        index = service.index
        recorder = _Recorder(index, repo)
        write = index._write_batch
        writes = 0

        def write_batch(*args: Any) -> None:
            # Batch n is written only once the call for batch n + 1 has started: without
            # the overlap this never happens and the run fails here.
            nonlocal writes
            writes += 1
            if writes < 14:
                assert recorder.started[writes].wait(timeout=60), "next batch not chunked"
            write(*args)

        monkeypatch.setattr(index, "_write_batch", write_batch)
        with anyio.fail_after(300):
            report = await index.index_repository(repo, embed=False)

        assert report.errors == [] and report.added == 40
        calls = recorder.calls
        assert len(calls) == 14  # 40 files, 3 a batch by bytes
        assert sorted(p for paths, _, _ in calls for p in paths) == sorted(files)
        for paths, size, _ in calls:
            assert len(paths) <= 4 and size <= 3 * one_file
        per_batch = sorted(n for _, _, n in calls)
        assert index.gauge.peak_batches == pipeline.MAX_BATCHES_HELD == 2
        assert index.gauge.peak_chunks <= per_batch[-1] + per_batch[-2]
        assert index.gauge.batches == 0 and index.gauge.chunks == 0
        assert report.chunks_written == sum(per_batch)
        assert_consistent(service.store, data_dir, repo)
        hit = service.search(repo, CodeSearchInput(query="streamed_39_11", mode="lexical"))
        assert hit.results[0].symbol == "streamed_39_11"


async def test_a_file_larger_than_a_batch_goes_alone(
    tmp_path: Path,
    data_dir: Path,
    rust_server: list[str],
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = (tmp_path / "repo").resolve()
    write_files(repo, {"big.py": _module(1) * 4, "a.py": _module(2), "b.py": _module(3)})
    monkeypatch.setattr(pipeline, "CHUNK_BATCH_BYTES", len(_module(2)) * 2 + 10)

    async with open_service(data_dir, [repo], rust_server, embedder) as service:
        recorder = _Recorder(service.index, repo)
        report = await service.index.index_repository(repo, embed=False)

    assert report.errors == [] and report.added == 3
    assert [paths for paths, _, _ in recorder.calls] == [["a.py", "b.py"], ["big.py"]]


async def test_an_index_run_makes_way_for_searches_and_still_finishes(
    tmp_path: Path, data_dir: Path, rust_server: list[str], embedder: Embedder
) -> None:
    """While a search is in flight the run pauses at every file and store write (at most
    max_pause each time), so it still finishes under a search that never ends; with none in
    flight it never pauses."""
    from codeloci.foreground import Foreground

    repo = (tmp_path / "repo").resolve()
    write_files(repo, {f"pkg/mod{n:02}.py": _module(n) for n in range(12)})
    async with open_service(data_dir, [repo], rust_server, embedder) as service:
        index = service.index
        index.foreground = fg = Foreground(max_pause=0.01)
        with fg.call():
            with anyio.fail_after(300):
                report = await index.index_repository(repo, embed=False)
        assert report.added == 12 and report.errors == []
        # 12 files and at least one store write each paused about max_pause.
        assert fg.paused_seconds >= 13 * 0.01 * 0.8
        assert_consistent(service.store, data_dir, repo)
        paused = fg.paused_seconds
        (repo / "pkg" / "mod00.py").write_text(_module(99))
        report = await index.index_repository(repo, embed=True)
        assert report.changed == 1 and report.embedded > 0
        assert fg.paused_seconds == paused, "nothing in flight: no pause"
