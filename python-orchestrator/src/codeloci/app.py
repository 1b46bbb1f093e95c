"""The state tool calls share, in two parts:

* :class:`Core`, one per process: the embedder, the store, one code-indexing service and one
  ``codeloci-ast`` child per project root, and the start-up work (index, watch) per root, run
  once however many sessions ask for it;
* :class:`AppContext`, one per MCP session: that session's settings (project root, session id,
  read-only, results mode, gate) over the core's services.

``codeloci serve --no-service`` and ``serve --http`` run one core with one session context
(:func:`app_context`); the per-user service (:mod:`codeloci.service`) runs one core and a
context for every session that connects.

Nothing slow happens before the MCP handshake: the embedder and the store are loaded on first
need; :meth:`AppContext.background` (run beside the server) asks the core to index and watch
the project root when the settings say so. A tool call waits only for what it uses: ``parse``
waits for the child alone, ``memory_find`` for the embedder and the store."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from anyio.abc import TaskGroup, TaskStatus

from codeloci.bridge import BridgeError, RustBridge
from codeloci.config import Settings, project_id_for
from codeloci.embedder import Embedder, LazyEmbedder
from codeloci.foreground import Foreground
from codeloci.gate import Gate, SymbolVocabulary
from codeloci.indexing.pipeline import IndexingError
from codeloci.indexing.service import IndexingService
from codeloci.indexing.vocab import load_vocabulary
from codeloci.indexing.watch import watch_repository
from codeloci.memory import MemoryService, memory_collection_spec
from codeloci.store import MemoryStore, StoreError, open_store

__all__ = ["AppContext", "Core", "StoreOpener", "app_context", "core_context"]

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


class Core:
    """The services one process owns, shared by every session it serves.

    The store is opened lazily and retried on each call, so a store held by another process
    (or an unreachable Qdrant) makes the memory tools fail with a clear message while the Rust
    tools keep working; once the holder exits the next call succeeds. Children and watchers
    run in the core's task group (:func:`core_context`)."""

    def __init__(
        self,
        settings: Settings,
        tg: TaskGroup,
        embedder: Embedder | None = None,
        store_opener: StoreOpener = _open_default_store,
    ) -> None:
        self.settings = settings
        self._tg = tg
        self._embedder = embedder
        self._store_opener = store_opener
        self._store: MemoryStore | None = None
        self._bridges: dict[tuple[Path, tuple[str, ...], int], RustBridge] = {}
        self._indexing: dict[Path, IndexingService] = {}
        self._vocabularies: dict[str, SymbolVocabulary] = {}
        self._work: set[Path] = set()
        self._closing = anyio.Event()
        self._lock = anyio.Lock()
        self._bridge_lock = anyio.Lock()
        self._indexing_lock = anyio.Lock()
        #: Searches in flight, which index runs and background embedding make way for.
        self.foreground = Foreground()

    async def embedder(self) -> Embedder:
        """The embedder. Its model loads with the first text embedded (always in a worker
        thread), so a process that never needs a dense vector, like a lexical index run, never
        holds the model."""
        if self._embedder is None:
            s = self.settings
            self._embedder = LazyEmbedder(threads=s.embed_threads, spin=s.embed_spin)
        return self._embedder

    def _open(self, embedder: Embedder) -> MemoryStore:
        store = self._store_opener(self.settings, embedder)
        log.info("memory store: %s%s", store.description, " (read-only)" if store.read_only else "")
        return store

    async def store(self) -> MemoryStore:
        """The store; raises :class:`StoreError` when it cannot be opened."""
        embedder = await self.embedder()
        async with self._lock:
            if self._store is None:
                store = await anyio.to_thread.run_sync(self._open, embedder)
                self._store = store
                if not store.read_only:
                    # expired SESSION_STATE of every project, once per open
                    purge = MemoryService(
                        store, embedder, project_id="", session_id="", session_ttl_seconds=1
                    )
                    await anyio.to_thread.run_sync(purge.purge_expired)
            return self._store

    async def bridge(self, settings: Settings) -> RustBridge:
        """The ``codeloci-ast`` child confined to ``settings``' project root, started with its
        command and call deadline (one child per distinct root, command and deadline; started
        on first need, restarting itself when it dies)."""
        root = Path(settings.project_root).resolve()
        command = tuple(settings.rust_server or ())
        timeout_ms = round(settings.call_timeout_seconds * 1000)
        key = (root, command, timeout_ms)
        async with self._bridge_lock:
            if key not in self._bridges:
                self._bridges[key] = await self._tg.start(self._hold_bridge, key)
            return self._bridges[key]

    async def _hold_bridge(
        self, key: tuple[Path, tuple[str, ...], int], *, task_status: TaskStatus[RustBridge]
    ) -> None:
        root, command, timeout_ms = key
        async with RustBridge(list(command) or None, [root], call_timeout_ms=timeout_ms) as bridge:
            task_status.started(bridge)
            await self._closing.wait()

    def vocabulary(self, root: Path) -> SymbolVocabulary:
        """The project's symbol vocabulary: one object per project, shared by the gates of its
        sessions and extended by its index runs."""
        project = project_id_for(Path(root).resolve())
        if project not in self._vocabularies:
            self._vocabularies[project] = load_vocabulary(self.settings.data_dir, project)
        return self._vocabularies[project]

    async def indexing(self, settings: Settings) -> IndexingService:
        """The code-indexing service of ``settings``' project root on the open store (one per
        root, shared by its sessions' tools and its watcher, using the ``codeloci-ast`` child
        of the first session that asked); raises :class:`StoreError` like :meth:`store`."""
        root = Path(settings.project_root).resolve()
        store = await self.store()
        async with self._indexing_lock:  # concurrent first calls must share one service
            service = self._indexing.get(root)
            if service is None or service.store is not store:
                bridge = await self.bridge(settings)
                embedder = await self.embedder()
                service = IndexingService(
                    store, embedder, bridge, self.settings.data_dir, foreground=self.foreground
                )
                service.share(root, self.vocabulary(root))
                self._indexing[root] = service
            return service

    def spawn(self, fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``fn`` in the core's task group (it ends with the core)."""
        self._tg.start_soon(fn)

    @property
    def busy(self) -> bool:
        """Whether an index run or background embedding is under way (the service does not
        stop for idleness meanwhile)."""
        return any(s.busy for s in self._indexing.values())

    def start_work(self, settings: Settings) -> None:
        """As ``settings`` ask, index and watch their project root, once per root for the
        life of the core (a second session in the same root shares the first one's watcher)."""
        if settings.read_only or not (settings.index_on_start or settings.watch):
            return
        root = Path(settings.watch_root or settings.project_root).resolve()
        if root in self._work:
            return
        self._work.add(root)
        self._tg.start_soon(self._index_and_watch, settings, root)

    async def _index_and_watch(self, settings: Settings, root: Path) -> None:
        try:
            service = await self.indexing(replace(settings, project_root=root))
            log.info("%s %s", "watching" if settings.watch else "indexing", root)
            if settings.watch:
                await watch_repository(service, root, initial=settings.index_on_start)
            else:
                await service.index_repository(root, wait_for_embedding=False)
        except (StoreError, IndexingError) as exc:
            log.warning("indexing %s in the background stopped: %s", root, exc)
            self._work.discard(root)  # the next session in this root tries again
        except Exception:
            # Never fatal: the server goes on answering; the tools report what is wrong.
            log.exception("indexing %s in the background stopped", root)
            self._work.discard(root)

    def close(self) -> None:
        # Background embedding must stop before the store closes.
        for service in self._indexing.values():
            service.close()
        self._indexing.clear()
        if self._store is not None:
            self._store.close()
            self._store = None


class AppContext:
    """One session's view: its settings (project root, session id, read-only, results mode,
    gate) over the process's :class:`Core`."""

    def __init__(self, settings: Settings, core: Core, bridge: RustBridge) -> None:
        self.settings = settings
        self.core = core
        self.bridge = bridge
        self._memory: MemoryService | None = None
        self.gate = Gate.from_settings(settings, core.vocabulary(settings.project_root))

    @classmethod
    async def create(cls, settings: Settings, core: Core) -> AppContext:
        return cls(settings, core, await core.bridge(settings))

    async def embedder(self) -> Embedder:
        return await self.core.embedder()

    async def memory(self) -> MemoryService:
        """This session's memory service; raises :class:`StoreError` when the store cannot be
        opened."""
        store = await self.core.store()
        if self._memory is None or self._memory.store is not store:
            s = self.settings
            self._memory = MemoryService(
                store,
                await self.core.embedder(),
                project_id=s.project_id,
                session_id=s.session_id,
                session_ttl_seconds=s.session_ttl_seconds,
            )
        return self._memory

    async def indexing(self) -> IndexingService:
        """The code-indexing service of this session's project root."""
        return await self.core.indexing(self.settings)

    async def background(self) -> None:
        """The start-up work: start the Rust child; as the settings ask, index the project root
        (incremental: a no-op run when it is current) and watch it, in the core (once per root).
        Read-only serves what exists. Failures are logged; the tools report them when called."""
        try:
            await self.bridge.ensure_started()
        except BridgeError as exc:
            log.warning("codeloci-ast unavailable until this is fixed: %s", exc)
        self.core.start_work(self.settings)


@asynccontextmanager
async def core_context(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    store_opener: StoreOpener = _open_default_store,
) -> AsyncIterator[Core]:
    """A :class:`Core` whose children and watchers stop, and whose store closes, on exit."""
    core: Core | None = None
    try:
        async with anyio.create_task_group() as tg:
            core = Core(settings, tg, embedder, store_opener)
            try:
                yield core
            finally:
                core._closing.set()
                tg.cancel_scope.cancel()
    finally:
        if core is not None:
            await anyio.to_thread.run_sync(core.close)


@asynccontextmanager
async def app_context(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    store_opener: StoreOpener = _open_default_store,
) -> AsyncIterator[AppContext]:
    """One process, one session: a core and the context of ``settings``, with its start-up
    work (:meth:`AppContext.background`) running beside it; the context is entered at once,
    before anything slow is loaded."""
    async with core_context(settings, embedder=embedder, store_opener=store_opener) as core:
        app = await AppContext.create(settings, core)
        async with anyio.create_task_group() as tg:
            tg.start_soon(app.background)
            try:
                yield app
            finally:
                tg.cancel_scope.cancel()
