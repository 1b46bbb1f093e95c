"""Indexing tool failures a user can cause are tool errors that say what to do."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import serve

pytestmark = pytest.mark.anyio


async def test_indexing_a_path_outside_the_repository_is_refused_clearly(
    tmp_path: Path, rust_server: list[str]
) -> None:
    project = tmp_path / "repo"
    project.mkdir()
    (project / "a.py").write_text("def a():\n    return 1\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    async with serve(tmp_path / "data", project, rust_server) as s:
        error = await s.err("index_repository", {"path": str(elsewhere)})
        assert "outside the allowed roots" in error
        assert "internal error" not in error
        done = await s.ok("index_repository", {})
        assert done["files"] == 1
