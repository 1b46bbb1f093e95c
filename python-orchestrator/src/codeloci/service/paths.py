"""Where one service's files live, and the private directory that keeps other users out.

A service belongs to a data directory and a store: ``<data dir>/service/embedded/`` for the
embedded store, ``<data dir>/service/qdrant-<hash>/`` for a Qdrant server (so sessions pointed
at different servers never share a service). The directory is created 0700 and must be owned
by this user; everything in it (socket, locks, pid file, log) is reachable by nobody else.

A unix socket path is limited to about 100 bytes; when the data directory is deeper than that
the socket lives in ``/tmp/codeloci-<uid>/`` (also 0700 and checked) under a hash of the
service directory.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from codeloci.config import Settings

__all__ = ["MAX_SOCKET_PATH", "ServicePaths", "UnsafeServiceDir"]

#: Longest socket path used in place (``sun_path`` is 108 bytes on Linux, 104 on macOS).
MAX_SOCKET_PATH = 100


class UnsafeServiceDir(RuntimeError):
    """The service directory is not private to this user."""


def _private_dir(path: Path) -> Path:
    """``path`` created 0700 if missing; refused unless owned by this user and closed to
    others."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = path.lstat()
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeServiceDir(f"{path} is not a directory; remove it and try again")
    if st.st_uid != os.getuid():
        raise UnsafeServiceDir(
            f"{path} belongs to uid {st.st_uid}, not to you ({os.getuid()}): codeloci will not "
            "use a service directory another user controls; pass another --data-dir"
        )
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


@dataclass(frozen=True)
class ServicePaths:
    directory: Path

    @classmethod
    def for_settings(cls, settings: Settings) -> ServicePaths:
        if settings.qdrant_url:
            key = "qdrant-" + hashlib.sha256(settings.qdrant_url.encode()).hexdigest()[:12]
        else:
            key = "embedded"
        return cls(Path(settings.data_dir).expanduser().resolve() / "service" / key)

    @property
    def socket(self) -> Path:
        here = self.directory / "sock"
        if len(str(here)) <= MAX_SOCKET_PATH:
            return here
        digest = hashlib.sha256(str(self.directory).encode()).hexdigest()[:16]
        return Path("/tmp") / f"codeloci-{os.getuid()}" / f"{digest}.sock"

    @property
    def lock(self) -> Path:
        """Held (flock) by the running service for its whole life."""
        return self.directory / "service.lock"

    @property
    def start_lock(self) -> Path:
        """Held by whoever is starting the service, so concurrent starters start one."""
        return self.directory / "start.lock"

    @property
    def pid_file(self) -> Path:
        return self.directory / "service.pid"

    @property
    def log(self) -> Path:
        return self.directory / "service.log"

    def prepare(self) -> None:
        """Create the private directories (the socket's too); :class:`UnsafeServiceDir` when
        one is not private to this user."""
        _private_dir(self.directory)
        _private_dir(self.socket.parent)

    def read_pid(self) -> int | None:
        try:
            text = self.pid_file.read_text().split()
            return int(text[0]) if text else None
        except (OSError, ValueError):
            return None

    def read_key(self) -> str | None:
        """The code key the running service wrote (see ``service.client.code_key``)."""
        try:
            text = self.pid_file.read_text().split()
            return text[2] if len(text) > 2 else None
        except OSError:
            return None
