"""The state one server process shares between tool calls: settings, the Rust bridge, the gate,
and the services on the store (memory, code indexing), each created once and closed here."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial

import anyio
import anyio.to_thread

from codeloci.bridge import RustBridge
from codeloci.config import Settings
from codeloci.embedder import Embedder, default_embedder
from codeloci.gate import Gate
from codeloci.indexing.service import IndexingService
from codeloci.indexing.vocab import load_vocabulary
from codeloci.memory import MemoryService, memory_collection_spec
from codeloci.store import MemoryStore, StoreError, open_store

__all__ = ["AppContext", "StoreOpener", "app_context"]

log = logging.getLogger(__name__)

StoreOpener = Callable[[Settings, Embedder], MemoryStore]


def _open_default_store(settings: Settings, embedder: Embedder) -> MemoryStore:
    return open_store(
        memory_collection_spec(embedder),
        data_dir=settings.data_dir,
        qdrant_url=settings.qdrant_url,
        qdrant_api_key=settings.qdrant_api_key,
        read_only=settings.read_only,
    )


class AppContext:
    """Opens the memory store lazily and retries on each call, so a store held by another
    process (or an unreachable Qdrant) makes the memory tools fail with a clear message while
    the Rust tools keep working; once the holder exits the next call succeeds."""

    def __init__(
        self,
        settings: Settings,
        bridge: RustBridge,
        embedder: Embedder,
        store_opener: StoreOpener = _open_default_store,
    ) -> None:
        self.settings = settings
        self.bridge = bridge
        self.embedder = embedder
        self._store_opener = store_opener
        self._memory: MemoryService | None = None
        self._indexing: IndexingService | None = None
        self._lock = anyio.Lock()
        self.gate = Gate.from_settings(
            settings, load_vocabulary(settings.data_dir, settings.project_id)
        )

    def _open(self) -> MemoryService:
        store = self._store_opener(self.settings, self.embedder)
        service = MemoryService(
            store,
            self.embedder,
            project_id=self.settings.project_id,
            session_id=self.settings.session_id,
            session_ttl_seconds=self.settings.session_ttl_seconds,
        )
        service.purge_expired()
        log.info("memory store: %s%s", store.description, " (read-only)" if store.read_only else "")
        return service

    async def memory(self) -> MemoryService:
        """The memory service; raises :class:`StoreError` when the store cannot be opened."""
        async with self._lock:
            if self._memory is None:
                self._memory = await anyio.to_thread.run_sync(self._open)
            return self._memory

    async def indexing(self) -> IndexingService:
        """The code-indexing service on the open store (created on first use, shared by the
        tools and the watcher); raises :class:`StoreError` like :meth:`memory`."""
        store = (await self.memory()).store
        if self._indexing is None or self._indexing.store is not store:
            service = IndexingService(store, self.embedder, self.bridge, self.settings.data_dir)
            service.share(self.settings.project_root, self.gate.vocabulary)
            self._indexing = service
        return self._indexing

    def close(self) -> None:
        # The indexer's background embedding must stop before the store closes.
        if self._indexing is not None:
            self._indexing.close()
            self._indexing = None
        if self._memory is not None:
            self._memory.store.close()
            self._memory = None


@asynccontextmanager
async def app_context(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    store_opener: StoreOpener = _open_default_store,
) -> AsyncIterator[AppContext]:
    """Load the embedder, start the Rust child and try to open the store."""
    emb: Embedder = (
        embedder
        if embedder is not None
        else await anyio.to_thread.run_sync(
            partial(default_embedder, threads=settings.embed_threads, spin=settings.embed_spin)
        )
    )
    async with RustBridge(
        settings.rust_server,
        [settings.project_root],
        call_timeout_ms=round(settings.call_timeout_seconds * 1000),
    ) as bridge:
        app = AppContext(settings, bridge, emb, store_opener)
        try:
            await app.memory()
        except StoreError as exc:
            log.warning("memory tools unavailable until this is fixed: %s", exc)
        try:
            yield app
        finally:
            await anyio.to_thread.run_sync(app.close)
