"""A damaged store over the wire: memory tools fail naming the fix, doctor says so, Rust tools
keep working, and after ``codeloci repair`` every memory is back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import serve

pytestmark = pytest.mark.anyio


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codeloci.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_damaged_store_is_reported_then_repaired(
    tmp_path: Path, rust_server: list[str]
) -> None:
    project = tmp_path / "repo"
    project.mkdir()
    (project / "a.py").write_text("def a():\n    return 1\n")
    data = tmp_path / "data"
    notes = ["we deploy on Fridays", "tabs are banned", "the cache lives in redis"]
    async with serve(data, project, rust_server) as s:
        for note in notes:
            await s.ok("memory_store", {"content": note, "level": "PROJECT_CONTEXT"})

    (wal,) = data.glob("*/shard/wal/open-1")
    with wal.open("r+b") as f:
        f.write(os.urandom(65536))

    async with serve(data, project, rust_server) as s:
        message = await s.err("memory_list", {})
        assert "is damaged" in message and "codeloci repair" in message, message
        outline = await s.ok("parse", {"path": "a.py"})
        assert outline["definitions"][0]["name"] == "a", "Rust tools keep working"

    common = ["--data-dir", str(data), "--project-root", str(project)]
    doctor = _cli("doctor", *common, "--rust-server", " ".join(rust_server))
    assert doctor.returncode == 1
    assert "[FAIL] store:" in doctor.stdout and "fix: codeloci repair" in doctor.stdout

    repaired = _cli("repair", *common)
    assert repaired.returncode == 0, repaired.stderr
    assert "3 points recovered" in repaired.stdout and ".damaged-" in repaired.stdout

    async with serve(data, project, rust_server) as s:
        listed = await s.ok("memory_list", {"levels": ["PROJECT_CONTEXT"]})
        assert sorted(h["content"] for h in listed["results"]) == sorted(notes)
