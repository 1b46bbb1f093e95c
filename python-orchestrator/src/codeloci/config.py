"""Settings from command-line flags and environment variables.

Every environment variable codeloci reads is read here (a test keeps it so), and the values
are passed down from :class:`Settings`. Precedence for every setting: explicit flag, then
environment variable, then default.

=====================  ==========================  =============================================
setting                flag                        environment
=====================  ==========================  =============================================
data directory         ``--data-dir DIR``          ``CODELOCI_DATA_DIR`` (default
                                                   ``$XDG_DATA_HOME/codeloci`` or
                                                   ``~/.local/share/codeloci``)
Qdrant server          —                           ``QDRANT_URL``, ``QDRANT_API_KEY``
read-only              ``--read-only``             ``CODELOCI_READ_ONLY=1``
Rust server command    ``--rust-server CMD``       ``CODELOCI_RUST_SERVER``
project root           ``--project-root DIR``      ``CODELOCI_PROJECT_ROOT`` (default: git
                                                   top level of the working dir, else the dir)
session id             ``--session-id ID``         ``CODELOCI_SESSION_ID`` (default: random
                                                   per server process)
session TTL            ``--session-ttl SECONDS``   ``CODELOCI_SESSION_TTL`` (default 86400)
per-call deadline      ``--call-timeout SECONDS``  ``CODELOCI_CALL_TIMEOUT`` (default 120; 0.1
                                                   to 3600; see :mod:`codeloci.deadline`)
gate threshold         ``--gate-threshold P``      ``CODELOCI_GATE_THRESHOLD`` (0 to 1; default:
                                                   the trained model's)
gate on/off            ``--no-gate``               ``CODELOCI_GATE_ENABLED`` (``1/true/yes/on`` or
                                                   ``0/false/no/off``; default on)
index at start         ``serve --no-index``        ``CODELOCI_INDEX`` (default on for a git
                                                   repository or a chosen project root; off
                                                   when read-only)
watch the project      ``serve --no-watch``        ``CODELOCI_WATCH`` (default on; off when
                                                   read-only; ``--watch PATH`` watches PATH)
search answer format   ``serve --results MODE``    ``CODELOCI_RESULTS`` (auto, structured, text;
                                                   default auto: text for Claude Code)
log level              ``--log-level LEVEL``       ``CODELOCI_LOG_LEVEL`` (default INFO; see
                                                   :func:`resolve_log_level`)
embedder threads       —                           ``CODELOCI_EMBED_THREADS`` (default min(4, CPUs))
embedder spinning      —                           ``CODELOCI_EMBED_SPIN=1`` or ``0`` (default: on
                                                   with more than 2 CPUs)
HTTP bearer token      ``--auth-token-file PATH``  ``CODELOCI_AUTH_TOKEN_FILE`` (``serve --http``;
                                                   see :mod:`codeloci.http_auth`)
HTTP browser origins   ``--allow-origin ORIGIN``   — (repeatable; loopback always allowed)
per-user service       ``--no-service``            ``CODELOCI_SERVICE`` (default on: sessions and
                                                   CLI commands share one service per data dir;
                                                   off: this process owns the store; see
                                                   :mod:`codeloci.service`)
service idle stop      —                           ``CODELOCI_SERVICE_IDLE`` (seconds without a
                                                   live client or work; default 300)
=====================  ==========================  =============================================

The Rust child gets only the variables in :data:`PASSTHROUGH_ENV` from this environment
(:mod:`codeloci.bridge` passes them on).
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_CALL_TIMEOUT_SECONDS",
    "DEFAULT_SERVICE_IDLE_SECONDS",
    "DEFAULT_SESSION_TTL_SECONDS",
    "MAX_CALL_TIMEOUT_SECONDS",
    "MIN_CALL_TIMEOUT_SECONDS",
    "PASSTHROUGH_ENV",
    "RUST_BINARY_NAME",
    "SESSION_FIELDS",
    "Settings",
    "default_data_dir",
    "find_rust_server",
    "git_toplevel",
    "passthrough_env",
    "project_id_for",
    "resolve_log_level",
    "resolve_project_root",
    "service_environment",
]

RUST_BINARY_NAME = "codeloci-ast"
DEFAULT_SESSION_TTL_SECONDS = 24 * 3600
#: CALL_TIMEOUT_SECONDS: how long one tool call may run before it is stopped with an error.
DEFAULT_CALL_TIMEOUT_SECONDS = 120.0
MIN_CALL_TIMEOUT_SECONDS = 0.1
MAX_CALL_TIMEOUT_SECONDS = 3600.0
#: How long the per-user service stays up with no live client, request or background work.
DEFAULT_SERVICE_IDLE_SECONDS = 300.0
#: How search answers go out (``--results``).
RESULT_MODES = ("auto", "structured", "text")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
#: Environment variables passed through to the Rust child besides the SDK's safe defaults.
PASSTHROUGH_ENV = ("RUST_LOG", "RUST_BACKTRACE", "CODELOCI_AST_LOG", "LANG", "LC_ALL")


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def _env_bool(name: str) -> bool | None:
    """A strict yes/no variable: ``None`` when unset or empty, an error when unreadable."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return None
    if value in _TRUE or value in _FALSE:
        return value in _TRUE
    raise ValueError(f"{name}={value!r}: expected true/false (1/0, yes/no, on/off)")


def _env_number(name: str, kind: type[int] | type[float]) -> int | float | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a number") from None


def resolve_log_level(flag: str | None = None) -> str:
    """``--log-level``, else ``CODELOCI_LOG_LEVEL``, else ``INFO`` (upper-cased). Logging is
    configured from this before a command builds its :class:`Settings`."""
    return (flag or os.environ.get("CODELOCI_LOG_LEVEL") or "INFO").upper()


def passthrough_env() -> dict[str, str]:
    """The variables of :data:`PASSTHROUGH_ENV` set in this environment (for the Rust child)."""
    return {k: os.environ[k] for k in PASSTHROUGH_ENV if k in os.environ}


def default_data_dir() -> Path:
    """``CODELOCI_DATA_DIR``, else ``$XDG_DATA_HOME/codeloci``, else ``~/.local/share/codeloci``."""
    explicit = os.environ.get("CODELOCI_DATA_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "codeloci"


def _dev_checkout_binaries() -> list[Path]:
    """``rust-server/target/{release,debug}/codeloci-ast`` of a source checkout, newest first."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "rust-server" / "Cargo.toml").is_file():
            found = [
                parent / "rust-server" / "target" / profile / RUST_BINARY_NAME
                for profile in ("release", "debug")
            ]
            existing = [p for p in found if p.is_file() and os.access(p, os.X_OK)]
            return sorted(existing, key=lambda p: p.stat().st_mtime, reverse=True)
    return []


def find_rust_server(explicit: str | None = None) -> list[str] | None:
    """The command that starts ``codeloci-ast``, or ``None`` when it cannot be found.

    Order: ``explicit`` (a shell-quoted command line), ``CODELOCI_RUST_SERVER``, the binary next
    to ``sys.executable`` (same virtualenv), ``PATH``, then a dev checkout's
    ``rust-server/target/{release,debug}`` (the more recently built one first).
    """
    command = explicit or os.environ.get("CODELOCI_RUST_SERVER")
    if command:
        return shlex.split(command)
    beside = Path(sys.executable).parent / RUST_BINARY_NAME
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    on_path = shutil.which(RUST_BINARY_NAME)
    if on_path:
        return [on_path]
    dev = _dev_checkout_binaries()
    if dev:
        return [str(dev[0])]
    return None


def resolve_project_root(explicit: str | Path | None = None, cwd: Path | None = None) -> Path:
    """The repository root: ``explicit``, else the git top level of ``cwd``, else ``cwd``."""
    if explicit is not None:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get("CODELOCI_PROJECT_ROOT")
    if env:
        return Path(env).expanduser().resolve()
    return git_toplevel((cwd or Path.cwd()).resolve())


def git_toplevel(start: Path) -> Path:
    """The git top level containing the directory ``start``, else ``start`` itself."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=start,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return start
    top = out.stdout.strip()
    return Path(top).resolve() if out.returncode == 0 and top else start


def project_id_for(root: Path) -> str:
    """A stable id for a repository root: ``p-`` + 16 hex digits of sha256(canonical path)."""
    digest = hashlib.sha256(str(root.resolve()).encode("utf-8")).hexdigest()
    return f"p-{digest[:16]}"


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to start; build with :meth:`from_sources`."""

    data_dir: Path
    project_root: Path
    rust_server: list[str] | None
    read_only: bool = False
    qdrant_url: str | None = None
    qdrant_api_key: str | None = field(default=None, repr=False)
    session_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    session_ttl_seconds: int = DEFAULT_SESSION_TTL_SECONDS
    gate_threshold: float | None = None
    gate_enabled: bool = True
    #: ``serve``: index the project root at start, then keep it current (a Settings built in
    #: code does neither unless asked; ``from_sources`` turns both on by default)
    index_on_start: bool = False
    watch: bool = False
    #: ``serve``: search answers as structured JSON or rendered text (``auto``: text for clients
    #: that show the model only the JSON, see ``codeloci.server.TEXT_CLIENTS``)
    results: str = "auto"
    #: what ``watch`` watches (default: the project root)
    watch_root: Path | None = None
    call_timeout_seconds: float = DEFAULT_CALL_TIMEOUT_SECONDS
    embed_threads: int | None = None
    embed_spin: bool | None = None
    #: ``serve --http``: file holding the bearer token every request must present
    auth_token_file: Path | None = None
    #: ``serve --http``: browser origins accepted besides loopback and the bound address
    allowed_origins: tuple[str, ...] = ()
    #: sessions and CLI commands go through the per-user service (``codeloci.service``)
    service: bool = False
    #: the service stops after this long without a live client, a request or background work
    service_idle_seconds: float = DEFAULT_SERVICE_IDLE_SECONDS

    def session_fields(self) -> dict[str, Any]:
        """What one session tells the service about itself (:data:`SESSION_FIELDS`), as JSON
        values."""
        out: dict[str, Any] = {}
        for name in SESSION_FIELDS:
            value = getattr(self, name)
            out[name] = str(value) if isinstance(value, Path) else value
        return out

    def with_session(self, fields: dict[str, Any]) -> Settings:
        """These (the service's) settings with one session's fields; unknown names and wrong
        types are refused with a ValueError."""
        changes: dict[str, Any] = {}
        for name, value in fields.items():
            if name not in SESSION_FIELDS:
                raise ValueError(f"unknown session setting {name!r}")
            if name == "rust_server" and value is not None:
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ValueError("session setting rust_server must be a list of strings")
            if name in ("project_root", "watch_root"):
                if value is not None and not isinstance(value, str):
                    raise ValueError(f"session setting {name} must be a path")
                value = Path(value).resolve() if value is not None else None
                if name == "project_root" and (value is None or not value.is_dir()):
                    raise ValueError(f"project root {value} is not a directory")
            changes[name] = value
        return replace(self, **changes)

    @property
    def project_id(self) -> str:
        return project_id_for(self.project_root)

    @property
    def store_backend(self) -> str:
        return "server" if self.qdrant_url else "embedded"

    @classmethod
    def from_sources(
        cls,
        *,
        data_dir: str | Path | None = None,
        project_root: str | Path | None = None,
        rust_server: str | None = None,
        read_only: bool = False,
        session_id: str | None = None,
        session_ttl_seconds: int | None = None,
        gate_threshold: float | None = None,
        gate_enabled: bool | None = None,
        watch_root: str | Path | None = None,
        index_on_start: bool | None = None,
        watch: bool | None = None,
        results: str | None = None,
        call_timeout_seconds: float | None = None,
        embed_threads: int | None = None,
        embed_spin: bool | None = None,
        auth_token_file: str | Path | None = None,
        allowed_origins: Sequence[str] | None = None,
        service: bool | None = None,
    ) -> Settings:
        """Merge flags (arguments here) over environment variables over defaults."""
        ttl_env = os.environ.get("CODELOCI_SESSION_TTL")
        ttl = session_ttl_seconds
        if ttl is None and ttl_env:
            ttl = int(ttl_env)
        if ttl is not None and ttl <= 0:
            raise ValueError("session TTL must be a positive number of seconds")
        timeout = call_timeout_seconds
        timeout_env = os.environ.get("CODELOCI_CALL_TIMEOUT")
        if timeout is None and timeout_env:
            try:
                timeout = float(timeout_env)
            except ValueError:
                raise ValueError(
                    f"CODELOCI_CALL_TIMEOUT={timeout_env!r} is not a number of seconds"
                ) from None
        timeout = DEFAULT_CALL_TIMEOUT_SECONDS if timeout is None else timeout
        if not MIN_CALL_TIMEOUT_SECONDS <= timeout <= MAX_CALL_TIMEOUT_SECONDS:
            raise ValueError(
                f"call timeout {timeout} s is out of range (CALL_TIMEOUT_SECONDS): give "
                f"{MIN_CALL_TIMEOUT_SECONDS} to {MAX_CALL_TIMEOUT_SECONDS:.0f} seconds"
            )
        threshold = gate_threshold
        if threshold is None:
            threshold = _env_number("CODELOCI_GATE_THRESHOLD", float)
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise ValueError(f"gate threshold {threshold} is out of range: give 0 to 1")
        enabled = gate_enabled if gate_enabled is not None else _env_bool("CODELOCI_GATE_ENABLED")
        threads = embed_threads
        if threads is None:
            env_threads = _env_number("CODELOCI_EMBED_THREADS", int)
            threads = None if env_threads is None else max(1, int(env_threads))
        spin = embed_spin
        if spin is None:
            # only 1 or 0 decides; anything else leaves the choice to the core count
            env_spin = os.environ.get("CODELOCI_EMBED_SPIN", "").strip()
            spin = env_spin == "1" if env_spin in ("0", "1") else None
        mode = (results or os.environ.get("CODELOCI_RESULTS", "").strip() or "auto").lower()
        if mode not in RESULT_MODES:
            raise ValueError(
                f"results mode {mode!r} (--results / CODELOCI_RESULTS): give one of "
                + ", ".join(RESULT_MODES)
            )
        index = index_on_start if index_on_start is not None else _env_bool("CODELOCI_INDEX")
        watching = watch if watch is not None else _env_bool("CODELOCI_WATCH")
        root = resolve_project_root(project_root)
        # Indexing at start by default only a root someone chose or a git repository: a
        # session started in a home directory must not index all of it.
        chosen = project_root is not None or bool(os.environ.get("CODELOCI_PROJECT_ROOT"))
        background = chosen or (root / ".git").exists()
        return cls(
            data_dir=Path(data_dir).expanduser() if data_dir else default_data_dir(),
            project_root=root,
            rust_server=find_rust_server(rust_server),
            read_only=read_only or _env_flag("CODELOCI_READ_ONLY"),
            qdrant_url=os.environ.get("QDRANT_URL") or None,
            qdrant_api_key=os.environ.get("QDRANT_API_KEY") or None,
            session_id=session_id or os.environ.get("CODELOCI_SESSION_ID") or str(uuid.uuid4()),
            session_ttl_seconds=ttl or DEFAULT_SESSION_TTL_SECONDS,
            gate_threshold=threshold,
            gate_enabled=True if enabled is None else enabled,
            watch_root=Path(watch_root).expanduser().resolve() if watch_root else None,
            results=mode,
            index_on_start=background if index is None else index,
            watch=bool(watch_root) or (background if watching is None else watching),
            call_timeout_seconds=timeout,
            embed_threads=threads,
            embed_spin=spin,
            auth_token_file=_auth_token_file(auth_token_file),
            allowed_origins=tuple(allowed_origins or ()),
            service=_service(service),
            service_idle_seconds=_service_idle(),
        )


#: The settings that belong to a session rather than to the process serving it.
SESSION_FIELDS = (
    "project_root",
    "read_only",
    "rust_server",
    "session_id",
    "session_ttl_seconds",
    "gate_threshold",
    "gate_enabled",
    "index_on_start",
    "watch",
    "watch_root",
    "results",
    "call_timeout_seconds",
)


def _service(explicit: bool | None) -> bool:
    """``--no-service``, else ``CODELOCI_SERVICE``, else on."""
    if explicit is not None:
        return explicit
    env = _env_bool("CODELOCI_SERVICE")
    return True if env is None else env


def _service_idle() -> float:
    value = _env_number("CODELOCI_SERVICE_IDLE", float)
    if value is None:
        return DEFAULT_SERVICE_IDLE_SECONDS
    if value <= 0:
        raise ValueError(f"CODELOCI_SERVICE_IDLE={value} must be a positive number of seconds")
    return float(value)


def service_environment() -> dict[str, str]:
    """The environment a started service gets: this one, so it sees the same store settings
    (``QDRANT_URL``, threads, ...); read-only is a session's setting, never the service's."""
    env = dict(os.environ)
    env.pop("CODELOCI_READ_ONLY", None)
    return env


def _auth_token_file(explicit: str | Path | None) -> Path | None:
    """``--auth-token-file``, else ``CODELOCI_AUTH_TOKEN_FILE``, else none."""
    value = explicit or os.environ.get("CODELOCI_AUTH_TOKEN_FILE") or None
    return Path(value).expanduser() if value else None
