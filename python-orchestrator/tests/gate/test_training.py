"""The dataset and the trained artefact rebuild deterministically."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeloci.gate.model import DEFAULT_MODEL_PATH, load_model
from devtools.gate.dataset import DATASET_PATH, load_dataset, write_dataset

pytest.importorskip("numpy")


def test_dataset_regenerates_byte_identically(tmp_path: Path) -> None:
    out = tmp_path / "ds.jsonl"
    write_dataset(out)
    assert out.read_bytes() == DATASET_PATH.read_bytes()


def test_dataset_shape() -> None:
    ex = load_dataset()
    assert len(ex) >= 500
    assert {e.split for e in ex} == {"train", "dev", "test"}
    assert {e.label for e in ex} == {"retrieve", "skip"}
    for split in ("dev", "test"):
        labels = {e.label for e in ex if e.split == split}
        assert labels == {"retrieve", "skip"}
    # grouped split: a template never spans two splits
    splits_of: dict[str, set[str]] = {}
    for e in ex:
        if e.source.startswith("template:"):
            splits_of.setdefault(e.source, set()).add(e.split)
    assert splits_of and all(len(s) == 1 for s in splits_of.values())
    texts = [e.text for e in ex]
    assert len(texts) == len(set(texts))


def test_artefact_rebuilds_deterministically(tmp_path: Path) -> None:
    from devtools.gate.train import train_to_file

    a, b = tmp_path / "a.json", tmp_path / "b.json"
    train_to_file(a)
    train_to_file(b)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() == DEFAULT_MODEL_PATH.read_bytes(), (
        "shipped gate_model.json is stale: run `python -m devtools.gate.train`"
    )


def test_artefact_is_small_and_loadable() -> None:
    assert DEFAULT_MODEL_PATH.stat().st_size < 200_000
    doc = json.loads(DEFAULT_MODEL_PATH.read_text())
    assert doc["format"] == "codeloci-gate-model"
    m = load_model()
    assert 0.0 < m.threshold < 1.0
