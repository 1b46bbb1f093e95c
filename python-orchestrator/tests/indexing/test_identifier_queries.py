"""An identifier query is answered by BM25 alone when its best hit spells the name (no query
embedding); a misspelt name or a sentence gets the dense channel too."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from codeloci.embedder import Embedder
from codeloci.indexing.models import CodeSearchInput

from .conftest import PARSER_PY, open_service, write_files


class Recording:
    """The real embedder, remembering every one-text call (a query embedding)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.queries: list[str] = []

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed(self, texts: list[str]) -> npt.NDArray[np.float32]:
        if len(texts) == 1:
            self.queries.append(texts[0])
        return self.inner.embed(texts)


@pytest.mark.anyio
async def test_identifier_found_by_name_skips_the_query_embedding(
    repo: Path, data_dir: Path, rust_server: list[str], embedder: Embedder
) -> None:
    write_files(repo, {"pkg/config.py": PARSER_PY})
    recording = Recording(embedder)
    async with open_service(data_dir, [repo], rust_server, recording) as service:
        report = await service.index_repository(repo)
        assert report.pending == 0
        recording.queries.clear()

        for query in ("parse_config", "config.parse_config", "parse_config()", "PARSE_CONFIG"):
            hit = service.search(repo, CodeSearchInput(query=query, k=3)).results[0]
            assert hit.symbol == "parse_config", query
        assert recording.queries == []

        misspelt = service.search(repo, CodeSearchInput(query="parse_confg", k=3))
        assert misspelt.results[0].symbol == "parse_config"
        sentence = service.search(repo, CodeSearchInput(query="read a settings file", k=3))
        assert sentence.results[0].symbol == "parse_config"
        assert recording.queries == ["parse_confg", "read a settings file"]
