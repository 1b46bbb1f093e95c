"""32 concurrent ``code_search`` calls over MCP stdio while ``index_repository`` runs: every
one answers, and answers what a quiet server answers."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from helpers import serve

from .conftest import BASIC_REPO, write_files

pytestmark = pytest.mark.anyio

CONCURRENT = 32
FILLER_FILES = 120


def _filler(i: int, version: int) -> str:
    return "".join(
        f"def handler_{i}_{j}(request):\n"
        f'    """Handle request kind {j} of module {i}."""\n'
        f"    return request.get('{i}-{j}-{version}')\n\n\n"
        for j in range(6)
    )


def _top(result: dict[str, Any]) -> tuple[str, str]:
    best = result["results"][0]
    return best["path"], best["symbol"]


async def test_32_concurrent_searches_during_an_index_run_all_answer_correctly(
    tmp_path: Path, rust_server: list[str]
) -> None:
    repo = tmp_path / "repo"
    write_files(repo, BASIC_REPO)
    write_files(repo, {f"filler/m{i}.py": _filler(i, 1) for i in range(FILLER_FILES)})
    query = {"query": "read the configuration file and return key value pairs", "k": 5}
    async with serve(tmp_path / "data", repo, rust_server) as s:
        await s.ok("index_repository", {"wait_for_embedding": True})
        quiet = await s.ok("code_search", query)
        assert _top(quiet) == ("pkg/config.py", "parse_config"), quiet["results"][:3]
        # Every filler file changes: the next run re-chunks and re-embeds all of them.
        write_files(repo, {f"filler/m{i}.py": _filler(i, 2) for i in range(FILLER_FILES)})

        answers: list[dict[str, Any]] = []
        errors: list[str] = []
        index_done = anyio.Event()
        first_search_at: list[float] = []
        index_finished_at: list[float] = []

        async def index() -> None:
            report = await s.ok("index_repository", {"wait_for_embedding": True})
            assert report["changed"] == FILLER_FILES, report
            index_finished_at.append(time.monotonic())
            index_done.set()

        async def search() -> None:
            first_search_at.append(time.monotonic())
            result = await s.call("code_search", query)
            if result.is_error or result.structured_content is None:
                errors.append(str(result.content))
            else:
                answers.append(result.structured_content)

        async with anyio.create_task_group() as tg:
            tg.start_soon(index)
            await anyio.sleep(0.3)  # the run is under way
            async with anyio.create_task_group() as searches:
                for _ in range(CONCURRENT):
                    searches.start_soon(search)
        assert index_done.is_set()
        assert min(first_search_at) < index_finished_at[0], "the searches overlapped the run"
        assert errors == []
        assert len(answers) == CONCURRENT
        for answer in answers:
            assert _top(answer) == _top(quiet), answer["results"][:3]
