"""``codeloci index PATH``, ``codeloci find "QUERY"`` and ``codeloci watch PATH``.

Wiring (one line in ``codeloci.cli``): ``SUBCOMMANDS.update(indexing_cli.SUBCOMMANDS)``. The
handlers take the namespace built by ``codeloci.cli`` (its common options: ``--data-dir``,
``--project-root``, ``--rust-server``, ``--read-only``, ``--log-level`` ...). ``index`` and
``find`` run in the per-user service (:mod:`codeloci.service`, started when none runs), so they
work while sessions are open; with ``--no-service`` they open the store
themselves. Progress and logs go to stderr; ``find`` prints results on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import anyio

from codeloci.bridge import RustBridge
from codeloci.config import MAX_CALL_TIMEOUT_SECONDS as MAX_CALL_TIMEOUT
from codeloci.config import Settings
from codeloci.embedder import LazyEmbedder
from codeloci.indexing.models import LANGUAGES, CodeSearchInput, CodeSearchResult, IndexResult
from codeloci.indexing.pipeline import IndexingError, IndexReport
from codeloci.indexing.progress import IndexProgress
from codeloci.indexing.service import IndexingService, repository_root
from codeloci.memory import memory_collection_spec
from codeloci.models import DEFAULT_K, DEFAULT_TOKEN_BUDGET
from codeloci.service.client import ServiceError
from codeloci.store import StoreError, open_store

if TYPE_CHECKING:
    from codeloci.service.client import ServiceClient

__all__ = ["SUBCOMMANDS", "cmd_find", "cmd_index", "cmd_watch", "format_results"]

#: Seconds between progress-bar redraws.
REDRAW_SECONDS = 0.2


def _settings(args: argparse.Namespace, root: Path, **session: Any) -> Settings:
    settings = Settings.from_sources(
        data_dir=getattr(args, "data_dir", None),
        project_root=root,
        rust_server=getattr(args, "rust_server", None),
        read_only=bool(getattr(args, "read_only", False)),
        service=getattr(args, "service", None),
    )
    # A command is its own session: it neither indexes at start nor watches.
    return replace(settings, index_on_start=False, watch=False, results="structured", **session)


def _service_client(settings: Settings) -> ServiceClient | None:
    """A session with the per-user service (started if needed), or None when this command
    runs in-process (``--no-service``)."""
    if not settings.service:
        return None
    from codeloci.service.client import ServiceClient, ensure_service

    client = ServiceClient(ensure_service(settings), settings)
    client.initialize("codeloci-cli")
    return client


def _progress_line(params: dict[str, Any]) -> str:
    message = params.get("message")
    if message:
        return str(message)
    total = params.get("total")
    done = params.get("progress")
    return f"{done}/{total}" if total else str(done)


@asynccontextmanager
async def _service(args: argparse.Namespace, root: Path) -> AsyncIterator[IndexingService]:
    settings = _settings(args, root)
    embedder = LazyEmbedder(threads=settings.embed_threads, spin=settings.embed_spin)
    store = open_store(
        memory_collection_spec(embedder),
        data_dir=settings.data_dir,
        qdrant_url=settings.qdrant_url,
        qdrant_api_key=settings.qdrant_api_key,
        read_only=settings.read_only,
    )
    try:
        async with RustBridge(settings.rust_server, [root]) as bridge:
            service = IndexingService(store, embedder, bridge, settings.data_dir)
            try:
                yield service
            finally:
                service.close()
    finally:
        store.close()


class ProgressBar:
    """One self-overwriting status line on a terminal, one line per update otherwise."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self._last = 0.0

    def __call__(self, state: IndexProgress) -> None:
        now = time.monotonic()
        if state.stage != "done" and now - self._last < REDRAW_SECONDS:
            return
        self._last = now
        if self.tty:
            self.stream.write("\r\x1b[2K" + state.line())
        else:
            self.stream.write(state.line() + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _summary(report: IndexReport | IndexResult) -> str:
    stages = ", ".join(f"{k} {v:.2f}s" for k, v in report.seconds.items())
    return (
        f"indexed {report.root}: {report.files} files ({report.added} added, {report.changed} "
        f"changed, {report.removed} removed), {report.chunks_written} chunks written, "
        f"{report.chunks_deleted} deleted, {report.embedded} embedded, {report.pending} pending; "
        f"{stages}"
    )


def _index_via(client: ServiceClient, args: argparse.Namespace) -> int:
    """``codeloci index`` in the service: the ``index_repository`` tool, progress to stderr.
    The service never builds the HNSW index (it would stall every session meanwhile)."""
    arguments = {"wait_for_embedding": not args.no_embed, "full": args.full}
    try:
        result = client.call_tool(
            "index_repository",
            arguments,
            on_progress=lambda p: print(_progress_line(p), file=sys.stderr, flush=True),
        )
    except ServiceError as exc:
        print(f"codeloci index: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close_session()
    return _report(IndexResult.model_validate(result), result, as_json=args.json)


def _report(report: IndexReport | IndexResult, data: dict[str, Any], *, as_json: bool) -> int:
    """What ``codeloci index`` prints of a run: warnings, errors, the summary (stderr), and
    the report as JSON (stdout) when asked."""
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for err in report.errors[:20]:
        print(f"error: {err['path']}: {err['error']}", file=sys.stderr)
    print(_summary(report), file=sys.stderr)
    if as_json:
        print(json.dumps(data, indent=2))
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    root = repository_root(Path(args.path))
    try:
        # index_repository's deadline is a multiple of the call timeout: the longest there is
        client = _service_client(_settings(args, root, call_timeout_seconds=MAX_CALL_TIMEOUT))
    except ServiceError as exc:
        print(f"codeloci index: {exc}", file=sys.stderr)
        return 1
    if client is not None:
        return _index_via(client, args)
    bar = ProgressBar()

    async def run() -> IndexReport:
        async with _service(args, root) as service:
            report = await service.index.index_repository(
                root, progress=bar, embed=not args.no_embed, full=args.full
            )
            wrote = report.chunks_written + report.embedded + report.chunks_deleted > 0
            if wrote and report.pending == 0 and not getattr(args, "no_optimize", False):
                # Every chunk has its dense vector: build the HNSW index now, while nothing
                # waits on this process (a server cannot: the build holds the GIL). A run
                # that wrote nothing (a no-op re-index) has nothing to rebuild.
                start = time.monotonic()
                await anyio.to_thread.run_sync(service.store.optimize)
                report.seconds["optimize"] = round(time.monotonic() - start, 3)
            return report

    try:
        report = anyio.run(run)
    except (IndexingError, StoreError) as exc:
        bar.finish()
        print(f"codeloci index: {exc}", file=sys.stderr)
        return 1
    bar.finish()
    return _report(report, report.as_dict(), as_json=args.json)


def format_results(result: CodeSearchResult) -> str:
    out: list[str] = []
    for n, hit in enumerate(result.results, start=1):
        flags = " [stale]" if hit.stale else ""
        flags += " [snippet]" if hit.truncated else ""
        symbol = f" {hit.symbol}" if hit.symbol else ""
        out.append(
            f"{n}. {hit.path}:{hit.start_line}-{hit.end_line} {hit.kind}{symbol} "
            f"({hit.language}, score {hit.score:.4f}){flags}"
        )
        out.extend("    " + line for line in hit.content.rstrip("\n").splitlines())
        out.append("")
    if not result.results:
        out.append("no results")
    if result.pending:
        out.append(f"({result.pending} chunks not embedded yet: matched by words only)")
    return "\n".join(out)


def cmd_find(args: argparse.Namespace) -> int:
    root = repository_root(Path(args.path or getattr(args, "project_root", None) or "."))
    inp = CodeSearchInput(
        query=args.query,
        k=args.k,
        path_glob=args.glob,
        language=args.language,
        kind=args.kind,
        token_budget=args.budget,
        mode=args.mode,
    )

    async def run() -> CodeSearchResult:
        async with _service(args, root) as service:
            return await anyio.to_thread.run_sync(service.search, root, inp)

    try:
        client = _service_client(_settings(args, root))
        if client is not None:
            try:
                # a person asked: the retrieval gate does not decide here
                arguments = {**inp.model_dump(exclude_none=True), "force": True}
                found = client.call_tool("code_search", arguments)
            finally:
                client.close_session()
            result = CodeSearchResult.model_validate(found)
        else:
            result = anyio.run(run)
    except (StoreError, ServiceError) as exc:
        print(f"codeloci find: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        print(format_results(result))
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    from codeloci.indexing.watch import watch_repository

    root = repository_root(Path(args.path))

    def on_run(report: IndexReport) -> None:
        if report.added or report.changed or report.removed or report.warnings:
            print(_summary(report), file=sys.stderr, flush=True)

    async def run() -> None:
        async with _service(args, root) as service:
            print(f"watching {root} (Ctrl-C to stop)", file=sys.stderr, flush=True)
            await watch_repository(service, root, on_run=on_run)

    settings = replace(_settings(args, root), index_on_start=True, watch=True)
    try:
        client = _service_client(settings)
        if client is not None:
            # The service indexes and watches the root (once, however many ask); this process
            # only keeps it up (the service stays while a client process lives).
            client.call_tool("index_status", {})
            print(f"watching {root} in the codeloci service (Ctrl-C to stop)", file=sys.stderr)
            while True:
                time.sleep(3600)
    except ServiceError as exc:
        print(f"codeloci watch: {exc}", file=sys.stderr)
        return 1

    try:
        anyio.run(run)
    except StoreError as exc:
        print(f"codeloci watch: {exc}", file=sys.stderr)
        return 1
    return 0


def _index_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", nargs="?", default=".", help="repository (default: .)")
    p.add_argument("--full", action="store_true", help="drop this repository's index first")
    p.add_argument(
        "--no-embed", action="store_true", help="leave embeddings pending (lexical search only)"
    )
    p.add_argument(
        "--no-optimize",
        action="store_true",
        help="skip building the vector search index after a fully embedded run",
    )
    p.add_argument("--json", action="store_true", help="print the run's report as JSON")


def _find_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("query", help="words or an identifier")
    p.add_argument("--path", help="repository (default: --project-root or .)")
    p.add_argument("-k", type=int, default=DEFAULT_K, help=f"results (default {DEFAULT_K})")
    p.add_argument("--glob", help="only paths matching this glob, e.g. 'src/*.py'")
    p.add_argument("--language", choices=LANGUAGES)
    p.add_argument("--kind", help="function, method, class, ...")
    p.add_argument("--budget", type=int, default=DEFAULT_TOKEN_BUDGET, help="token budget")
    p.add_argument("--mode", choices=("hybrid", "lexical", "dense"), default="hybrid")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def _watch_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", nargs="?", default=".", help="repository (default: .)")


#: Entries for ``codeloci.cli.SUBCOMMANDS``: name -> (help, handler, argument adder).
SUBCOMMANDS: dict[
    str,
    tuple[str, Callable[[argparse.Namespace], int], Callable[[argparse.ArgumentParser], None]],
] = {
    "index": ("index a repository for code search (incremental)", cmd_index, _index_args),
    "find": ("search indexed code", cmd_find, _find_args),
    "watch": ("re-index a repository whenever its files change", cmd_watch, _watch_args),
}
