"""An exclusive per-directory lock that names its holder.

``fcntl.flock`` on ``<dir>/codeloci.lock``; the kernel drops it when the holder dies, so a
crashed process never leaves a stale lock. The holder writes its pid and command line into the
file so a second process can say who holds it.
"""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path

from codeloci.store.base import StoreLockedError

__all__ = ["DirLock"]

LOCK_NAME = "codeloci.lock"


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode("utf-8", "replace").strip()


class DirLock:
    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_NAME
        self._fd: int | None = None
        self._recorded = False

    def acquire(self, *, record_holder: bool = True) -> None:
        """Take the lock or raise :class:`StoreLockedError` naming the holder. A holder that
        must not write (read-only) passes ``record_holder=False``."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
            os.close(fd)
            pid_text = holder.split("\n", 1)[0] if holder else "?"
            cmd = _cmdline(int(pid_text)) if pid_text.isdigit() else ""
            who = f"process {pid_text}" + (f" ({cmd})" if cmd else "")
            raise StoreLockedError(
                f"the store at {self.path.parent} is in use by {who}. Only one codeloci process "
                "can open an embedded store: stop that process, point this one at another "
                "--data-dir, or run a Qdrant server and set QDRANT_URL so several processes "
                "can share it."
            ) from None
        if record_holder:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n{' '.join(sys.argv)}\n".encode(), 0)
        self._fd = fd
        self._recorded = record_holder

    def release(self) -> None:
        if self._fd is not None:
            try:
                if self._recorded:
                    os.ftruncate(self._fd, 0)
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None
