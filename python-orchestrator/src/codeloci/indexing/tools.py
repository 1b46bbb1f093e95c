"""The MCP tools ``index_repository``, ``code_search`` and ``index_status``.

Wiring (one line in ``codeloci.server``): append :func:`register` to ``REGISTRATIONS``.
Code chunks are stored in the memory store the server already has open, as PROJECT_CONTEXT
memories of kind ``code`` that the memory tools return only when ``kinds`` names ``code``.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from codeloci.indexing.models import (
    CodeSearchInput,
    CodeSearchResult,
    IndexInput,
    IndexResult,
    IndexStatusInput,
    IndexStatusResult,
)
from codeloci.indexing.pipeline import IndexingError, IndexReport
from codeloci.indexing.progress import IndexProgress
from codeloci.indexing.service import repository_root
from codeloci.render import render_code_search
from codeloci.tools import ToolError, ToolRegistry, ToolSpec, progress_token

if TYPE_CHECKING:
    from codeloci.app import AppContext

__all__ = ["register"]

DESCRIPTIONS = {
    "index_repository": "Index the repository incrementally: lexical search works on return, "
    "embeddings follow in the background.",
    "code_search": "Search this repository's code by meaning or identifier (embeddings + BM25): "
    "definitions with path, lines, symbol, signature, code; stale: changed since indexed.",
    "index_status": "Files, chunks, embedded and pending chunks of the index; last run, errors.",
}


def _root(app: AppContext, path: str | None) -> Path:
    base = Path(app.settings.project_root)
    if path is None:
        return base.resolve()
    try:
        return repository_root(base / Path(path).expanduser())
    except ValueError as exc:
        raise ToolError(f"path: {exc}") from None


#: Seconds between progress notifications of an index run (when the caller asked for them).
PROGRESS_SECONDS = 0.5


async def _index(app: AppContext, args: IndexInput, ctx: Any) -> IndexResult:
    service = await app.indexing()
    latest: list[IndexProgress] = []

    def note(state: IndexProgress) -> None:
        latest[:] = [state]

    async def report_progress() -> None:
        # The pipeline calls ``note`` synchronously; its latest state goes out periodically.
        while True:
            await anyio.sleep(PROGRESS_SECONDS)
            if latest:
                state = latest[0]
                done, total = (
                    (state.embedded, state.to_embed)
                    if state.stage == "embed"
                    else (state.files_chunked, state.files_to_chunk)
                )
                await ctx.session.report_progress(done, total or None, state.line())

    outcome: list[IndexReport | Exception] = []
    root = _root(app, args.path)
    async with anyio.create_task_group() as tg:
        if progress_token(ctx) is not None:
            tg.start_soon(report_progress)
        try:
            outcome.append(
                await service.index_repository(
                    root, wait_for_embedding=args.wait_for_embedding, full=args.full, progress=note
                )
            )
        except Exception as exc:  # raised below, outside the task group (never wrapped)
            outcome.append(exc)
        tg.cancel_scope.cancel()
    result = outcome[0]
    if isinstance(result, IndexingError):
        # A user-facing failure (a path outside the repository, an unreadable root): say so.
        raise ToolError(str(result)) from None
    if isinstance(result, Exception):
        raise result
    return IndexResult.from_report(result.as_dict())


def _skipped_search(args: CodeSearchInput) -> CodeSearchResult:
    """code_search's answer when the retrieval gate skips the search (the server asks it)."""
    return CodeSearchResult(
        results=[], tokens_used=0, token_budget=args.token_budget, omitted=0, pending=0
    )


async def _search(app: AppContext, args: CodeSearchInput, _: Any) -> CodeSearchResult:
    service = await app.indexing()
    root = _root(app, None)
    # A search only reads: the per-call deadline may abandon it.
    return await anyio.to_thread.run_sync(
        partial(service.search, root, args), abandon_on_cancel=True
    )


async def _status(app: AppContext, args: IndexStatusInput, _: Any) -> IndexStatusResult:
    service = await app.indexing()
    return await anyio.to_thread.run_sync(
        service.status, _root(app, args.path), abandon_on_cancel=True
    )


def register(registry: ToolRegistry) -> None:
    d = DESCRIPTIONS
    registry.add(
        ToolSpec(
            "index_repository",
            d["index_repository"],
            IndexInput,
            IndexResult,
            _index,
            writes=True,
            deadline="index",
        )
    )
    registry.add(
        ToolSpec(
            "code_search",
            d["code_search"],
            CodeSearchInput,
            CodeSearchResult,
            _search,
            gated=_skipped_search,
            render=render_code_search,
        )
    )
    registry.add(
        ToolSpec("index_status", d["index_status"], IndexStatusInput, IndexStatusResult, _status)
    )
