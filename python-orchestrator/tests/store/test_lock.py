"""Only one process may open an embedded store; the second is told who holds it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from codeloci.store import CollectionSpec, StoreLockedError
from codeloci.store.embedded import EmbeddedStore

SPEC = CollectionSpec(name="memory", embedder="e", dim=4)

HOLD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from codeloci.store import CollectionSpec
    from codeloci.store.embedded import EmbeddedStore
    store = EmbeddedStore(Path(sys.argv[1]), CollectionSpec(name="memory", embedder="e", dim=4))
    print("ready", flush=True)
    time.sleep(60)
    """
)


def test_second_process_gets_error_naming_the_holder(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreLockedError) as err:
            EmbeddedStore(tmp_path, SPEC)
        message = str(err.value)
        assert f"in use by process {holder.pid}" in message
        assert "QDRANT_URL" in message  # says how to share a store
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    EmbeddedStore(tmp_path, SPEC).close()  # the kernel released the dead holder's lock


def test_lock_released_on_close(tmp_path: Path) -> None:
    first = EmbeddedStore(tmp_path, SPEC)
    with pytest.raises(StoreLockedError):
        EmbeddedStore(tmp_path, SPEC)
    first.close()
    EmbeddedStore(tmp_path, SPEC).close()
