"""Vector storage behind one thin interface: embedded Qdrant engine or a Qdrant server."""

from __future__ import annotations

from pathlib import Path

from codeloci.store import base as _base
from codeloci.store.base import *  # noqa: F403  (the interface: exactly base.__all__)
from codeloci.store.base import CollectionSpec, MemoryStore

__all__ = [*_base.__all__, "open_store"]


def open_store(
    spec: CollectionSpec,
    *,
    data_dir: Path,
    qdrant_url: str | None = None,
    qdrant_api_key: str | None = None,
    read_only: bool = False,
) -> MemoryStore:
    """The server backend when ``qdrant_url`` is set, else the embedded one in ``data_dir``."""
    if qdrant_url:
        from codeloci.store.remote import RemoteStore

        return RemoteStore.connect(qdrant_url, qdrant_api_key, spec, read_only=read_only)
    from codeloci.store.embedded import EmbeddedStore

    return EmbeddedStore(data_dir, spec, read_only=read_only)
