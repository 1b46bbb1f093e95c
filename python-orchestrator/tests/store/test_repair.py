"""A damaged embedded store is detected, never served silently, and rebuilt on request."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from codeloci.store import (
    CollectionSpec,
    Fusion,
    PointIn,
    Query,
    SparseVec,
    StoreDamagedError,
    StoreError,
)
from codeloci.store.embedded import EmbeddedStore
from codeloci.store.repair import repair_embedded_store

SPEC = CollectionSpec(name="mem", embedder="test-embedder", dim=8, keyword_fields=("k",))
POINTS = 300


def _build(data: Path) -> dict[str, tuple[int, list[float]]]:
    rng = np.random.default_rng(7)
    store = EmbeddedStore(data, SPEC)
    written: dict[str, tuple[int, list[float]]] = {}
    points = []
    for i in range(POINTS):
        vector = rng.random(8, dtype=np.float32)
        point_id = str(uuid.uuid4())
        written[point_id] = (i, vector.tolist())
        sparse = SparseVec(indices=[i % 50, 100 + i % 7], values=[1.0, 0.5])
        points.append(
            PointIn(id=point_id, vector=vector, payload={"k": "a", "i": i}, sparse=sparse)
        )
    store.upsert(points)
    store.close()
    return written


def _segment(data: Path) -> Path:
    return next((data / "mem" / "shard" / "segments").iterdir())


def _garbage(path: Path, size: int = 4096) -> None:
    with path.open("r+b") as f:
        f.write(os.urandom(size))


Damage = Callable[[Path], object]

#: Damage the engine notices when it loads the shard: the store must not open.
AT_OPEN: dict[str, Damage] = {
    "shard missing": lambda d: shutil.rmtree(d / "mem" / "shard"),
    "collection.json missing": lambda d: (d / "mem" / "collection.json").unlink(),
    "collection.json garbage": lambda d: (d / "mem" / "collection.json").write_text("{nope"),
    "WAL garbage": lambda d: _garbage(d / "mem" / "shard" / "wal" / "open-1", 65536),
    "segment.json garbage": lambda d: (_segment(d) / "segment.json").write_text("xx"),
}


@pytest.mark.parametrize("damage", list(AT_OPEN), ids=list(AT_OPEN))
def test_damage_at_open_is_refused_naming_the_store_and_the_fix(
    tmp_path: Path, damage: str
) -> None:
    _build(tmp_path)
    AT_OPEN[damage](tmp_path)
    for read_only in (False, True):
        with pytest.raises(StoreDamagedError) as err:
            EmbeddedStore(tmp_path, SPEC, read_only=read_only)
        message = str(err.value)
        assert f"the store at {tmp_path / 'mem'} is damaged" in message
        assert "codeloci repair" in message


def test_damage_found_while_reading_is_an_error_not_an_answer(tmp_path: Path) -> None:
    _build(tmp_path)
    payloads = _segment(tmp_path) / "payload_storage" / "page_0.dat"
    with payloads.open("r+b") as f:
        f.write(b"\0" * 4096)
    store = EmbeddedStore(tmp_path, SPEC)
    try:
        with pytest.raises(StoreDamagedError, match=r"a scroll failed.*codeloci repair"):
            store.scroll(flt=None, limit=POINTS)
        # Every read path reaching a damaged payload, code search's too, says the same:
        # one channel, score fusion (its payload lookup) and fusion inside the engine.
        dense, sparse = [1.0] + [0.0] * (SPEC.dim - 1), SparseVec([3, 103], [1.0, 0.5])
        everything = {"limit": POINTS, "prefetch": POINTS}
        for q in (
            Query(dense=dense, exact=True, **everything),  # type: ignore[arg-type]
            Query(dense=dense, sparse=sparse, fusion=Fusion("score"), **everything),  # type: ignore[arg-type]
            Query(dense=dense, sparse=sparse, fusion=Fusion("rrf"), **everything),  # type: ignore[arg-type]
        ):
            with pytest.raises(StoreDamagedError, match="codeloci repair"):
                store.query(q)
    finally:
        store.close()


@pytest.mark.parametrize(
    "damage",
    ["WAL garbage", "payload page zeroed", "segment.json garbage", "shard missing"],
)
def test_repair_keeps_the_damaged_store_and_recovers_what_is_readable(
    tmp_path: Path, damage: str
) -> None:
    written = _build(tmp_path)
    if damage == "payload page zeroed":
        with (_segment(tmp_path) / "payload_storage" / "page_0.dat").open("r+b") as f:
            f.write(b"\0" * 4096)
    else:
        AT_OPEN[damage](tmp_path)
    report = repair_embedded_store(tmp_path, SPEC)
    assert report.kept_at.is_dir() and report.kept_at.name.startswith("mem.damaged-")
    assert report.store == tmp_path / "mem"
    store = EmbeddedStore(tmp_path, SPEC)
    try:
        hits, _ = store.scroll(flt=None, limit=POINTS + 10)
        recovered = {h.id: h.payload["i"] for h in hits}
        if damage == "shard missing":
            # Nothing to read back: an empty store, and the report says so.
            assert recovered == {} and report.recovered == 0
            return
        # Every point came back (from the view that still had it) with payload and vectors.
        assert report.recovered == POINTS and report.lost == 0, report
        assert recovered == {pid: i for pid, (i, _) in written.items()}
        probe_id, (_, vector) = next(iter(written.items()))
        (best,) = store.search(vector, limit=1)
        assert best.id == probe_id
        # Point 3 is the only one with both sparse terms: a hybrid query of its own dense
        # vector and those terms ranks it first in both lists (RRF), if its sparse vector survived.
        point_3 = next(pid for pid, (i, _) in written.items() if i == 3)
        both = store.query(
            Query(dense=written[point_3][1], sparse=SparseVec([3, 103], [1.0, 0.5]), limit=1)
        )
        assert [h.id for h in both] == [point_3]
        (record,) = store._shard.retrieve(
            [uuid.UUID(point_3)], with_payload=False, with_vector=True
        )
        assert sorted(record.vector["bm25"].indices) == [3, 103], "sparse vector survived"
    finally:
        store.close()
    assert "points recovered" in report.summary() and str(report.kept_at) in report.summary()


def test_repair_is_refused_while_the_store_is_in_use(tmp_path: Path) -> None:
    _build(tmp_path)
    holder = EmbeddedStore(tmp_path, SPEC)
    try:
        with pytest.raises(StoreError, match="in use by process"):
            repair_embedded_store(tmp_path, SPEC)
        assert (tmp_path / "mem" / "shard").is_dir(), "nothing moved"
    finally:
        holder.close()


def test_repair_of_a_missing_store_says_so(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no store at"):
        repair_embedded_store(tmp_path, SPEC)
