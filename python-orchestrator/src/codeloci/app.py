"""The state one server process shares between tool calls: settings, the Rust bridge, the gate,
and the services on the store (memory, code indexing), each created once and closed here.

Nothing slow happens before the MCP handshake: the embedder, the store and the Rust child are
loaded on first need; :meth:`AppContext.background` (run beside the server) starts the child
and, when the settings ask to index or watch, opens the store, indexes the project root and
watches it. A tool call waits only for what it uses: ``parse``
waits for the child alone, ``memory_find`` for the embedder and the store."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial

import anyio
import anyio.to_thread

from codeloci.bridge import BridgeError, RustBridge
from codeloci.config import Settings
from codeloci.embedder import Embedder, default_embedder
from codeloci.gate import Gate
from codeloci.indexing.pipeline import IndexingError
from codeloci.indexing.service import IndexingService
from codeloci.indexing.vocab import load_vocabulary
from codeloci.indexing.watch import watch_repository
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
        embedder: Embedder | None = None,
        store_opener: StoreOpener = _open_default_store,
    ) -> None:
        self.settings = settings
        self.bridge = bridge
        self._embedder = embedder
        self._store_opener = store_opener
        self._memory: MemoryService | None = None
        self._indexing: IndexingService | None = None
        self._lock = anyio.Lock()
        self._embedder_lock = anyio.Lock()
        self.gate = Gate.from_settings(
            settings, load_vocabulary(settings.data_dir, settings.project_id)
        )

    async def embedder(self) -> Embedder:
        """The embedder, loaded on first need (in a worker thread)."""
        async with self._embedder_lock:
            if self._embedder is None:
                s = self.settings
                load = partial(default_embedder, threads=s.embed_threads, spin=s.embed_spin)
                self._embedder = await anyio.to_thread.run_sync(load)
            return self._embedder

    def _open(self, embedder: Embedder) -> MemoryService:
        store = self._store_opener(self.settings, embedder)
        service = MemoryService(
            store,
            embedder,
            project_id=self.settings.project_id,
            session_id=self.settings.session_id,
            session_ttl_seconds=self.settings.session_ttl_seconds,
        )
        service.purge_expired()
        log.info("memory store: %s%s", store.description, " (read-only)" if store.read_only else "")
        return service

    async def memory(self) -> MemoryService:
        """The memory service; raises :class:`StoreError` when the store cannot be opened."""
        embedder = await self.embedder()
        async with self._lock:
            if self._memory is None:
                self._memory = await anyio.to_thread.run_sync(self._open, embedder)
            return self._memory

    async def indexing(self) -> IndexingService:
        """The code-indexing service on the open store (created on first use, shared by the
        tools and the watcher); raises :class:`StoreError` like :meth:`memory`."""
        memory = await self.memory()
        store = memory.store
        if self._indexing is None or self._indexing.store is not store:
            service = IndexingService(store, memory.embedder, self.bridge, self.settings.data_dir)
            service.share(self.settings.project_root, self.gate.vocabulary)
            self._indexing = service
        return self._indexing

    async def background(self) -> None:
        """The start-up work, run beside the server until it stops: start the Rust child; when
        the settings ask to index or watch, open the store (loading the embedder), index the
        project root (incremental: a no-op run when it is current) and watch it. Read-only
        serves what exists. Failures are logged; the tools report them when called."""
        s = self.settings
        try:
            await self.bridge.ensure_started()
        except BridgeError as exc:
            log.warning("codeloci-ast unavailable until this is fixed: %s", exc)
        if s.read_only or not (s.index_on_start or s.watch):
            return  # the store and the embedder open on first use
        root = s.watch_root or s.project_root
        try:
            service = await self.indexing()
            if s.watch:
                await watch_repository(service, root, initial=s.index_on_start)
            else:
                await service.index_repository(root, wait_for_embedding=False)
        except (StoreError, IndexingError) as exc:
            log.warning("indexing %s in the background stopped: %s", root, exc)
        except Exception:
            # Never fatal: the server goes on answering; the tools report what is wrong.
            log.exception("indexing %s in the background stopped", root)

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
    """The app with its start-up work (:meth:`AppContext.background`) running beside it; the
    context is entered at once, before anything slow is loaded."""
    async with RustBridge(
        settings.rust_server,
        [settings.project_root],
        call_timeout_ms=round(settings.call_timeout_seconds * 1000),
    ) as bridge:
        app = AppContext(settings, bridge, embedder, store_opener)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(app.background)
                try:
                    yield app
                finally:
                    tg.cancel_scope.cancel()
        finally:
            await anyio.to_thread.run_sync(app.close)
