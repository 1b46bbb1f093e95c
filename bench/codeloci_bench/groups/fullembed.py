"""A ~100k-chunk repository from nothing to every chunk embedded, timed end to end.

Protocol (see bench/README.md, "The orchestrator groups"):
- input: the `crates-100k` repository (quick: its ~1,000-file version).
- one run of `codeloci index REPO --no-service --json` into a fresh data directory: scan, chunk,
  lexical write (searchable), then every chunk embedded in the pipeline's batches of 64 (the
  same `embed_pending` the server runs in the background), then the HNSW build. The run's own
  report gives each stage's seconds; the wall time is the whole command.
- n=1: a run takes tens of minutes on 2 cores; the embed group measures the embedder's rate
  with repeats and anchors.
"""

from __future__ import annotations

import shutil

from .. import product
from ..machine import package_version
from ..model import Context, GroupResult, Row, Stat

NAME = "fullembed"
TITLE = "Time to fully embedded: a ~100k-chunk repository end to end"


def run(ctx: Context) -> GroupResult:
    repo = product.crates_repo(ctx, "crates-100k")
    data = ctx.workdir / "data" / "fullembed"
    if data.exists():
        shutil.rmtree(data)
    ctx.log(f"  codeloci index (embedding everything) of {repo.files:,} files")
    built = product.cli_index(ctx, repo.path, data, timeout=4 * 3600)
    report = built.report
    seconds = report["seconds"]
    chunks = int(report["chunks_written"])
    embedded = int(report["embedded"])
    searchable = float(seconds["searchable"])
    embed = float(seconds.get("embed", 0.0))
    rows = [
        Row(
            f"cold index → lexically searchable, {chunks:,} chunks",
            Stat.of([searchable]),
            "s",
            notes=f"{repo.files:,} files, {repo.lines:,} lines; the run's own `searchable` time",
        ),
        Row(
            f"cold index → fully embedded, {chunks:,} chunks",
            Stat.of([searchable + embed]),
            "s",
            notes=f"searchable + the embed stage ({embed:.0f} s, {embedded:,} chunks embedded, "
            f"{report.get('pending', 0)} left pending)",
        ),
        Row(
            "embed stage rate, whole repository",
            Stat.of([embedded / embed]) if embed else None,
            "chunks/s",
            notes="chunks embedded ÷ the embed stage's seconds (dense text → MiniLM int8 → store, "
            "batches of 64, definitions first)",
        ),
        Row(
            "whole `codeloci index` command",
            Stat.of([built.wall]),
            "s",
            notes=f"process start to exit, including the HNSW build ({seconds.get('optimize', 0):.0f} s)",
        ),
    ]
    details = (
        f"- **Input:** {repo.describe()}; {chunks:,} chunks.\n"
        "- **Method:** one `codeloci index --no-service --json` into a fresh data directory (n=1: "
        "the embed group measures the embedder's rate with repeats and anchors).\n"
        f"- **Versions:** codeloci {package_version('codeloci')}, qdrant-edge-py "
        f"{package_version('qdrant-edge-py')}, onnxruntime {package_version('onnxruntime')}."
    )
    shutil.rmtree(data, ignore_errors=True)
    return GroupResult(NAME, TITLE, rows, intro="From nothing to every chunk embedded, timed.", details=details)
