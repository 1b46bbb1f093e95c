"""Embedding progress survives the store going away: every batch is written as soon as it is
embedded, so an outage (a Qdrant server crash, a closed store) loses at most the batch in
flight, and the next run embeds only what is left."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeloci.config import project_id_for
from codeloci.embedder import Embedder
from codeloci.indexing import pipeline
from codeloci.indexing.points import code_filter
from codeloci.indexing.progress import IndexProgress
from codeloci.store import DENSE_VECTOR, StoreError, with_vector

from .conftest import open_service, open_test_store_now, write_files

pytestmark = pytest.mark.anyio

BATCHES_BEFORE_OUTAGE = 3


async def test_embedded_batches_survive_an_outage(
    tmp_path: Path,
    data_dir: Path,
    rust_server: list[str],
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pipeline, "EMBED_BATCH", 4)
    repo = (tmp_path / "repo").resolve()
    write_files(repo, {f"m{n}.py": f"def f{n}(x):\n    return x * {n}\n" for n in range(30)})
    embedded = with_vector(code_filter(project_id_for(repo)), DENSE_VECTOR, True)
    async with open_service(data_dir, [repo], rust_server, embedder) as service:
        await service.index.index_repository(repo, embed=False)
        total = service.status(repo).chunks
        assert total > BATCHES_BEFORE_OUTAGE * 4

        def outage_after_three(state: IndexProgress) -> None:
            if state.embedded >= BATCHES_BEFORE_OUTAGE * 4:
                service.store.close()  # the store goes away between two batches

        with pytest.raises(StoreError) as err:
            service.index.embed_pending(repo, outage_after_three)
        assert "damaged" not in str(err.value)  # a store that went away is not a damaged one
    with open_test_store_now(data_dir, embedder) as store:
        assert store.count(embedded) == BATCHES_BEFORE_OUTAGE * 4
    async with open_service(data_dir, [repo], rust_server, embedder) as service:
        assert service.index.embed_pending(repo) == total - BATCHES_BEFORE_OUTAGE * 4
        assert service.status(repo).pending == 0
