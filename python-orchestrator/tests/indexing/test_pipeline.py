"""Index runs against the real Rust server, embedded Qdrant and embedder: what ends up in the
store after adds, changes, deletes and renames, and what a search returns."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codeloci.config import project_id_for
from codeloci.embedder import Embedder
from codeloci.indexing.manifest import ManifestPaths
from codeloci.indexing.models import CodeSearchInput
from codeloci.indexing.points import code_filter
from codeloci.store import Match

from .conftest import assert_consistent, open_service, symbols_by_path, write_files

pytestmark = pytest.mark.anyio


async def test_first_run_indexes_every_file_and_search_finds_the_function(
    repo: Path, data_dir: Path, rust_server: list[str], embedder: Embedder
) -> None:
    async with open_service(data_dir, [repo], rust_server, embedder) as service:
        report = await service.index_repository(repo)
        assert report.files == 3 and report.added == 3 and report.errors == []
        assert report.pending == 0
        assert_consistent(service.store, data_dir, repo)
        symbols = symbols_by_path(service.store, repo)
        assert {"parse_config", "home_directory"} <= symbols["pkg/config.py"]
        assert "gcd" in symbols["src/math.rs"]

        nl = service.search(repo, CodeSearchInput(query="read a settings file into a dictionary"))
        assert nl.results[0].symbol == "parse_config"
        assert nl.results[0].path == "pkg/config.py"
        assert nl.results[0].language == "python" and nl.results[0].kind == "function"
        assert nl.results[0].signature is not None and "parse_config" in nl.results[0].signature
        assert "def parse_config" in nl.results[0].content
        assert nl.results[0].stale is False

        ident = service.search(repo, CodeSearchInput(query="startHttpServer"))
        assert ident.results[0].symbol == "startHttpServer"
        rust = service.search(
            repo, CodeSearchInput(query="greatest common divisor", language="rust")
        )
        assert rust.results and all(r.language == "rust" for r in rust.results)
        assert rust.results[0].symbol == "gcd"


async def test_second_run_with_nothing_changed_does_no_work(
    repo: Path, data_dir: Path, rust_server: list[str], embedder: Embedder
) -> None:
    async with open_service(data_dir, [repo], rust_server, embedder) as service:
        await service.index_repository(repo)
        again = await service.index_repository(repo)
    assert (again.added, again.changed, again.removed, again.unchanged) == (0, 0, 0, 3)
    assert again.chunks_written == 0 and again.embedded == 0 and again.chunks_deleted == 0
    assert again.warnings == []
    assert "chunk" not in again.seconds


async def test_add_change_delete_rename_keep_the_store_in_step(
    repo: Path, data_dir: Path, rust_server: list[str], embedder: Embedder
) -> None:
    async with open_service(data_dir, [repo], rust_server, embedder) as service:
        await service.index_repository(repo)

        write_files(repo, {"pkg/extra.py": "def brand_new_helper():\n    return 42\n"})
        report = await service.index_repository(repo)
        assert (report.added, report.changed, report.removed) == (1, 0, 0)
        assert "brand_new_helper" in symbols_by_path(service.store, repo)["pkg/extra.py"]
        assert_consistent(service.store, data_dir, repo)

        # change: one function renamed, one kept
        text = (repo / "pkg/config.py").read_text().replace("home_directory", "user_home")
        (repo / "pkg/config.py").write_text(text)
        report = await service.index_repository(repo)
        assert (report.added, report.changed, report.removed) == (0, 1, 0)
        symbols = symbols_by_path(service.store, repo)["pkg/config.py"]
        assert "user_home" in symbols and "home_directory" not in symbols
        assert "parse_config" in symbols
        assert_consistent(service.store, data_dir, repo)
        found = service.search(repo, CodeSearchInput(query="home_directory", mode="lexical"))
        assert all(r.symbol != "home_directory" for r in found.results)

        # delete
        (repo / "web/server.js").unlink()
        report = await service.index_repository(repo)
        assert (report.added, report.changed, report.removed) == (0, 0, 1)
        assert "web/server.js" not in symbols_by_path(service.store, repo)
        assert_consistent(service.store, data_dir, repo)

        # rename: the old path disappears, the new one carries the same symbols
        (repo / "src/math.rs").rename(repo / "src/numbers.rs")
        report = await service.index_repository(repo)
        assert (report.added, report.removed) == (1, 1)
        symbols_now = symbols_by_path(service.store, repo)
        assert "src/math.rs" not in symbols_now
        assert "gcd" in symbols_now["src/numbers.rs"]
        assert_consistent(service.store, data_dir, repo)
        hits = service.search(repo, CodeSearchInput(query="gcd", mode="lexical"))
        assert hits.results[0].path == "src/numbers.rs"


async def test_two_repositories_in_one_store_stay_apart(
    tmp_path: Path, data_dir: Path, rust_server: list[str], embedder: Embedder
) -> None:
    a, b = (tmp_path / "a").resolve(), (tmp_path / "b").resolve()
    shared = "def shared_function():\n    return 'same text in both'\n"
    write_files(a, {"common.py": shared, "only_a.py": "def alpha_only():\n    pass\n"})
    write_files(b, {"common.py": shared, "only_b.py": "def beta_only():\n    pass\n"})
    async with open_service(data_dir, [a, b], rust_server, embedder) as service:
        await service.index_repository(a)
        await service.index_repository(b)
        assert set(symbols_by_path(service.store, a)) == {"common.py", "only_a.py"}
        assert set(symbols_by_path(service.store, b)) == {"common.py", "only_b.py"}

        in_a = service.search(a, CodeSearchInput(query="beta_only shared_function", k=10))
        assert {r.path for r in in_a.results} <= {"common.py", "only_a.py"}
        assert all(r.symbol != "beta_only" for r in in_a.results)

        (a / "common.py").unlink()
        await service.index_repository(a)
        assert "common.py" not in symbols_by_path(service.store, a)
        assert "common.py" in symbols_by_path(service.store, b)
        assert_consistent(service.store, data_dir, a)
        assert_consistent(service.store, data_dir, b)
        assert service.status(b).chunks == 2


async def test_stale_flag_marks_files_changed_after_indexing(
    repo: Path, data_dir: Path, rust_server: list[str], embedder: Embedder
) -> None:
    async with open_service(data_dir, [repo], rust_server, embedder) as service:
        await service.index_repository(repo)
        path = repo / "pkg/config.py"
        path.write_text(path.read_text() + "\n# edited\n")
        result = service.search(repo, CodeSearchInput(query="parse_config home_directory", k=5))
        by_path = {r.path: r.stale for r in result.results}
        assert by_path["pkg/config.py"] is True
        other = service.search(repo, CodeSearchInput(query="gcd", k=1))
        assert other.results[0].stale is False
        await service.index_repository(repo)
        again = service.search(repo, CodeSearchInput(query="parse_config", k=1))
        assert again.results[0].stale is False


async def test_lexical_first_then_embeddings_fill_in(
    repo: Path, data_dir: Path, rust_server: list[str], embedder: Embedder
) -> None:
    async with open_service(data_dir, [repo], rust_server, embedder) as service:
        report = await service.index.index_repository(repo, embed=False)
        status = service.status(repo)
        assert report.pending == status.chunks == status.pending > 0
        assert status.embedded == 0 and status.files == 3
        early = service.search(repo, CodeSearchInput(query="parse_config"))
        assert early.results[0].symbol == "parse_config"
        assert early.pending == status.chunks

        done = service.index.embed_pending(repo)
        assert done == status.chunks
        status = service.status(repo)
        assert status.pending == 0 and status.embedded == status.chunks
        assert status.manifest == "ok" and status.last_run is not None


async def test_token_budget_and_filters(
    repo: Path, data_dir: Path, rust_server: list[str], embedder: Embedder
) -> None:
    async with open_service(data_dir, [repo], rust_server, embedder) as service:
        await service.index_repository(repo)
        small = service.search(repo, CodeSearchInput(query="parse_config", k=5, token_budget=50))
        assert len(small.results) == 1 and small.results[0].truncated
        assert small.tokens_used <= 50 and small.omitted >= 1
        assert small.results[0].content.startswith("def parse_config")

        globbed = service.search(repo, CodeSearchInput(query="function", k=10, path_glob="web/*"))
        assert globbed.results and all(r.path.startswith("web/") for r in globbed.results)
        structs = service.search(repo, CodeSearchInput(query="matrix rows cols", kind="struct"))
        assert [r.symbol for r in structs.results] == ["Matrix"]
        functions = service.search(repo, CodeSearchInput(query="matrix", k=10, kind="function"))
        assert functions.results and all(r.kind == "function" for r in functions.results)


async def test_damaged_or_missing_manifest_is_reported_and_rebuilt(
    repo: Path, data_dir: Path, rust_server: list[str], embedder: Embedder
) -> None:
    async with open_service(data_dir, [repo], rust_server, embedder) as service:
        await service.index_repository(repo)
        paths = ManifestPaths.under(data_dir, project_id_for(repo))
        paths.manifest.write_text("{not json")
        assert service.status(repo).manifest == "damaged"
        report = await service.index_repository(repo)
        assert any("damaged" in w for w in report.warnings)
        assert report.chunks_written == 0  # rebuilt from the store: nothing to redo
        assert_consistent(service.store, data_dir, repo)

        paths.manifest.unlink()
        assert service.status(repo).manifest == "missing"
        report = await service.index_repository(repo)
        assert any("missing" in w for w in report.warnings)
        assert_consistent(service.store, data_dir, repo)


async def test_an_index_built_with_another_text_version_is_rebuilt(
    repo: Path, data_dir: Path, rust_server: list[str], embedder: Embedder
) -> None:
    """Vectors built from an older chunk text would not match today's queries: rebuilt."""
    import json

    from codeloci.indexing.text import TEXT_VERSION

    async with open_service(data_dir, [repo], rust_server, embedder) as service:
        first = await service.index_repository(repo)
        paths = ManifestPaths.under(data_dir, project_id_for(repo))
        data = json.loads(paths.manifest.read_text())
        assert data["text_version"] == TEXT_VERSION
        again = await service.index_repository(repo)
        assert again.chunks_written == 0 and not again.warnings, "same version: nothing redone"
        data["text_version"] = TEXT_VERSION - 1
        paths.manifest.write_text(json.dumps(data))
        report = await service.index_repository(repo)
        assert any(f"text version {TEXT_VERSION - 1}" in w for w in report.warnings)
        assert report.chunks_written == first.chunks_written > 0
        assert json.loads(paths.manifest.read_text())["text_version"] == TEXT_VERSION
        assert_consistent(service.store, data_dir, repo)


async def test_points_deleted_behind_the_index_are_restored(
    repo: Path, data_dir: Path, rust_server: list[str], embedder: Embedder
) -> None:
    """E.g. memory_delete removed code chunks: the counts disagree, the run reconciles."""
    async with open_service(data_dir, [repo], rust_server, embedder) as service:
        await service.index_repository(repo)
        before = service.status(repo).chunks
        service.store.delete_where(code_filter(project_id_for(repo), Match("path", "src/math.rs")))
        assert service.status(repo).manifest == "out_of_sync"
        report = await service.index_repository(repo)
        assert report.warnings and report.changed + report.added == 1
        assert service.status(repo).chunks == before
        assert_consistent(service.store, data_dir, repo)


async def test_code_chunks_are_project_memories(
    repo: Path, data_dir: Path, rust_server: list[str], embedder: Embedder
) -> None:
    """Code chunks are PROJECT_CONTEXT memories of kind code that the memory tools return when
    asked for that kind (the payload is a valid memory); without it they are left out."""
    from codeloci.memory import MemoryService
    from codeloci.models import (
        MemoryFilter,
        MemoryFindInput,
        MemoryListInput,
        MemoryStoreInput,
        RetrieveInput,
    )

    async with open_service(data_dir, [repo], rust_server, embedder) as service:
        await service.index_repository(repo)
        memory = MemoryService(
            service.store,
            embedder,
            project_id=project_id_for(repo),
            session_id="s",
            session_ttl_seconds=3600,
        )
        fact = memory.store_memory(
            MemoryStoreInput(
                content="Configuration files are parsed by hand, never with configparser",
                level="PROJECT_CONTEXT",
                kind="decision",
            )
        ).id
        query = "read a configuration file into a dict"
        code = MemoryFilter(kinds=["code"])
        found = memory.find(MemoryFindInput(query=query, levels=["PROJECT_CONTEXT"], filters=code))
        assert found.results and {r.kind for r in found.results} == {"code"}
        assert found.results[0].source is not None
        assert found.results[0].source.path == "pkg/config.py"
        assert os.path.exists(repo / found.results[0].source.path)

        # Without kinds: the notes alone, the code left out by the store query (k=5 of 1).
        plain = memory.find(MemoryFindInput(query=query, k=5))
        assert [r.id for r in plain.results] == [fact]
        facts = memory.retrieve("PROJECT_CONTEXT", RetrieveInput(query=query, k=5))
        assert [r.id for r in facts.results] == [fact]
        newest = memory.retrieve("PROJECT_CONTEXT", RetrieveInput(k=5))
        assert [r.id for r in newest.results] == [fact]
        assert [r.id for r in memory.list_memories(MemoryListInput()).results] == [fact]
        listed = memory.list_memories(MemoryListInput(filters=code, limit=100)).results
        assert len(listed) == service.status(repo).chunks and {r.kind for r in listed} == {"code"}
        both = MemoryFilter(kinds=["code", "decision"])
        mixed = memory.retrieve("PROJECT_CONTEXT", RetrieveInput(query=query, filters=both))
        assert fact in {r.id for r in mixed.results} and "code" in {r.kind for r in mixed.results}
