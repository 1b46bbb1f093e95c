"""The two store backends the suite runs on, and the Qdrant server behind the second one.

``embedded`` is Qdrant's engine in-process (qdrant-edge). ``server`` is the qdrant-client code
path against, in order of preference:

1. ``QDRANT_URL`` (with ``QDRANT_API_KEY``): a Qdrant server someone runs;
2. ``QDRANT_BIN``: a Qdrant server binary, started here on loopback in a temporary directory
   (with an API key, so the key is exercised) and stopped after the session;
3. otherwise qdrant-client's in-process local mode, which implements the same API in Python.

Which one ran is printed in the pytest header and again at the end of the run. Tests that
need several processes to share one server store (a CLI beside a server, a restart) skip on
local mode, which keeps its data in one process only.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from qdrant_client import QdrantClient

from codeloci.store import CollectionSpec, MemoryStore
from codeloci.store.embedded import EmbeddedStore
from codeloci.store.remote import RemoteStore

BACKENDS = ("embedded", "server")
#: Seconds a started Qdrant server may take to answer /readyz.
START_TIMEOUT = 60.0


@dataclass
class QdrantTarget:
    """Where the ``server`` backend points: a URL, or local mode when ``url`` is ``None``."""

    url: str | None
    api_key: str | None
    how: str
    process: subprocess.Popen[bytes] | None = None
    storage: Path | None = None

    @property
    def real(self) -> bool:
        return self.url is not None

    def env(self) -> dict[str, str]:
        """Environment for a codeloci process that should use this target."""
        if self.url is None:
            return {"QDRANT_URL": ":memory:"}
        env = {"QDRANT_URL": self.url}
        if self.api_key:
            env["QDRANT_API_KEY"] = self.api_key
        return env

    def client(self, local_path: Path) -> QdrantClient:
        if self.url is None:
            return QdrantClient(path=str(local_path))
        return QdrantClient(url=self.url, api_key=self.api_key, timeout=30)

    def drop_collections(self) -> None:
        """Start a test with an empty server (tests share one)."""
        if self.url is None:
            return
        client = QdrantClient(url=self.url, api_key=self.api_key, timeout=30)
        try:
            for c in client.get_collections().collections:
                if c.name.startswith("codeloci_"):
                    client.delete_collection(c.name)
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.storage is not None:
            shutil.rmtree(self.storage, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=1) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def start_qdrant(binary: str) -> QdrantTarget:
    """A Qdrant server from ``binary`` on a free loopback port, storage in a temp dir."""
    storage = Path(tempfile.mkdtemp(prefix="codeloci-qdrant-"))
    http, grpc = _free_port(), _free_port()
    key = secrets.token_hex(16)
    env = {
        **os.environ,
        "QDRANT__SERVICE__HOST": "127.0.0.1",
        "QDRANT__SERVICE__HTTP_PORT": str(http),
        "QDRANT__SERVICE__GRPC_PORT": str(grpc),
        "QDRANT__SERVICE__API_KEY": key,
        "QDRANT__STORAGE__STORAGE_PATH": str(storage / "storage"),
        "QDRANT__STORAGE__SNAPSHOTS_PATH": str(storage / "snapshots"),
        "QDRANT__TELEMETRY_DISABLED": "true",
    }
    log = (storage / "qdrant.log").open("wb")
    process = subprocess.Popen([binary], cwd=storage, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{http}"
    deadline = time.monotonic() + START_TIMEOUT
    while not _ready(url):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            tail = (storage / "qdrant.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"Qdrant server {binary} did not start:\n{tail}")
        time.sleep(0.2)
    version = ""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"api-key": key})) as r:
            version = r.read().decode()[:120]
    except OSError:
        pass
    return QdrantTarget(url, key, f"Qdrant server {binary} at {url} ({version})", process, storage)


def qdrant_target() -> QdrantTarget:
    """Read once at session start (tests may clear QDRANT_* from their environment)."""
    url = os.environ.get("QDRANT_URL", "").strip()
    if url and url != ":memory:":
        return QdrantTarget(url, os.environ.get("QDRANT_API_KEY") or None, f"QDRANT_URL={url}")
    binary = os.environ.get("QDRANT_BIN", "").strip()
    if binary:
        return start_qdrant(binary)
    return QdrantTarget(
        None,
        None,
        "qdrant-client LOCAL MODE (no Qdrant server: set QDRANT_BIN=/path/to/qdrant or "
        "QDRANT_URL to run the server backend against a real one)",
    )


def make_test_store(
    backend: str,
    target: QdrantTarget,
    where: Path,
    spec: CollectionSpec,
    *,
    read_only: bool = False,
) -> MemoryStore:
    """A store of ``backend`` holding its data under ``where`` (or on the target server)."""
    if backend == "embedded":
        return EmbeddedStore(where, spec, read_only=read_only)
    where.mkdir(parents=True, exist_ok=True)
    return RemoteStore(
        target.client(where / "qdrant-local"),
        spec,
        read_only=read_only,
        location=f"Qdrant at {target.url}" if target.url else "Qdrant local mode",
    )


@contextmanager
def open_test_store(
    backend: str,
    target: QdrantTarget,
    where: Path,
    spec: CollectionSpec,
    *,
    read_only: bool = False,
) -> Iterator[MemoryStore]:
    store = make_test_store(backend, target, where, spec, read_only=read_only)
    try:
        yield store
    finally:
        store.close()
