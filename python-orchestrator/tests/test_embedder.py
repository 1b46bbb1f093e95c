"""The default embedder: the real MiniLM model, offline."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from codeloci.embedder import (
    MAX_TOKENS,
    MINILM_DIM,
    Embedder,
    EmbedderError,
    MiniLMEmbedder,
)


def test_shape_norm_and_determinism(embedder: MiniLMEmbedder) -> None:
    assert isinstance(embedder, Embedder)
    vectors = embedder.embed(["hello world", "", "x" * 10])
    assert vectors.shape == (3, MINILM_DIM) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(embedder.embed(["hello world"])[0], vectors[0], atol=1e-6)
    assert embedder.embed([]).shape == (0, MINILM_DIM)


def test_semantic_neighbours(embedder: MiniLMEmbedder) -> None:
    q, near, far = embedder.embed(
        [
            "how do I read a file from disk",
            "open the file and read its contents",
            "the weather in Paris is sunny",
        ]
    )
    assert float(q @ near) > float(q @ far) + 0.3


def test_batching_does_not_change_vectors() -> None:
    # Padding is masked out: the shipped model's vectors are the same batched or alone.
    texts = ["short", "a somewhat longer sentence about parsing code", "def f(x): return x"]
    batched = MiniLMEmbedder(batch_size=3, verify=False, quantize=False).embed(texts)
    alone = MiniLMEmbedder(quantize=False).embed(texts)
    assert np.allclose(batched, alone, atol=1e-4)


def test_a_texts_vector_does_not_depend_on_its_company(embedder: MiniLMEmbedder) -> None:
    # A query is embedded alone and a chunk among others: the same text gets the same vector.
    text = "def parse_header(line): return line.split(':', 1)"
    others = ["x", "a long sentence " * 30, "class Config: pass"]
    assert np.allclose(embedder.embed([*others, text])[-1], embedder.embed([text])[0], atol=1e-6)


def test_quantized_model_agrees_with_the_shipped_one(embedder: MiniLMEmbedder) -> None:
    assert embedder.quantized
    texts = [
        "read the configuration file and return its sections",
        "def parse_header(line):\n    name, _, value = line.partition(':')\n    return name",
        "impl Display for Error { fn fmt(&self, f: &mut Formatter) -> Result { todo!() } }",
    ]
    exact = MiniLMEmbedder(quantize=False).embed(texts)
    assert np.all(np.sum(exact * embedder.embed(texts), axis=1) > 0.97)


def test_the_quantized_model_is_derived_once_and_checked(tmp_path: Path) -> None:
    first = MiniLMEmbedder(cache_dir=tmp_path)
    (model,) = tmp_path.glob("*.onnx")
    stamp = model.stat().st_mtime_ns
    again = MiniLMEmbedder(cache_dir=tmp_path)
    assert model.stat().st_mtime_ns == stamp  # reused, not derived again
    assert np.allclose(first.embed(["hello"]), again.embed(["hello"]))
    model.write_bytes(model.read_bytes()[:-10] + b"0123456789")  # damaged on disk
    repaired = MiniLMEmbedder(cache_dir=tmp_path)
    assert repaired.quantized
    assert np.allclose(repaired.embed(["hello"]), first.embed(["hello"]), atol=1e-6)


def test_unwritable_cache_still_quantizes(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    embedder = MiniLMEmbedder(cache_dir=blocker / "models")
    assert embedder.quantized and embedder.embed(["hello"]).shape == (1, MINILM_DIM)


def test_identical_texts_are_embedded_once(embedder: MiniLMEmbedder) -> None:
    before = embedder.texts_embedded
    a, b, a_again = embedder.embed(["alpha beta", "gamma", "alpha beta"])
    assert embedder.texts_embedded - before == 2
    assert np.array_equal(a, a_again) and not np.allclose(a, b)


def test_truncates_at_max_tokens(embedder: MiniLMEmbedder) -> None:
    base = "token " * MAX_TOKENS
    a, b = embedder.embed([base, base + "completely different tail " * 50])
    assert np.allclose(a, b, atol=1e-5)


def test_checksum_mismatch_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "model.onnx"
    bogus.write_bytes(b"not a model")
    with pytest.raises(EmbedderError, match="expected 8199be6f"):
        MiniLMEmbedder(bogus)


def test_throughput_is_reported(
    embedder: MiniLMEmbedder, capsys: pytest.CaptureFixture[str]
) -> None:
    chunks = [
        f"def function_{i}(arg):\n    return arg * {i} + helper(arg, {i})\n" * 3 for i in range(60)
    ]
    start = time.perf_counter()
    embedder.embed(chunks)
    rate = len(chunks) / (time.perf_counter() - start)
    with capsys.disabled():
        print(f"\n[embedder] {rate:.0f} chunks/s (~60-token chunks, batch 1)")
    assert rate > 5


def test_spinning_follows_the_core_count_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    from codeloci import embedder as embedder_mod

    for cores, spin in [(1, False), (2, False), (3, True), (16, True)]:
        monkeypatch.setattr(os, "cpu_count", lambda cores=cores: cores)
        assert embedder_mod._spin() is spin
    # Settings.embed_spin (CODELOCI_EMBED_SPIN=1/0) decides instead
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert embedder_mod._spin(True) is True
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert embedder_mod._spin(False) is False
    # Either way the model loads and embeds the same vector.
    spinning, still = MiniLMEmbedder(spin=True, threads=2), MiniLMEmbedder(spin=False, threads=1)
    assert np.allclose(spinning.embed(["hello"]), still.embed(["hello"]))


def test_a_text_embedded_recently_is_not_run_again() -> None:
    embedder = MiniLMEmbedder()
    first = embedder.embed(["parse the header line", "open a socket"])
    again = embedder.embed(["open a socket", "close the socket"])
    assert embedder.texts_embedded == 3
    assert np.array_equal(again[0], first[1])
    forgetful = MiniLMEmbedder(remember=0)
    forgetful.embed(["open a socket"])
    forgetful.embed(["open a socket"])
    assert forgetful.texts_embedded == 2
