"""One indexing service per open store: the index, the searcher, background embedding and
the status report. Used by the MCP tools, the CLI and the watcher."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Literal

import anyio
import anyio.to_thread

from codeloci.bridge import RustBridge
from codeloci.config import git_toplevel, project_id_for
from codeloci.embedder import Embedder
from codeloci.foreground import Foreground
from codeloci.gate import SymbolVocabulary
from codeloci.indexing.manifest import ManifestError
from codeloci.indexing.models import CodeSearchInput, CodeSearchResult, IndexStatusResult
from codeloci.indexing.pipeline import CodeIndex, IndexingError, IndexReport
from codeloci.indexing.points import code_filter
from codeloci.indexing.progress import ProgressFn
from codeloci.indexing.search import CodeSearcher
from codeloci.indexing.vocab import load_vocabulary, vocabulary_path
from codeloci.models import IndexState
from codeloci.store import DENSE_VECTOR, Match, MemoryStore, Range, with_vector

__all__ = ["IndexingService", "repository_root"]

log = logging.getLogger(__name__)

#: Seconds the file and chunk counts of :meth:`IndexingService.index_state` are reused while no
#: point is added or removed through the store (another process writing it is seen this late).
COUNTS_SECONDS = 60.0


def _note(index: IndexState, *, empty: bool) -> str | None:
    """One sentence for the agent about an answer the index's state limits."""
    if index.state == "not_indexed":
        return (
            "This repository is not indexed yet, so nothing could be found: call "
            "index_repository (a server indexes a git repository at start unless --no-index)."
        )
    if index.state == "indexing":
        return (
            f"The index is being built ({index.files} files so far); results may be missing: "
            "search again in a few seconds."
        )
    if index.state == "embedding":
        return (
            f"{index.pending} of {index.chunks} chunks still wait for their embedding, so "
            "matches by meaning may be missing; they fill in within minutes."
        )
    return "Nothing in the index matches." if empty else None


def repository_root(path: Path) -> Path:
    """The git top level containing ``path``, else ``path`` itself (resolved)."""
    path = Path(path).expanduser().resolve()
    if not path.is_dir():
        raise ValueError(f"{path} is not a directory")
    return git_toplevel(path)


class _Run:
    """One index run in progress, which concurrent calls for the same project join."""

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.report: IndexReport | None = None


class IndexingService:
    def __init__(
        self,
        store: MemoryStore,
        embedder: Embedder,
        bridge: RustBridge,
        data_dir: Path,
        *,
        dense_style: str = "header",
        foreground: Foreground | None = None,
    ) -> None:
        self.store = store
        self.data_dir = Path(data_dir)
        self._vocabularies: dict[str, SymbolVocabulary] = {}
        self.index = CodeIndex(
            store, embedder, bridge, data_dir, dense_style=dense_style, foreground=foreground
        )
        self.searcher = CodeSearcher(store, embedder)
        self._threads: dict[str, threading.Thread] = {}
        self._stop = threading.Event()
        self._guard = threading.Lock()
        #: index runs in progress, by project
        self._running: dict[str, int] = {}
        #: the run each project's concurrent callers join
        self._runs: dict[str, _Run] = {}
        # project -> (monotonic time, store membership, files, chunks)
        self._counts: dict[str, tuple[float, int, int, int]] = {}

    async def index_repository(
        self,
        root: Path,
        *,
        progress: ProgressFn | None = None,
        wait_for_embedding: bool = True,
        full: bool = False,
    ) -> IndexReport:
        project = project_id_for(Path(root).resolve())
        joined = self._runs.get(project)
        if joined is not None and not full:
            # The same repository is being indexed already (another session, the watcher):
            # this call waits for that run and reports it instead of indexing twice at once.
            await joined.done.wait()
            if joined.report is None:
                raise IndexingError(f"the index run of {root} this call waited for failed")
            if wait_for_embedding:
                await anyio.to_thread.run_sync(self.wait_for_background)
            return joined.report
        run = _Run()
        self._runs.setdefault(project, run)
        self._running[project] = self._running.get(project, 0) + 1
        self.index.recent[project] = time.time()  # its chunks are embedded first
        try:
            report = await self.index.index_repository(
                root, progress=progress, embed=wait_for_embedding, full=full
            )
            run.report = report
        finally:
            self._running[project] -= 1
            if self._runs.get(project) is run:
                del self._runs[project]
            run.done.set()
        if report.symbols or report.paths:
            vocabulary = self.vocabulary(Path(report.root))
            vocabulary.extend(report.symbols, report.paths)
            vocabulary.save(vocabulary_path(self.data_dir, report.project))
        if report.pending:
            self.embed_in_background(Path(report.root))
        return report

    @property
    def busy(self) -> bool:
        """Whether an index run or background embedding is under way."""
        return any(self._running.values()) or any(t.is_alive() for t in self._threads.values())

    def vocabulary(self, root: Path) -> SymbolVocabulary:
        """The project's vocabulary (loaded once, shared with the gate via :meth:`share`)."""
        project = project_id_for(root)
        if project not in self._vocabularies:
            self._vocabularies[project] = load_vocabulary(self.data_dir, project)
        return self._vocabularies[project]

    def share(self, root: Path, vocabulary: SymbolVocabulary) -> None:
        """Use ``vocabulary`` (the gate's) for ``root``, so index runs extend what it checks."""
        self._vocabularies[project_id_for(root)] = vocabulary

    def embed_in_background(self, root: Path) -> None:
        """Fill the dense vectors of ``root``'s pending chunks in a daemon thread (one per
        project; a call while one runs is a no-op, and the running one picks up new chunks)."""
        project = project_id_for(root)
        with self._guard:
            running = self._threads.get(project)
            if running is not None and running.is_alive():
                return

            def work() -> None:
                try:
                    while not self._stop.is_set():
                        if self.index.embed_pending(root, stop=self._stop) == 0:
                            break
                except Exception as exc:  # the store may close under us at shutdown
                    if not self._stop.is_set():
                        log.warning("background embedding of %s stopped: %s", root, exc)

            thread = threading.Thread(target=work, name=f"codeloci-embed-{project}", daemon=True)
            self._threads[project] = thread
            thread.start()

    def embedding_in_progress(self, root: Path) -> bool:
        thread = self._threads.get(project_id_for(root))
        return thread is not None and thread.is_alive()

    def wait_for_background(self, timeout: float | None = None) -> None:
        for thread in list(self._threads.values()):
            thread.join(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Stop background embedding (between batches) and wait for it."""
        self._stop.set()
        self.wait_for_background(timeout)

    def index_state(self, root: Path) -> IndexState:
        """Where ``root``'s index stands. The file and chunk counts are cached until points are
        added or removed through this store (at most a minute); the pending count is the
        searcher's cached one."""
        root = Path(root).resolve()
        project = project_id_for(root)
        now, membership = time.monotonic(), self.store.membership
        cached = self._counts.get(project)
        if cached is not None and cached[1] == membership and now - cached[0] < COUNTS_SECONDS:
            files, chunks = cached[2], cached[3]
        else:
            flt = code_filter(project)
            chunks = self.store.count(flt)
            files = self.store.count(code_filter(project, Match("chunk_index", 0)))
            self._counts[project] = (now, membership, files, chunks)
        return self._state(root, files, chunks, self.searcher.pending(project))

    def _state(self, root: Path, files: int, chunks: int, pending: int) -> IndexState:
        state: Literal["not_indexed", "indexing", "embedding", "ready"]
        if self._running.get(project_id_for(root)):
            state = "indexing"
        elif chunks == 0 and not self.index.manifest_paths(root).manifest.is_file():
            state = "not_indexed"
        elif pending:
            state = "embedding"
        else:
            state = "ready"
        return IndexState(state=state, files=files, chunks=chunks, pending=pending)

    def search(self, root: Path, inp: CodeSearchInput) -> CodeSearchResult:
        """The search, with the index's state and, for an empty or partial answer, a plain
        sentence saying why and what happens next."""
        result = self.searcher.search(root, inp)
        index = self.index_state(root)
        result.index = index
        result.lexical_only = inp.mode == "lexical" or (
            index.chunks > 0 and index.pending == index.chunks
        )
        if not result.results or index.state != "ready":
            result.note = _note(index, empty=not result.results)
        return result

    def status(self, root: Path) -> IndexStatusResult:
        root = Path(root).resolve()
        project = project_id_for(root)
        flt = code_filter(project)
        chunks = self.store.count(flt)
        embedded = self.store.count(with_vector(flt, DENSE_VECTOR, True))
        files = self.store.count(code_filter(project, Match("chunk_index", 0)))
        paths = self.index.manifest_paths(root)
        state: Any = "ok"
        last_run: dict[str, Any] | None = None
        try:
            manifest = paths.load()
        except ManifestError:
            manifest, state = None, "damaged"
        if manifest is None and state == "ok":
            state = "missing"
        if manifest is not None:
            last_run = manifest.last_run
            if manifest.chunk_count != chunks:
                state = "out_of_sync"
        if paths.dirty:
            state = "interrupted"
        errors = list((last_run or {}).get("errors") or [])
        redacted, redactions = self._redactions(project)
        return IndexStatusResult(
            root=str(root),
            project=project,
            files=files,
            chunks=chunks,
            embedded=embedded,
            pending=chunks - embedded,
            manifest=state,
            embedding_in_progress=self.embedding_in_progress(root),
            last_run=last_run,
            errors=errors,
            redacted_chunks=redacted,
            redactions=redactions,
            # the counts just taken, not index_state's cached ones: nothing counted twice
            index=self._state(root, files, chunks, chunks - embedded),
        )

    def _redactions(self, project: str) -> tuple[int, dict[str, int]]:
        """Chunks with redacted secrets and the secrets by kind, read from the store (only the
        chunks that have any are scanned)."""
        flt = code_filter(project, Range("redaction_count", gte=1))
        chunks = 0
        by_kind: dict[str, int] = {}
        for hit in self.store.scroll_all(flt):
            chunks += 1
            for kind, n in (hit.payload.get("redactions") or {}).items():
                by_kind[kind] = by_kind.get(kind, 0) + int(n)
        return chunks, dict(sorted(by_kind.items()))
