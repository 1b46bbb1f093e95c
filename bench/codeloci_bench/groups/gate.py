"""Retrieval gate: precision / recall / skip rate on the held-out split, and decision latency.

Wraps `python -m devtools.gate.evaluate --json OUT` (the team's own evaluation, run from
python-orchestrator/ since devtools is not installed: the shipped artefact scored on the held-out
test split it was never tuned on, and the latency of `Gate.decide` over --n decisions, single
thread, after warm-up), run `rounds` times: the quality figures are deterministic, the latency
is a median (min, max) over the runs.
"""

from __future__ import annotations

import json
import subprocess
import sys

from .. import product
from ..machine import package_version
from ..model import Context, GroupResult, Row, Stat, Target

NAME = "gate"
TITLE = "Retrieval gate"


def run(ctx: Context) -> GroupResult:
    rounds = 2 if ctx.quick else 3
    n = 5_000 if ctx.quick else 20_000
    results = []
    for i in range(rounds):
        out = ctx.workdir / f"gate-{i}.json"
        ctx.log(f"  devtools.gate.evaluate run {i + 1}/{rounds} (--n {n})")
        subprocess.run(
            [sys.executable, "-m", "devtools.gate.evaluate", "--json", str(out), "--n", str(n)],
            cwd=ctx.repo / "python-orchestrator",  # devtools/ is beside the package, not installed
            check=True,
            capture_output=True,
            env=product.env(ctx),
            timeout=1800,
        )
        results.append(json.loads(out.read_text()))
    last = results[-1]
    test = last["gate_with_fixture_vocabulary"]["test"]
    lat = [r["latency"] for r in results]
    thr = last["artefact"]["threshold"]
    rows = [
        Row(
            "recall of need-retrieval queries (held-out test)",
            Stat.of([test["recall"]]),
            "fraction",
            target=Target("value", ">=", 0.95, "≥ 0.95"),
            notes=f"{test['n_retrieve']} need-retrieval queries; gate + fixture vocabulary, threshold {thr}",
        ),
        Row(
            "skip rate of no-need queries (held-out test)",
            Stat.of([test["skip_rate"]]),
            "fraction",
            target=Target("value", ">=", 0.60, "≥ 0.60"),
            notes=f"{test['n_skip']} no-need queries",
        ),
        Row(
            "precision of 'retrieve' (held-out test)",
            Stat.of([test["precision"]]),
            "fraction",
            notes=f"overall skip rate {test['overall_skip_rate']:.3f} of all {test['n']} test queries",
        ),
        Row(
            "gate decision latency p50",
            Stat.of([x["p50_us"] / 1000 for x in lat]),
            "ms",
            notes=f"`Gate.decide`, {n:,} decisions per run",
        ),
        Row(
            "gate decision latency p99",
            Stat.of([x["p99_us"] / 1000 for x in lat]),
            "ms",
            target=Target("value", "<", 1.0, "p99 < 1 ms"),
            notes=f"max {Stat.of([x['max_us'] / 1000 for x in lat]).median:.2f} ms (median over runs)",
        ),
        Row(
            "gate artefact cold load",
            Stat.of([r["artefact"]["cold_load_ms"] for r in results]),
            "ms",
            notes=f"{last['artefact']['kind']}, {last['artefact']['bytes']:,} bytes",
        ),
    ]
    ds = last["dataset"]
    splits = ", ".join(f"{k} {v['n']} ({v['retrieve']} need retrieval)" for k, v in ds["by_split"].items())
    cands = []
    for c in last.get("candidates", []):
        t = (c.get("test") or {}) if isinstance(c, dict) else {}
        if t:
            cands.append(
                f"{c.get('candidate', '?')}: recall {t.get('recall', float('nan')):.3f}, "
                f"skip {t.get('skip_rate', float('nan')):.3f}"
            )
    details = (
        f"- **Dataset:** `{ds['path']}`, {ds['n']} labelled queries built by the team (repository-specific "
        f"questions vs general programming knowledge, self-contained tasks with the code in the prompt, "
        f"conversational turns); splits: {splits}. The test split is held out: never used for training or "
        "threshold selection. Rebuild: `just train-gate`.\n"
        + (f"- **Candidates on the held-out split:** {'; '.join(cands)}.\n" if cands else "")
        + f"- **Method:** `python -m devtools.gate.evaluate --json OUT --n {n}`, {rounds} runs.\n"
        f"- **Versions:** codeloci {package_version('codeloci')}, Python {sys.version.split()[0]}."
    )
    return GroupResult(
        NAME, TITLE, rows, intro="From the team's gate evaluation on its held-out split.", details=details
    )
