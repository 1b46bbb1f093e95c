"""``codeloci doctor`` tells the user what works and how to fix what does not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from backends import QdrantTarget

from codeloci.cli import build_parser


def doctor(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "codeloci.cli",
            "doctor",
            "--data-dir",
            str(tmp_path / "d"),
            "--project-root",
            str(tmp_path),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def test_doctor_all_ok(tmp_path: Path, rust_server: list[str]) -> None:
    out = doctor(tmp_path, "--rust-server", " ".join(rust_server))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "[ok] rust server:" in out.stdout and "tools: chunk, parse, scan" in out.stdout
    assert "[ok] embedder: all-MiniLM-L6-v2-onnx-int8 dim 384" in out.stdout
    assert "[ok] store: embedded Qdrant" in out.stdout
    assert "mcp 2.3.0" in out.stdout
    assert not (tmp_path / "d").exists(), "doctor must not create the store"


def test_doctor_on_a_fresh_empty_qdrant_server_is_ok(
    tmp_path: Path, rust_server: list[str], qdrant: QdrantTarget
) -> None:
    qdrant.drop_collections()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QDRANT_", "CODELOCI_"))}
    out = doctor(tmp_path, "--rust-server", " ".join(rust_server), env={**env, **qdrant.env()})
    assert out.returncode == 0, out.stdout + out.stderr
    assert "store backend: server" in out.stdout
    assert "[ok] store: Qdrant at" in out.stdout and "no codeloci data yet" in out.stdout
    assert "read-only" not in out.stdout


def test_doctor_reports_missing_rust_server_with_fix(tmp_path: Path) -> None:
    out = doctor(tmp_path, "--rust-server", "/nonexistent/codeloci-ast")
    assert out.returncode == 1
    assert "[FAIL] rust server: /nonexistent/codeloci-ast: Rust server unavailable" in out.stdout
    assert "fix: run the command by hand" in out.stdout


def test_serve_http_flag_is_validated() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--http", "8080"])
    args = build_parser().parse_args(["serve", "--http", "127.0.0.1:8080"])
    assert args.http == ("127.0.0.1", 8080)
