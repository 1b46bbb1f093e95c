"""``codeloci repair``: rebuild a damaged embedded store from everything still readable.

The damaged collection directory is never deleted: it is renamed to
``<collection>.damaged-<UTC time>`` beside the new one, so nothing is lost by repairing. Points
are read back with their vectors (nothing is re-embedded) from whichever view of the damaged
shard recovers the most of them, each on a private copy:

* the shard as it is (segments replayed with the write-ahead log);
* the segments alone (a damaged WAL);
* the WAL alone (damaged segments; the WAL holds every write since it was last truncated).

Points are read in batches, and a batch that fails is read point by point, so one unreadable
payload costs one point, not its page. The report counts what was recovered and what was lost.
Code chunks that were lost come back on the next ``codeloci index`` (the indexer restores points
missing behind its manifest).
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from codeloci.store.base import CollectionSpec, StoreDamagedError, StoreError
from codeloci.store.embedded import EmbeddedStore, read_metadata
from codeloci.store.lock import DirLock

__all__ = ["RepairReport", "repair_embedded_store"]

#: Points read (and rewritten) per batch.
BATCH = 256

#: The views of a damaged shard tried, by the part of it left out.
VIEWS: dict[str, tuple[str, ...]] = {
    "as it is": (),
    "segments without the WAL": ("wal",),
    "the WAL alone": ("segments",),
}


@dataclass(frozen=True)
class RepairReport:
    """What ``repair`` did."""

    store: Path
    kept_at: Path
    recovered: int
    lost: int
    view: str

    def summary(self) -> str:
        lost = f", {self.lost} unreadable and lost" if self.lost else ""
        return (
            f"rebuilt {self.store}: {self.recovered} points recovered ({self.view}){lost}; "
            f"the damaged store is kept at {self.kept_at}. Run `codeloci index` to restore "
            "any code chunks that were lost."
        )


@contextmanager
def _view(shard: Path, leave_out: tuple[str, ...]) -> Iterator[Any]:
    """The engine on a private copy of ``shard`` without the parts in ``leave_out``."""
    tmp = Path(tempfile.mkdtemp(prefix="codeloci-repair-"))
    try:
        copy = tmp / "shard"
        shutil.copytree(shard, copy)
        for part in leave_out:
            shutil.rmtree(copy / part, ignore_errors=True)
        loaded = qe.EdgeShard.load(str(copy))
        try:
            yield loaded
        finally:
            loaded.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _ids(shard: Any) -> list[Any]:
    ids: list[Any] = []
    offset = None
    while True:
        request = qe.ScrollRequest(
            offset=offset, limit=BATCH * 4, with_payload=False, with_vector=False
        )
        records, offset = shard.scroll(request)
        ids += [r.id for r in records]
        if offset is None:
            return ids


def _records(shard: Any) -> tuple[list[Any], int]:
    """Every readable point of ``shard`` with payload and vectors, and how many were not."""
    ids = _ids(shard)
    good: list[Any] = []
    lost = 0
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        try:
            good += shard.retrieve(batch, with_payload=True, with_vector=True)
            continue
        except Exception:
            pass
        for point_id in batch:
            try:
                good += shard.retrieve([point_id], with_payload=True, with_vector=True)
            except Exception:
                lost += 1
    return good, lost


def _salvage(shard_dir: Path) -> tuple[list[Any], int, str]:
    """The records of the view of ``shard_dir`` that recovers the most points."""
    best: tuple[list[Any], int, str] | None = None
    for view, leave_out in VIEWS.items():
        try:
            with _view(shard_dir, leave_out) as shard:
                records, lost = _records(shard)
        except Exception:
            continue
        if best is None or len(records) > len(best[0]):
            best = (records, lost, view)
    if best is None:
        return [], 0, "nothing could be loaded"
    return best


def repair_embedded_store(data_dir: Path, spec: CollectionSpec) -> RepairReport:
    """Move the collection ``spec.name`` in ``data_dir`` aside and rebuild it from what is
    readable. Refused while another process holds the store, or when it was embedded by
    another model (its vectors could not be reused)."""
    root = data_dir / spec.name
    if not root.is_dir():
        raise StoreError(f"there is no store at {root} to repair")
    if (root / "collection.json").is_file():
        try:
            spec.check(read_metadata(root), f"the store at {root}")
        except StoreDamagedError:
            pass  # unreadable metadata is part of the damage; the vectors decide below
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    kept_at = root.with_name(f"{root.name}.damaged-{stamp}")
    lock = DirLock(root)
    lock.acquire()  # refuses while a server holds the store, naming it
    try:
        root.rename(kept_at)
    finally:
        lock.release()
    shard_dir = kept_at / "shard"
    records, lost, view = _salvage(shard_dir) if shard_dir.is_dir() else ([], 0, "no shard")
    store = EmbeddedStore(data_dir, spec)
    try:
        for start in range(0, len(records), BATCH):
            points = [
                qe.Point(_uuid(r.id), dict(r.vector or {}), dict(r.payload or {}))
                for r in records[start : start + BATCH]
            ]
            store._run(qe.UpdateOperation.upsert_points(points))
    finally:
        store.close()
    return RepairReport(store=root, kept_at=kept_at, recovered=len(records), lost=lost, view=view)


def _uuid(point_id: Any) -> Any:
    return point_id if isinstance(point_id, uuid.UUID) else uuid.UUID(str(point_id))
