"""The MCP tool handlers on a real AppContext, and the CLI commands end to end."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from codeloci.app import app_context
from codeloci.config import Settings
from codeloci.embedder import Embedder
from codeloci.indexing import cli as indexing_cli
from codeloci.indexing.models import CodeSearchInput
from codeloci.indexing.tools import register
from codeloci.tools import ToolRegistry

from .conftest import needs_shared_store, open_test_store_now, store_env, store_opener


async def _call(registry: ToolRegistry, app: Any, name: str, args: dict[str, Any]) -> Any:
    spec = registry.get(name)
    assert spec is not None
    result: BaseModel = await spec.handler(app, spec.input_model.model_validate(args), None)  # type: ignore[arg-type]
    assert spec.output_model is not None
    return spec.output_model.model_validate(result.model_dump(mode="json"))


@pytest.mark.anyio
async def test_tools_index_search_and_status(
    repo: Path, data_dir: Path, rust_server: list[str], embedder: Embedder
) -> None:
    registry = ToolRegistry()
    register(registry)
    specs = {s.name: s for s in registry}
    assert set(specs) == {"index_repository", "code_search", "index_status"}
    assert specs["index_repository"].writes and not specs["code_search"].writes
    for spec in specs.values():
        spec.to_tool()  # schemas build

    settings = Settings(data_dir=data_dir, project_root=repo, rust_server=rust_server)
    opener = store_opener(data_dir)
    async with app_context(settings, embedder=embedder, store_opener=opener) as app:
        try:
            status = await _call(registry, app, "index_status", {})
            assert status.chunks == 0 and status.manifest == "missing"
            report = await _call(registry, app, "index_repository", {"wait_for_embedding": True})
            assert report.files == 3 and report.pending == 0
            found = await _call(registry, app, "code_search", {"query": "parse_config", "k": 3})
            assert found.results[0].symbol == "parse_config"
            assert found.results[0].path == "pkg/config.py"
            status = await _call(registry, app, "index_status", {})
            assert status.files == 3 and status.chunks == status.embedded > 0
            assert status.pending == 0 and status.manifest == "ok"
        finally:
            app.core.close()  # background embedding stops before the store closes


def test_search_input_is_strict() -> None:
    with pytest.raises(ValidationError, match="extra"):
        CodeSearchInput.model_validate({"query": "x", "unexpected": 1})
    with pytest.raises(ValidationError, match="k"):
        CodeSearchInput.model_validate({"query": "x", "k": 10_000})
    with pytest.raises(ValidationError, match="language"):
        CodeSearchInput.model_validate({"query": "x", "language": "cobol"})


def _args(parser_adder: Any, argv: list[str], data_dir: Path, rust: list[str]) -> Any:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default=str(data_dir))
    parser.add_argument("--rust-server", default=" ".join(rust))
    parser.add_argument("--read-only", action="store_true")
    parser.add_argument("--project-root", default=None)
    parser_adder(parser)
    return parser.parse_args(argv)


def test_cli_index_then_find(
    repo: Path,
    data_dir: Path,
    rust_server: list[str],
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    needs_shared_store()
    monkeypatch.delenv("QDRANT_URL", raising=False)
    monkeypatch.delenv("QDRANT_API_KEY", raising=False)
    for name, value in store_env(data_dir).items():
        monkeypatch.setenv(name, value)
    _, index_cmd, index_args = indexing_cli.SUBCOMMANDS["index"]
    _, find_cmd, find_args = indexing_cli.SUBCOMMANDS["find"]
    assert index_cmd(_args(index_args, [str(repo)], data_dir, rust_server)) == 0
    err = capfd.readouterr().err
    assert "3 files (3 added" in err and "embedded" in err

    argv = ["read the configuration file into a dict", "--path", str(repo), "--json"]
    assert find_cmd(_args(find_args, argv, data_dir, rust_server)) == 0
    out = json.loads(capfd.readouterr().out)
    assert out["results"][0]["symbol"] == "parse_config"

    assert find_cmd(_args(find_args, ["gcd", "--path", str(repo)], data_dir, rust_server)) == 0
    text = capfd.readouterr().out
    assert text.startswith("1. src/math.rs:") and "pub fn gcd" in text


@pytest.mark.anyio
async def test_secrets_in_code_are_redacted_counted_and_never_stored(
    tmp_path: Path, data_dir: Path, rust_server: list[str], embedder: Embedder
) -> None:
    aws, github = "AKIAIOSFODNN7EXAMPLE", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "deploy.py").write_text(
        f'def upload_release(bucket):\n    key = "{aws}"\n    token = "{github}"\n'
        "    return push(bucket, key, token)\n\n\n"
        "def clean_name(name):\n    return name.strip()\n"
    )
    registry = ToolRegistry()
    register(registry)
    settings = Settings(data_dir=data_dir, project_root=repo, rust_server=rust_server)
    opener = store_opener(data_dir)
    async with app_context(settings, embedder=embedder, store_opener=opener) as app:
        try:
            await _call(registry, app, "index_repository", {"wait_for_embedding": True})
            status = await _call(registry, app, "index_status", {})
            assert status.redacted_chunks == 1
            assert status.redactions == {"aws_access_key_id": 1, "github_token": 1}
            found = await _call(registry, app, "code_search", {"query": "upload_release"})
            top = found.results[0]
            assert top.symbol == "upload_release"
            assert "[REDACTED:aws_access_key_id]" in top.content and aws not in top.content
            assert github not in top.content
        finally:
            app.core.close()  # background embedding stops before the store closes
    with open_test_store_now(data_dir, embedder) as store:
        hits, _ = store.scroll(flt=None, limit=100)
        stored = json.dumps([h.payload for h in hits])
        assert aws not in stored and github not in stored and "upload_release" in stored


def test_cli_index_no_embed_never_loads_the_model(
    repo: Path, data_dir: Path, rust_server: list[str]
) -> None:
    """``codeloci index --no-embed`` makes the repository lexically searchable without ever
    loading the embedding model (nor onnxruntime): no wait for it, none of its memory."""
    needs_shared_store()
    script = (
        "import sys\n"
        "from codeloci.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "print('onnxruntime' in sys.modules, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    env = {**os.environ, **store_env(data_dir)}
    env["CODELOCI_RUST_SERVER"] = rust_server[0]
    argv = ["index", str(repo), "--no-embed", "--no-service", "--data-dir", str(data_dir)]
    done = subprocess.run(
        [sys.executable, "-c", script, *argv], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "3 files (3 added" in done.stderr and ", 0 embedded," in done.stderr, done.stderr
    assert done.stderr.rstrip().endswith("False"), done.stderr
