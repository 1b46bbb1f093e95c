"""``index_repository``: make a repository searchable and keep the store in step with it.

Order of one run (the manifest is the commit point)::

    scan(previous=manifest) -> chunk(added + changed, batches of <= CHUNK_BATCH paths and
                                     about CHUNK_BATCH_BYTES of source per call)
      -> upsert points (sparse BM25 vector only: lexically searchable at once)
      -> delete the points of chunks that vanished from changed files
      -> delete the points of removed files
      -> write the manifest (atomic) and clear the dirty mark
      -> embed pending chunks (dense), unless the caller leaves that to the background

Crash safety: point ids are deterministic (chunk id + project), so re-upserting is idempotent,
and stale points are deleted by filter ("this file's points whose id is not in the new set"),
not by the old manifest's id list. A run that dies after its first write leaves the dirty mark;
the next run rebuilds the manifest from the store (which is then the truth), so files that
were half-written look changed and files that vanished look removed, and everything converges.
The same reconciliation runs when the store's point count disagrees with the manifest (e.g.
after ``memory_delete`` removed code chunks) or when the manifest is missing or damaged.

Chunking overlaps writing: while one batch's points are built and written (in a worker
thread), the Rust server chunks the next. At most :data:`MAX_BATCHES_HELD` chunk results are
alive at once (one being written, the next waiting for it), and a batch is bounded in bytes,
so memory does not grow with the repository: what a run keeps for its whole length is one
manifest record (ids, no content) per file. :class:`BatchGauge` counts this for the tests.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import anyio
import anyio.to_thread
import numpy as np

from codeloci.ast_types import Chunk, ChunkResult, FileEntry
from codeloci.bridge import RustBridge, ToolCallFailed
from codeloci.config import project_id_for
from codeloci.embedder import Embedder
from codeloci.foreground import Foreground
from codeloci.indexing.manifest import FileRecord, Manifest, ManifestError, ManifestPaths
from codeloci.indexing.points import (
    PAYLOAD_VERSION,
    code_filter,
    definitions,
    embed_order,
    file_filter,
    point_id,
    point_payload,
)
from codeloci.indexing.progress import IndexProgress, ProgressFn
from codeloci.indexing.symbols import SymbolTable, symbols_path
from codeloci.indexing.text import TEXT_VERSION, dense_text, sparse_document
from codeloci.store import DENSE_VECTOR, Filter, HasId, Match, MemoryStore, PointIn, with_vector

__all__ = [
    "CHUNK_BATCH",
    "CHUNK_BATCH_BYTES",
    "MAX_BATCHES_HELD",
    "BatchGauge",
    "CodeIndex",
    "IndexReport",
    "IndexingError",
]

log = logging.getLogger(__name__)

#: Paths per Rust ``chunk`` call (its limit is 1000; smaller batches give finer progress).
CHUNK_BATCH = 200
#: Bytes of source per ``chunk`` call (a file larger than this goes alone): a reply, and what
#: the run holds of it, is a small multiple of its source, and parsing it holds the GIL in one
#: piece, which every concurrent search waits out.
CHUNK_BATCH_BYTES = 512 * 1024
#: Points per store write: the embedded engine holds the GIL for the whole of one write.
UPSERT_BATCH = 128
#: Chunk results alive at once: the batch being written and the next one, chunked meanwhile.
MAX_BATCHES_HELD = 2
#: Chunks embedded per embedder call and per store update.
EMBED_BATCH = 64
#: Paths per delete-by-filter call.
DELETE_BATCH = 256
SCROLL_PAGE = 512


class IndexingError(RuntimeError):
    """The run could not complete; the message says why. The store stays consistent."""


@dataclass
class IndexReport:
    root: str
    project: str
    files: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    chunks_written: int = 0
    chunks_deleted: int = 0
    embedded: int = 0
    pending: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    #: Names and paths of the chunks written in this run (for the gate's vocabulary).
    symbols: set[str] = field(default_factory=set)
    paths: set[str] = field(default_factory=set)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("symbols", "paths")}


def _timed(report: IndexReport, stage: str, start: float) -> None:
    report.seconds[stage] = round(report.seconds.get(stage, 0.0) + time.monotonic() - start, 4)


@dataclass
class BatchGauge:
    """How many chunk results (and chunks in them) a run holds at once, and the most it ever
    held: a result counts from the moment its ``chunk`` call returns until its points are
    written."""

    batches: int = 0
    chunks: int = 0
    peak_batches: int = 0
    peak_chunks: int = 0

    def hold(self, result: ChunkResult) -> None:
        self.batches += 1
        self.chunks += len(result["chunks"])
        self.peak_batches = max(self.peak_batches, self.batches)
        self.peak_chunks = max(self.peak_chunks, self.chunks)

    def release(self, result: ChunkResult) -> None:
        self.batches -= 1
        self.chunks -= len(result["chunks"])


def _batches(work: list[str], entries: dict[str, FileEntry]) -> list[list[str]]:
    """``work`` cut into ``chunk`` calls of at most CHUNK_BATCH paths and CHUNK_BATCH_BYTES."""
    batches: list[list[str]] = []
    batch: list[str] = []
    size = 0
    for path in work:
        entry = entries.get(path)
        nbytes = int(entry["size"]) if entry is not None else 0
        if batch and (len(batch) >= CHUNK_BATCH or size + nbytes > CHUNK_BATCH_BYTES):
            batches.append(batch)
            batch, size = [], 0
        batch.append(path)
        size += nbytes
    if batch:
        batches.append(batch)
    return batches


def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return cast(Callable[[int], int], ctypes.CDLL(None).malloc_trim)
    except (OSError, AttributeError):
        return None  # not glibc


_TRIM = _malloc_trim()


def _give_back_freed_memory() -> None:
    """Return the C heap's free pages to the OS once a batch is released: glibc keeps them
    otherwise, and the process would stay at the high-water mark of its largest replies."""
    if _TRIM is not None:
        _TRIM(0)


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    first: BaseException = group
    while isinstance(first, BaseExceptionGroup):
        first = first.exceptions[0]
    return first


class CodeIndex:
    """Indexes repositories into ``store`` with the Rust server behind ``bridge``.

    ``dense_style`` picks :func:`codeloci.indexing.text.dense_text`'s layout; writing and
    embedding make way for ``foreground`` calls (searches) at every file, store write and
    embedding batch."""

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
        self.embedder = embedder
        self.foreground = foreground or Foreground()
        self.bridge = bridge
        self.data_dir = data_dir
        self.dense_style = dense_style
        self._run_lock = anyio.Lock()
        #: project -> when its latest index run started: :meth:`embed_pending` embeds the
        #: chunks written since then first (set by whoever starts the run).
        self.recent: dict[str, float] = {}
        #: Chunk results held by the current or last run (see :class:`BatchGauge`).
        self.gauge = BatchGauge()
        self._symbols: dict[str, SymbolTable] = {}

    # ------------------------------------------------------------------ helpers

    def manifest_paths(self, root: Path) -> ManifestPaths:
        return ManifestPaths.under(self.data_dir, project_id_for(root))

    def symbol_table(self, project: str) -> SymbolTable:
        """The project's symbol table, which every run keeps in step with the manifest."""
        if project not in self._symbols:
            self._symbols[project] = SymbolTable(
                symbols_path(self.data_dir, project), read_only=self.store.read_only
            )
        return self._symbols[project]

    def rebuild_manifest_from_store(self, root: Path) -> Manifest:
        """A manifest describing exactly what the store holds for this project. Files whose
        points disagree (mixed file hashes, missing chunks) get an empty hash so the next scan
        sees them as changed."""
        project = project_id_for(root)
        by_path: dict[str, list[dict[str, Any]]] = defaultdict(list)
        ids: dict[str, list[str]] = defaultdict(list)
        for hit in self.store.scroll_all(code_filter(project), page=SCROLL_PAGE):
            path = str(hit.payload.get("path"))
            by_path[path].append(hit.payload)
            ids[path].append(hit.id)
        manifest = Manifest(project=project, root=str(root))
        for path, payloads in by_path.items():
            first = payloads[0]
            hashes = {p.get("file_hash") for p in payloads}
            complete = len(hashes) == 1 and all(
                p.get("file_chunks") == len(payloads) for p in payloads
            )
            manifest.files[path] = FileRecord(
                hash=str(first.get("file_hash")) if complete else "",
                size=int(first.get("file_size") or 0),
                mtime_ns=int(first.get("file_mtime_ns") or 0) if complete else 0,
                language=str(first.get("language") or "text"),
                chunks=sorted(ids[path]),
            )
        return manifest

    def _load_or_recover(
        self, root: Path, paths: ManifestPaths, report: IndexReport, full: bool
    ) -> Manifest:
        project = paths.project
        if not full:
            with contextlib.suppress(ManifestError):
                loaded = paths.load()
                if loaded is not None and loaded.text_version != TEXT_VERSION:
                    full = True
                    report.warnings.append(
                        f"the index was built with text version {loaded.text_version} and this "
                        f"codeloci builds version {TEXT_VERSION}: rebuilt it"
                    )
                elif loaded is not None and loaded.payload_version != PAYLOAD_VERSION:
                    full = True
                    report.warnings.append(
                        f"the index was built with payload version {loaded.payload_version} "
                        f"and this codeloci builds version {PAYLOAD_VERSION}: rebuilt it"
                    )
        if full:
            self.store.delete_where(code_filter(project))
            paths.remove()
            report.warnings.append("full re-index: dropped this project's code points")
            return Manifest(project=project, root=str(root))
        reason: str | None = None
        manifest: Manifest | None = None
        try:
            manifest = paths.load()
        except ManifestError as exc:
            reason = f"{exc}; rebuilt it from the store"
        if paths.dirty:
            reason = "an earlier index run was interrupted; reconciled the store with the files"
        elif manifest is None and reason is None:
            if self.store.count(code_filter(project)) == 0:
                return Manifest(project=project, root=str(root))
            reason = "the index manifest was missing; rebuilt it from the store"
        elif manifest is not None:
            stored = self.store.count(code_filter(project))
            if stored != manifest.chunk_count:
                reason = (
                    f"the store holds {stored} code chunks for this project but the manifest "
                    f"lists {manifest.chunk_count}; reconciled"
                )
        if reason is None and manifest is not None:
            return manifest
        assert reason is not None
        log.warning("%s: %s", root, reason)
        report.warnings.append(reason)
        return self.rebuild_manifest_from_store(root)

    # ------------------------------------------------------------------ the run

    async def index_repository(
        self,
        root: Path,
        *,
        progress: ProgressFn | None = None,
        embed: bool = True,
        full: bool = False,
    ) -> IndexReport:
        """Index ``root``; with ``embed=False`` the dense vectors are left pending (see
        :meth:`embed_pending`). Runs for one store are serialised."""
        root = Path(root).resolve()
        async with self._run_lock:
            report = await self._index(root, progress, full)
        if embed:
            start = time.monotonic()
            report.embedded = await anyio.to_thread.run_sync(self.embed_pending, root, progress)
            _timed(report, "embed", start)
        report.pending = self.store.count(
            with_vector(code_filter(report.project), DENSE_VECTOR, False)
        )
        return report

    async def _index(self, root: Path, progress: ProgressFn | None, full: bool) -> IndexReport:
        paths = self.manifest_paths(root)
        project = paths.project
        report = IndexReport(root=str(root), project=project)
        state = IndexProgress()
        notify = progress or (lambda _: None)
        run_start = time.monotonic()

        start = time.monotonic()
        previous = await anyio.to_thread.run_sync(self._load_or_recover, root, paths, report, full)
        _timed(report, "manifest_load", start)

        start = time.monotonic()
        args: dict[str, Any] = {"root": str(root), "previous": previous.previous()}
        if previous.files:
            # Only what differs comes back: a no-op rescan of a large repository stays small.
            args["changes_only"] = True
        try:
            scan = await self.bridge.scan(args)
        except ToolCallFailed as exc:
            raise IndexingError(str(exc)) from None
        _timed(report, "scan", start)
        entries: dict[str, FileEntry] = {f["path"]: f for f in scan["files"]}
        added, changed = list(scan["added"]), list(scan["changed"])
        removed = sorted(scan["removed"]) if previous.files else []
        gone = set(removed)
        for path, record in previous.files.items():
            if path not in entries and path not in gone:
                # Unchanged and untouched: not listed by the scan; its record stands.
                entries[path] = FileEntry(
                    path=path,
                    language=record.language,
                    size=record.size,
                    mtime_ns=record.mtime_ns,
                    hash=record.hash,
                )
        if not previous.files:
            added, changed = sorted(entries), []
        report.files, report.added, report.changed = len(entries), len(added), len(changed)
        report.removed = len(removed)
        report.unchanged = len(entries) - len(added) - len(changed)
        state.files_scanned = len(entries)
        state.files_to_chunk = len(added) + len(changed)
        notify(state)

        new = Manifest(project=project, root=str(root), last_run=previous.last_run)
        if not previous.files:
            await anyio.to_thread.run_sync(self.symbol_table(project).clear)
        redo = set(added) | set(changed)
        for path, entry in entries.items():
            old = previous.files.get(path)
            if old is not None and path not in redo:
                old.size, old.mtime_ns = int(entry["size"]), int(entry["mtime_ns"])
                new.files[path] = old

        work = added + changed
        if work or removed or paths.dirty:
            paths.mark_dirty()
        state.stage = "chunk"
        # Files known to the old manifest may hold stale points; new ones only after a crash,
        # and then the rebuilt manifest lists them.
        known = set(previous.files)
        gauge = self.gauge = BatchGauge()
        # A zero-size buffer: the next result waits in `send` until the writer takes it, and
        # only then is the one after it asked for.
        send, receive = anyio.create_memory_object_stream[tuple[int, ChunkResult]](
            MAX_BATCHES_HELD - 2
        )

        async def produce() -> None:
            async with send:
                for batch in _batches(work, entries):
                    await self.foreground.pause_async()  # its reply is parsed in one piece
                    start = time.monotonic()
                    try:
                        result = await self.bridge.chunk(
                            {"paths": batch, "root": str(root), "symbols": True}
                        )
                    except ToolCallFailed as exc:
                        raise IndexingError(str(exc)) from None
                    _timed(report, "chunk", start)
                    gauge.hold(result)
                    await send.send((len(batch), result))
                    del result

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(produce)
                async with receive:
                    async for files, result in receive:
                        # The symbol rows are written beside the points, in a thread of their
                        # own: SQLite works without the GIL, so its time hides in the points'.
                        async with anyio.create_task_group() as both:
                            both.start_soon(self._write_symbols, project, result, report)
                            await anyio.to_thread.run_sync(
                                self._write_batch, result, entries, known, new, report, state
                            )
                        gauge.release(result)
                        del result
                        _give_back_freed_memory()
                        state.files_chunked += files
                        notify(state)
        except BaseExceptionGroup as group:
            raise _first_error(group) from None

        if removed:
            start = time.monotonic()
            await anyio.to_thread.run_sync(self._delete_files, project, removed, report)
            _timed(report, "delete", start)
        start = time.monotonic()
        await self._symbols_in_step(root, new)
        _timed(report, "symbols", start)

        start = time.monotonic()
        new.last_run = {
            "finished_at": time.time(),
            "seconds": round(time.monotonic() - run_start, 3),
            "files": report.files,
            "added": report.added,
            "changed": report.changed,
            "removed": report.removed,
            "chunks_written": report.chunks_written,
            "errors": report.errors[:100],
            "warnings": report.warnings[:20],
        }
        await anyio.to_thread.run_sync(paths.save, new)
        paths.clear_dirty()
        _timed(report, "manifest_write", start)
        report.seconds["searchable"] = round(time.monotonic() - run_start, 4)
        state.stage = "done"
        notify(state)
        return report

    def _write_batch(
        self,
        result: ChunkResult,
        entries: dict[str, FileEntry],
        known: set[str],
        new: Manifest,
        report: IndexReport,
        state: IndexProgress,
    ) -> None:
        project = new.project
        now = time.time()
        by_file: dict[str, list[Chunk]] = defaultdict(list)
        for chunk in result["chunks"]:
            by_file[chunk["path"]].append(chunk)
        failed = [e["path"] for e in result["errors"]]
        for err in result["errors"]:
            report.errors.append({"path": str(err["path"]), "error": str(err["error"])})

        start = time.monotonic()
        points: list[PointIn] = []
        records: dict[str, FileRecord] = {}
        pause = self.foreground.pause
        for info in result["files"]:
            pause()
            path = info["path"]
            chunks = by_file.get(path, [])
            scanned = entries.get(path)
            # A file changed between scan and chunk is recorded with no mtime: the next scan
            # sees it as changed again.
            fresh = scanned is not None and scanned["hash"] == info["hash"]
            mtime_ns = scanned["mtime_ns"] if scanned is not None and fresh else 0
            file_meta = {"hash": info["hash"], "size": info["bytes"], "mtime_ns": mtime_ns}
            ids: list[str] = []
            report.paths.add(path)
            pieces_of = definitions(chunks)
            for n, chunk in enumerate(chunks):
                for name in (chunk.get("qualified_name"), chunk.get("name")):
                    if name:
                        report.symbols.add(str(name))
                pid = point_id(chunk["id"], project)
                if pid in ids:
                    continue  # identical chunks of one file share an id
                ids.append(pid)
                payload = point_payload(
                    chunk,
                    project=project,
                    file=file_meta,
                    index=n,
                    file_chunks=0,
                    now=now,
                    definition=pieces_of[n],
                )
                points.append(PointIn(pid, None, payload, sparse_document(payload)))
            for p in points[len(points) - len(ids) :]:
                p.payload["file_chunks"] = len(ids)
            records[path] = FileRecord(
                hash=info["hash"],
                size=info["bytes"],
                mtime_ns=mtime_ns,
                language=info["language"],
                chunks=ids,
            )
        _timed(report, "sparse", start)

        start = time.monotonic()
        for i in range(0, len(points), UPSERT_BATCH):
            pause()
            self.store.upsert(points[i : i + UPSERT_BATCH])
        _timed(report, "upsert", start)
        report.chunks_written += len(points)
        state.chunks += len(points)

        start = time.monotonic()
        for path, record in records.items():
            if path in known:
                flt = code_filter(project, Match("path", path))
                stale = Filter(must=flt.must, must_not=(HasId(tuple(record.chunks)),))
                before = self.store.count(flt)
                self.store.delete_where(stale)
                report.chunks_deleted += max(0, before - len(record.chunks))
            new.files[path] = record
        if failed:
            self._delete_files(project, failed, report)
            for path in failed:  # remembered with no chunks: retried only once it changes
                entry = entries.get(path)
                if entry is not None:
                    new.files[path] = FileRecord(
                        hash=str(entry["hash"]),
                        size=int(entry["size"]),
                        mtime_ns=int(entry["mtime_ns"]),
                        language=str(entry.get("language") or "text"),
                        chunks=[],
                    )
        _timed(report, "delete", start)

    async def _write_symbols(self, project: str, result: ChunkResult, report: IndexReport) -> None:
        start = time.monotonic()
        table = self.symbol_table(project)
        await anyio.to_thread.run_sync(table.update, result["files"], self.foreground.pause)
        _timed(report, "symbols", start)

    async def _symbols_in_step(self, root: Path, new: Manifest) -> None:
        """The symbol table lists exactly the manifest's files: rows of files it no longer
        lists go, files it lists with chunks but the table lacks (a new or rebuilt table) are
        chunked again for their symbols alone."""
        table = self.symbol_table(new.project)
        await anyio.to_thread.run_sync(table.retain, list(new.files))
        listed = [p for p, record in new.files.items() if record.chunks]
        missing = await anyio.to_thread.run_sync(table.missing, listed)
        for i in range(0, len(missing), CHUNK_BATCH):
            batch = missing[i : i + CHUNK_BATCH]
            try:
                result = await self.bridge.chunk(
                    {"paths": batch, "root": str(root), "symbols": True}
                )
            except ToolCallFailed as exc:
                raise IndexingError(str(exc)) from None
            await anyio.to_thread.run_sync(table.update, result["files"])

    def _delete_files(self, project: str, paths: list[str], report: IndexReport) -> None:
        self.symbol_table(project).remove(paths)
        for i in range(0, len(paths), DELETE_BATCH):
            flt = file_filter(project, paths[i : i + DELETE_BATCH])
            report.chunks_deleted += self.store.count(flt)
            self.store.delete_where(flt)

    # ------------------------------------------------------------------ dense vectors

    def embed_pending(
        self,
        root: Path,
        progress: ProgressFn | None = None,
        *,
        stop: Any = None,
        ordered: bool = True,
    ) -> int:
        """Embed this project's chunks that have no dense vector yet; returns how many.
        ``stop`` (a ``threading.Event``) ends the loop between batches.

        Batches follow :func:`~codeloci.indexing.points.embed_order`: the chunks the latest
        index run wrote (:attr:`recent`) first, definitions before the code between them, so
        search by meaning is useful long before the last chunk has its vector. A later index
        run's chunks (an edit while a large backlog is embedded) go ahead of the backlog from
        the next batch on. ``ordered=False`` takes the chunks in store order."""
        project = project_id_for(Path(root).resolve())
        flt = code_filter(project)
        state = IndexProgress(stage="embed")
        waiting = with_vector(flt, DENSE_VECTOR, False)
        state.to_embed = self.store.count(waiting)
        state.chunks = self.store.count(flt)
        done = 0
        since: float | None = None
        tiers = [waiting]
        tier = 0
        while stop is None or not stop.is_set():
            self.foreground.pause()
            if ordered and (tier == 0 or self.recent.get(project) != since):
                since = self.recent.get(project)
                tiers, tier = embed_order(project, since), 0
            hits, _ = self.store.scroll(flt=tiers[tier], limit=EMBED_BATCH)
            if not hits:
                if tier + 1 < len(tiers):
                    tier += 1  # empty until a new run writes chunks (a new `since`)
                    continue
                break
            texts = [dense_text(h.payload, self.dense_style) for h in hits]
            vectors = np.asarray(self.embedder.embed(texts), dtype=np.float32)
            # Written batch by batch: an outage or a crash loses at most this batch's work.
            updated = self.store.set_dense([h.id for h in hits], list(vectors))
            done += updated
            state.embedded = done
            if progress is not None:
                progress(state)
            if updated == 0 and self.store.get([h.id for h in hits]):
                raise IndexingError("dense vectors could not be written to the store")
        return done
