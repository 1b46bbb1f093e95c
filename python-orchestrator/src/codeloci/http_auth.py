"""Who may use ``codeloci serve --http``: Origin and Host checks and a bearer token.

Why: an HTTP port on a laptop is reachable by every local process and, through the browser, by
every web page the user opens (a page can send requests to ``127.0.0.1``, or rebind its own DNS
name to it). The MCP specification requires streamable HTTP servers to validate ``Origin``;
codeloci also lets the user require a token and refuses to listen on a non-loopback address
without one.

What, in request order:

* **Origin** (:class:`HttpAccessMiddleware`, 403): a request without ``Origin`` (any
  non-browser client) passes; a browser's ``Origin`` passes only when its host is loopback
  (``localhost``, ``127.0.0.1``, ``[::1]``, any scheme and port), the bound address, or an
  ``--allow-origin`` entry. Checked here for every bind because the SDK checks Origin only
  together with Host (below).
* **Bearer token** (:class:`HttpAccessMiddleware`, 401 with ``WWW-Authenticate: Bearer``): with
  ``--auth-token-file`` / ``CODELOCI_AUTH_TOKEN_FILE`` every request needs
  ``Authorization: Bearer <token>``, compared in constant time (``hmac.compare_digest`` over
  SHA-256 digests, so neither content nor length leaks). The file must be private (no group or
  other permission bits), readable and non-empty, or the server does not start
  (:class:`TokenFileError`).
* **Host** (the mcp SDK's ``TransportSecuritySettings``, 421): loopback names and the bound
  address. A wildcard bind (``0.0.0.0``, ``::``) has no one name to check, so its Host is not
  checked; such a bind needs a token, which a page rebinding a DNS name cannot present.
* **Non-loopback binds without a token** are refused at start (:class:`NoTokenError`).

The SDK turns its own Host/Origin protection on only for loopback binds and off for every other
host; :meth:`HttpAccess.transport_security` always passes explicit settings instead.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = [
    "AUTH_TOKEN_FILE_ENV",
    "UNAUTHORIZED_BODY",
    "BadOriginError",
    "BearerToken",
    "HttpAccess",
    "HttpAccessMiddleware",
    "NoTokenError",
    "TokenFileError",
    "is_loopback_host",
]

AUTH_TOKEN_FILE_ENV: Final = "CODELOCI_AUTH_TOKEN_FILE"
_GENERATE = "head -c 32 /dev/urandom | base64 > {path} && chmod 600 {path}"
#: Host names that always count as loopback (as they appear in Host and Origin headers).
_LOOPBACK_HOSTS: Final = ("localhost", "127.0.0.1", "[::1]")
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
#: The body of every 401: how to authenticate, never the token or its file.
UNAUTHORIZED_BODY: Final = (
    "401 Unauthorized: this codeloci server requires a bearer token; send the header "
    "`Authorization: Bearer <token>`, where <token> is the content of the file the server was "
    "started with (--auth-token-file or CODELOCI_AUTH_TOKEN_FILE)\n"
)


class TokenFileError(ValueError):
    """The token file is unreadable, empty or readable by group/others; says how to fix it."""


class NoTokenError(ValueError):
    """A non-loopback bind without a token."""


class BadOriginError(ValueError):
    """An ``--allow-origin`` value that is not an origin."""


class BearerToken:
    """The token requests must present; only its SHA-256 digest is kept."""

    __slots__ = ("_digest",)

    def __init__(self, token: str) -> None:
        self._digest = hashlib.sha256(token.encode("utf-8")).digest()

    def __repr__(self) -> str:
        return "BearerToken(<redacted>)"

    @classmethod
    def from_file(cls, path: Path) -> BearerToken:
        """Read the token (whitespace trimmed) from a private, non-empty, readable file."""
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
            if os.name == "posix" and mode & 0o077:
                raise TokenFileError(
                    f"the auth token file {path} has mode {mode:04o}: group or others can read "
                    f"the token; make it private with `chmod 600 {path}`"
                )
            token = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise TokenFileError(
                f"cannot read the auth token file {path}: {reason}; create it with "
                f"`{_GENERATE.format(path=path)}`, readable by the user the server runs as "
                f"(uid {os.getuid() if hasattr(os, 'getuid') else '?'})"
            ) from exc
        if not token:
            raise TokenFileError(
                f"the auth token file {path} is empty; put a token in it: "
                f"`{_GENERATE.format(path=path)}`"
            )
        return cls(token)

    def matches(self, presented: bytes) -> bool:
        """Whether ``presented`` is the token, in time independent of its content."""
        return hmac.compare_digest(hashlib.sha256(presented).digest(), self._digest)


def _bare(host: str) -> str:
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def is_loopback_host(host: str) -> bool:
    """``localhost`` or a loopback IP (``[::1]`` bracketed or not); other names are not."""
    bare = _bare(host).lower()
    if bare == "localhost":
        return True
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return False


def _is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(_bare(host)).is_unspecified
    except ValueError:
        return False


def _header_host(host: str) -> str:
    """The host as a Host or Origin header spells it: lower case, IPv6 bracketed."""
    bare = _bare(host).lower()
    try:
        if ipaddress.ip_address(bare).version == 6:
            return f"[{bare}]"
    except ValueError:
        pass
    return bare


@dataclass(frozen=True)
class _Origin:
    """An allowed origin: scheme, host as in the header, port (``None``: any port)."""

    scheme: str
    host: str
    port: int | None

    def allows(self, scheme: str, host: str, port: int | None) -> bool:
        if (scheme, host) != (self.scheme, self.host):
            return False
        return self.port is None or (port or _DEFAULT_PORTS.get(scheme)) == self.port

    def spellings(self) -> list[str]:
        """How a browser may send a matching Origin, in the SDK's allowlist syntax."""
        base = f"{self.scheme}://{self.host}"
        if self.port is None:
            return [base, f"{base}:*"]
        if _DEFAULT_PORTS.get(self.scheme) == self.port:
            return [base, f"{base}:{self.port}"]
        return [f"{base}:{self.port}"]


def _parse_origin(value: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) of an Origin header value, or ``None`` when it is not one."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname or parts.username or parts.password:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    return parts.scheme.lower(), _header_host(parts.hostname), port


def _allowed_origin(value: str) -> _Origin:
    text = value.strip().rstrip("/")
    any_port = text.endswith(":*")
    parsed = _parse_origin(text[:-2] if any_port else text)
    if parsed is None or (any_port and parsed[2] is not None):
        raise BadOriginError(
            f"--allow-origin {value!r} is not an origin; give scheme://host[:port] with no path, "
            "e.g. https://app.example:8443 (`:*` for any port)"
        )
    scheme, host, port = parsed
    if not any_port and port is None:
        port = _DEFAULT_PORTS.get(scheme)
    return _Origin(scheme, host, None if any_port else port)


@dataclass(frozen=True)
class HttpAccess:
    """Who may use one HTTP server: its token, allowed origins and allowed hosts."""

    token: BearerToken | None
    origins: tuple[_Origin, ...]
    #: allowed Host values in the SDK's syntax; ``None``: the Host is not checked
    hosts: tuple[str, ...] | None

    @classmethod
    def for_bind(
        cls, host: str, token_file: Path | None, extra_origins: tuple[str, ...] = ()
    ) -> HttpAccess:
        """Check everything before binding ``host``: the token file, the rule that a
        non-loopback bind needs a token, the ``--allow-origin`` values."""
        token = BearerToken.from_file(token_file) if token_file is not None else None
        if token is None and not is_loopback_host(host):
            raise NoTokenError(
                f"refusing to serve HTTP on {host} without a token: it is not a loopback "
                "address, so anyone who can reach it could use the memory and the tools; create "
                f"a token file (`{_GENERATE.format(path='FILE')}`) and pass --auth-token-file "
                f"FILE (or set {AUTH_TOKEN_FILE_ENV}=FILE), or bind 127.0.0.1"
            )
        names = list(_LOOPBACK_HOSTS)
        bound = None if _is_wildcard(host) else _header_host(host)
        if bound is not None and bound not in names:
            names.append(bound)
        origins = [_Origin(scheme, name, None) for name in names for scheme in ("http", "https")]
        origins += [_allowed_origin(value) for value in extra_origins]
        hosts = None if bound is None else tuple(h for n in names for h in (n, f"{n}:*"))
        return cls(token, tuple(origins), hosts)

    def origin_allowed(self, value: str | None) -> bool:
        """No Origin passes; otherwise it must match an allowed origin."""
        if value is None:
            return True
        parsed = _parse_origin(value)
        return parsed is not None and any(o.allows(*parsed) for o in self.origins)

    def transport_security(self) -> TransportSecuritySettings:
        """The SDK's settings: Host checked (421) unless the bind is a wildcard."""
        if self.hosts is None:
            return TransportSecuritySettings(enable_dns_rebinding_protection=False)
        return TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=list(self.hosts),
            allowed_origins=[s for o in self.origins for s in o.spellings()],
        )

    def wrap(self, app: ASGIApp) -> ASGIApp:
        return HttpAccessMiddleware(app, self)


class HttpAccessMiddleware:
    """ASGI middleware: Origin (403), then the bearer token (401), then the app."""

    def __init__(self, app: ASGIApp, access: HttpAccess) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan passes through
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not self.access.origin_allowed(headers.get("origin")):
            response = PlainTextResponse("Forbidden: Origin header is not allowed", 403)
            await response(scope, receive, send)
            return
        token = self.access.token
        if token is not None:
            presented = _bearer(headers.getlist("authorization"))
            if presented is None or not token.matches(presented):
                challenge = 'Bearer realm="codeloci"'
                if presented is not None:
                    challenge += ', error="invalid_token"'
                response = PlainTextResponse(
                    UNAUTHORIZED_BODY, 401, headers={"WWW-Authenticate": challenge}
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _bearer(values: list[str]) -> bytes | None:
    """The credentials of the one ``Bearer`` authorization header (scheme case-insensitive)."""
    if len(values) != 1:
        return None
    scheme, _, credentials = values[0].partition(" ")
    credentials = credentials.lstrip(" ")
    if scheme.lower() != "bearer" or not credentials:
        return None
    return credentials.encode("latin-1")
