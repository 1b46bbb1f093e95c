"""Keep an index current: re-index a repository when its files change (``watchfiles``).

Bursts of events (a save that writes a temporary file and renames it, a ``git checkout``
touching hundreds of files, a formatter rewriting a tree) are debounced into one run: the
watcher yields once no new event has arrived for :data:`QUIET_MS` (at most :data:`MAX_WAIT_MS`
after the first). Each run is an ordinary incremental ``index_repository`` (the Rust scan only
re-reads files whose size or mtime changed), so renames, deletes, branch switches and atomic
saves all reduce to "added / changed / removed" and need no special handling. Lexical search
sees the change when the run returns; embeddings follow in the background.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from watchfiles import Change, DefaultFilter, awatch

from codeloci.indexing.pipeline import IndexingError, IndexReport
from codeloci.indexing.service import IndexingService
from codeloci.store import StoreError

__all__ = ["CATCH_UP_MS", "MAX_WAIT_MS", "QUIET_MS", "watch_repository"]

log = logging.getLogger(__name__)

#: Yield a batch once no event arrived for this long...
QUIET_MS = 50
#: ...or this long after the batch's first event, whichever comes first.
MAX_WAIT_MS = 1000
#: With no event for this long the watcher wakes (an empty batch); the first such wake-up
#: runs the catch-up index after the initial one.
CATCH_UP_MS = 2000


class _Filter(DefaultFilter):
    """watchfiles' defaults (.git, __pycache__, node_modules, editor swap files, ...) plus
    the data directory when it lies inside the repository."""

    def __init__(self, extra: list[Path]) -> None:
        super().__init__()
        self._extra = [str(p) for p in extra]

    def __call__(self, change: Change, path: str) -> bool:
        if any(path == e or path.startswith(e + "/") for e in self._extra):
            return False
        return bool(super().__call__(change, path))


async def watch_repository(
    service: IndexingService,
    root: Path,
    *,
    on_run: Callable[[IndexReport], Any] | None = None,
    stop_event: anyio.Event | None = None,
    ready: anyio.Event | None = None,
    initial: bool = True,
) -> None:
    """Index ``root`` (when ``initial``) and then again after every burst of changes, until
    ``stop_event`` is set or the task is cancelled. Errors of one run are logged and the
    watcher goes on."""
    root = Path(root).resolve()
    data_dir = Path(service.index.data_dir).resolve()

    async def run_once() -> None:
        try:
            report = await service.index_repository(root, wait_for_embedding=False)
        except (IndexingError, StoreError) as exc:  # one run failed; the watcher goes on
            log.warning("re-index of %s failed: %s", root, exc)
            return
        if on_run is not None:
            on_run(report)

    if initial:
        await run_once()
    if ready is not None:
        ready.set()
    caught_up = not initial
    async for changes in awatch(
        root,
        watch_filter=_Filter([data_dir]),
        debounce=MAX_WAIT_MS,
        step=QUIET_MS,
        stop_event=stop_event,
        recursive=True,
        rust_timeout=CATCH_UP_MS,
        yield_on_timeout=True,
    ):
        if not changes:
            # The watcher is certainly running now: one more run catches what changed between
            # the initial run's scan and the watcher's start (nothing reports those events).
            if not caught_up:
                caught_up = True
                await run_once()
            continue
        log.debug("%d file events under %s", len(changes), root)
        await run_once()
