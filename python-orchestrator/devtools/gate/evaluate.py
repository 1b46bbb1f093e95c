"""Evaluate the gate: ``python -m devtools.gate.evaluate [--json PATH] [--n 10000]``.

Prints precision / recall / skip rate on the dev and held-out test splits for

* every candidate of the model selection (rule baseline, logistic regression variants),
  retrained in memory exactly as ``devtools.gate.train`` does (selection itself used dev only);
* the shipped artefact at its default threshold, scored alone ("model only");
* the full :class:`~codeloci.gate.Gate` with the fixture vocabulary of the dataset's fictional
  project (symbol mentions are then never gated out);
* optionally (``--repo-vocab DIR``) the gate with a vocabulary scraped from a real source tree,
  to see how often real symbol names force retrieval of general questions;

and the latency of ``Gate.decide`` (p50/p90/p99/max over ``--n`` decisions cycling through the
dataset queries, single thread, after warm-up), plus the cold load time of the artefact.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from codeloci.gate.core import Gate
from codeloci.gate.model import DEFAULT_MODEL_PATH, load_model
from codeloci.gate.vocabulary import SymbolVocabulary
from devtools.gate.dataset import (
    DATASET_PATH,
    FIXTURE_PATHS,
    FIXTURE_SYMBOLS,
    RETRIEVE,
    Example,
    load_dataset,
)
from devtools.gate.metrics import compute_metrics

__all__ = ["evaluate", "main", "scrape_vocabulary"]

_DEF_RE = re.compile(
    r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:async\s+)?(?:def|class|fn|struct|enum|trait|type|mod|"
    r"interface|function|func)\s+([A-Za-z_]\w*)",
    re.M,
)
_SOURCE_EXT = {".py", ".rs", ".ts", ".tsx", ".js", ".go", ".java"}
_SKIP_DIRS = {
    ".git",
    ".venv",
    "venv",
    "node_modules",
    "target",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "dist",
    "build",
}


def scrape_vocabulary(root: Path) -> SymbolVocabulary:
    """A rough vocabulary of a source tree (regex over definitions + all file paths)."""
    symbols: list[str] = []
    paths: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for fn in sorted(filenames):
            p = Path(dirpath) / fn
            rel = p.relative_to(root).as_posix()
            paths.append(rel)
            if p.suffix in _SOURCE_EXT:
                try:
                    text = p.read_text(encoding="utf-8", errors="replace")
                except OSError:
                    continue
                symbols.extend(_DEF_RE.findall(text))
    return SymbolVocabulary.from_iterables(symbols, paths)


def _metrics_for(gate: Gate, examples: Sequence[Example], *, model_only: bool) -> dict[str, Any]:
    labels = [e.label == RETRIEVE for e in examples]
    if model_only:
        decisions = [
            gate.score(e.text, current_file=e.current_file, recent_tools=e.recent_tools)
            >= gate.threshold
            for e in examples
        ]
    else:
        decisions = [
            gate.decide(e.text, current_file=e.current_file, recent_tools=e.recent_tools).retrieve
            for e in examples
        ]
    return compute_metrics(decisions, labels).as_dict()


def _cycle(examples: Sequence[Example]) -> Iterator[Example]:
    while True:
        yield from examples


def _latency(gate: Gate, examples: Sequence[Example], n: int) -> dict[str, float]:
    it = _cycle(examples)
    for _ in range(min(n, 1000)):  # warm-up
        e = next(it)
        gate.decide(e.text, current_file=e.current_file, recent_tools=e.recent_tools)
    times: list[int] = []
    pc = time.perf_counter_ns
    for _ in range(n):
        e = next(it)
        t0 = pc()
        gate.decide(e.text, current_file=e.current_file, recent_tools=e.recent_tools)
        times.append(pc() - t0)
    times.sort()

    def q(p: float) -> float:
        return times[min(len(times) - 1, int(p * len(times)))] / 1000.0

    return {
        "n": n,
        "p50_us": round(q(0.50), 1),
        "p90_us": round(q(0.90), 1),
        "p99_us": round(q(0.99), 1),
        "max_us": round(times[-1] / 1000.0, 1),
        "mean_us": round(sum(times) / len(times) / 1000.0, 1),
    }


def evaluate(
    n_latency: int = 10_000, repo_vocab: Path | None = None, dataset: Path = DATASET_PATH
) -> dict[str, Any]:
    # numpy is only needed for this part
    from devtools.gate.train import CANDIDATES, fit, select

    examples = load_dataset(dataset)
    splits = {s: [e for e in examples if e.split == s] for s in ("dev", "test")}
    out: dict[str, Any] = {
        "dataset": {
            "path": dataset.name,
            "n": len(examples),
            "by_split": {
                s: {
                    "n": sum(1 for e in examples if e.split == s),
                    "retrieve": sum(1 for e in examples if e.split == s and e.label == RETRIEVE),
                }
                for s in ("train", "dev", "test")
            },
        }
    }
    # candidates: cross-validated on train+dev (threshold from out-of-fold scores), then
    # retrained on train+dev exactly as `devtools.gate.train` does, and scored on test
    pool = [e for e in examples if e.split in ("train", "dev")]
    _, _, table = select(examples)
    cand_rows = []
    for cfg, row in zip((None, *CANDIDATES), table, strict=True):
        t = row["threshold"]
        model = fit(pool, cfg)
        g = Gate(threshold=t, model=model)
        cand_rows.append(
            {
                "candidate": row["candidate"],
                "threshold": t,
                "cv": row["cv"],
                "dev": row["dev_oof"],
                "test": _metrics_for(g, splits["test"], model_only=True),
            }
        )
    out["candidates"] = cand_rows

    t0 = time.perf_counter()
    shipped = load_model(DEFAULT_MODEL_PATH)
    load_ms = (time.perf_counter() - t0) * 1000.0
    out["artefact"] = {
        "kind": shipped.kind,
        "threshold": shipped.threshold,
        "bytes": DEFAULT_MODEL_PATH.stat().st_size,
        "cold_load_ms": round(load_ms, 2),
    }
    plain = Gate(model=shipped)
    out["model_only"] = {"test": _metrics_for(plain, splits["test"], model_only=True)}
    fixture = SymbolVocabulary.from_iterables(FIXTURE_SYMBOLS, FIXTURE_PATHS)
    gated = Gate(model=shipped, vocabulary=fixture)
    # the shipped model was trained on train+dev, so only test is a fair split here
    out["gate_with_fixture_vocabulary"] = {
        "test": _metrics_for(gated, splits["test"], model_only=False)
    }
    gated.stats.reset()
    if repo_vocab is not None:
        vocab = scrape_vocabulary(repo_vocab)
        g = Gate(model=shipped, vocabulary=vocab)
        out["gate_with_repo_vocabulary"] = {
            "root": str(repo_vocab),
            "vocabulary_entries": len(vocab),
            "test": _metrics_for(g, splits["test"], model_only=False),
        }
    out["latency"] = _latency(gated, examples, n_latency)
    out["latency"]["by_reason"] = gated.stats.as_dict()["by_reason"]
    out["machine"] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    return out


def _fmt_row(label: str, m: dict[str, Any], *, header: bool = False) -> str:
    if header:
        return f"| **{label}** | | | | |"
    return (
        f"| {label:<44} | {m['precision']:.3f} | {m['recall']:.3f} | {m['skip_rate']:.3f} "
        f"| {m['n_retrieve']:>3}/{m['n_skip']:<3} |"
    )


def render(r: dict[str, Any]) -> str:
    lines = []
    ds = r["dataset"]
    lines.append(
        f"dataset: {ds['n']} examples; "
        + ", ".join(f"{s} {v['n']} ({v['retrieve']} retrieve)" for s, v in ds["by_split"].items())
    )
    lines.append("")
    lines.append(
        "| configuration (threshold)                    | prec  | recall | skip  | need/no-need |"
    )
    lines.append("|" + "-" * 46 + "|-------|--------|-------|--------------|")
    for c in r["candidates"]:
        lines.append(_fmt_row(f"{c['candidate']} t={c['threshold']:.4f}", {}, header=True))
        lines.append(_fmt_row("  cv, train+dev out-of-fold", c["cv"]))
        lines.append(_fmt_row("  dev, out-of-fold", c["dev"]))
        lines.append(_fmt_row("  test (held out)", c["test"]))
    a = r["artefact"]
    lines.append(_fmt_row(f"shipped artefact: {a['kind']} t={a['threshold']:.4f}", {}, header=True))
    lines.append(_fmt_row("  model only, test", r["model_only"]["test"]))
    lines.append(
        _fmt_row("  gate + fixture vocabulary, test", r["gate_with_fixture_vocabulary"]["test"])
    )
    if "gate_with_repo_vocabulary" in r:
        lines.append(
            _fmt_row("  gate + repo vocabulary, test", r["gate_with_repo_vocabulary"]["test"])
        )
    lines.append("")
    lat = r["latency"]
    lines.append(
        f"latency of Gate.decide over {lat['n']} decisions: p50 {lat['p50_us']} us, "
        f"p90 {lat['p90_us']} us, p99 {lat['p99_us']} us, max {lat['max_us']} us "
        f"(mean {lat['mean_us']} us)"
    )
    lines.append(
        f"artefact: {a['kind']}, {a['bytes']} bytes, cold load {a['cold_load_ms']} ms; "
        f"machine: {r['machine']['platform']}, python {r['machine']['python']}, "
        f"{r['machine']['cpus']} cpus"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Evaluate the codeloci retrieval gate")
    ap.add_argument("--json", type=Path, default=None, help="also write the results as JSON")
    ap.add_argument("--n", type=int, default=10_000, help="decisions for the latency benchmark")
    ap.add_argument(
        "--repo-vocab",
        type=Path,
        default=None,
        help="also evaluate with a vocabulary scraped from this source tree",
    )
    ap.add_argument("--dataset", type=Path, default=DATASET_PATH)
    args = ap.parse_args(argv)
    result = evaluate(args.n, args.repo_vocab, args.dataset)
    print(render(result))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
