"""code_search and index_status say where the index stands, and an empty or partial answer
says why in one sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeloci.embedder import Embedder
from codeloci.indexing import search as search_mod
from codeloci.indexing.models import CodeSearchInput

from .conftest import open_service

pytestmark = pytest.mark.anyio


async def test_not_indexed_then_embedding_then_ready(
    repo: Path,
    data_dir: Path,
    rust_server: list[str],
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each answer reflects the store at once (the short reuse of a pending count during an
    # index run is test_search_caches' subject).
    monkeypatch.setattr(search_mod, "PENDING_CACHE_SECONDS", 0.0)
    async with open_service(data_dir, [repo], rust_server, embedder) as service:
        empty = service.search(repo, CodeSearchInput(query="parse_config"))
        assert empty.results == [] and empty.index is not None
        assert empty.index.state == "not_indexed" and empty.index.chunks == 0
        assert empty.note is not None and "not indexed yet" in empty.note
        assert service.status(repo).index.state == "not_indexed"  # type: ignore[union-attr]

        await service.index.index_repository(repo, embed=False)
        half = service.search(repo, CodeSearchInput(query="parse_config"))
        assert half.index is not None and half.index.state == "embedding"
        assert half.index.pending == half.index.chunks > 0 and half.index.files == 3
        assert half.results[0].symbol == "parse_config"  # words alone find it already
        assert half.lexical_only
        assert half.note is not None and "wait for their embedding" in half.note

        service.index.embed_pending(repo)
        done = service.search(repo, CodeSearchInput(query="read the configuration file"))
        assert done.index is not None and done.index.state == "ready"
        assert done.index.pending == 0 and not done.lexical_only and done.note is None
        lexical = service.search(repo, CodeSearchInput(query="parse_config", mode="lexical"))
        assert lexical.lexical_only
        nothing = service.search(repo, CodeSearchInput(query="zzqx_nonexistent", mode="lexical"))
        assert nothing.results == [] and nothing.note == "Nothing in the index matches."
