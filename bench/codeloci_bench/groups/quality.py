"""Retrieval quality of code_search: Recall@1/10 and MRR@10 for lexical only, dense only, fused.

Wraps `python -m devtools.search.evaluate --json OUT` (the team's evaluation, see its module
docstring and python-orchestrator/devtools/search/evalcorpus.py): real code the team did not write,
doc comments removed from the indexed copy; natural-language queries are those doc comments,
identifier queries name the function ("where is X handled"); a hit counts when it is in the right
file and its line range holds the function's definition line. Deterministic: one run (n=1). Quick
runs evaluate the shipped dense-text style only; full runs also the alternative styles.

Then `--until-hybrid`: the same corpus indexed lexically and embedded batch by batch, in the
product's order (definitions first) and in store order, one after the other; after every batch
the natural-language queries go through fused search. Reported: seconds from the start of the
index run until their MRR@10 first comes within 0.005 of its fully embedded value (evaluation
time left out).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .. import product
from ..machine import package_version
from ..model import Context, GroupResult, Row, Stat, Target
from .embed import BASE_COMMIT

NAME = "quality"
TITLE = "Retrieval quality (code_search)"

PRIMARY_STYLE = "header"  # what the product embeds (IndexingService's dense_style)


def _per_definition(m: dict[str, float]) -> str:
    """The same ranking counted per definition (pieces of a split definition merged, as
    code_search answers), when the evaluation reports it."""
    if "def_mrr@10" not in m:
        return ""
    return (
        f"; per definition: MRR@10 {m['def_mrr@10']:.3f}, Recall@1 {m['def_recall@1']:.3f}, "
        f"Recall@10 {m['def_recall@10']:.3f}"
    )


def _evaluate(ctx: Context, *args: str, tree: Path | None = None) -> None:
    """The evaluation of the working tree, or of the source tree `tree` (an older commit's)."""
    env = product.env(ctx)
    if tree is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(tree / "python-orchestrator" / "src"), "."])
    proc = subprocess.run(
        [sys.executable, "-m", "devtools.search.evaluate", *args],
        cwd=(tree or ctx.repo) / "python-orchestrator",  # devtools/ is beside the package
        capture_output=True,
        text=True,
        env=env,
        timeout=3600,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"devtools.search.evaluate failed: {proc.stderr[-2000:]}")


def _old_tree(ctx: Context) -> Path:
    """BASE_COMMIT's python-orchestrator, extracted, with the evaluation's JavaScript sources."""
    tree = product.extract_commit(ctx, BASE_COMMIT, "python-orchestrator")
    modules = tree / "tests" / "e2e" / "node_modules"
    if not modules.is_symlink():
        modules.parent.mkdir(parents=True)
        modules.symlink_to(ctx.repo / "tests" / "e2e" / "node_modules")
    return tree


def _before_after(ctx: Context, now: dict[str, dict[str, float]]) -> tuple[list[Row], str]:
    """The shipped style evaluated with BASE_COMMIT's code (its embedder) in the same run."""
    out = ctx.workdir / "quality-before.json"
    ctx.log(f"  the same evaluation with the code of {BASE_COMMIT[:7]} (several minutes)")
    _evaluate(ctx, "--json", str(out), "--styles", PRIMARY_STYLE, tree=_old_tree(ctx))
    before = next(r for r in json.loads(out.read_text())["results"] if r["style"] == PRIMARY_STYLE)["rows"]
    rows = []
    for group in ("all", "nl"):
        b, a = before["fused"][group], now["fused"][group]
        rows.append(
            Row(
                f"MRR@10, fused, {group} queries: now vs before issue 14's embedding work",
                Stat.of([a["mrr@10"]]),
                "MRR@10",
                anchor=f"the same evaluation with the code of {BASE_COMMIT[:7]}",
                ratio=Stat.of([a["mrr@10"] / b["mrr@10"]]),
                target=Target("ratio", ">=", 1.0, "not lower"),
                notes=(
                    f"before {b['mrr@10']:.3f} (per definition {b['def_mrr@10']:.3f}), now {a['mrr@10']:.3f} "
                    f"(per definition {a['def_mrr@10']:.3f}); dense alone before {before['dense'][group]['mrr@10']:.3f}, "
                    f"now {now['dense'][group]['mrr@10']:.3f}"
                ),
            )
        )
    details = (
        f"- **Before/after:** `{BASE_COMMIT[:7]}` (main before issue 14's embedding work: 256 word pieces, float32 "
        "matrix products) extracted with `git archive` and evaluated the same way in the same run "
        f"(`--styles {PRIMARY_STYLE}`); speed-up column = now ÷ before."
    )
    return rows, details


def _until_hybrid(ctx: Context) -> tuple[list[Row], str]:
    out = ctx.workdir / "until-hybrid.json"
    ctx.log("  python -m devtools.search.evaluate --until-hybrid (several minutes)")
    _evaluate(ctx, "--until-hybrid", "--json", str(out))
    runs = {r["order"]: r for r in json.loads(out.read_text())["runs"]}
    ours, store = runs["definitions first"], runs["store order"]

    def note(r: dict[str, object]) -> str:
        return (
            f"{r['order']}: NL fused MRR@10 {r['lexical_nl_mrr@10']} lexical only → {r['final_nl_mrr@10']} "
            f"fully embedded, within {r.get('reached_within', 0)} of it after {r['reached_after_chunks']} of "
            f"{r['chunks']} chunks; lexically "
            f"searchable at {r['lexical_seconds']} s, fully embedded at {r['embedded_seconds']} s"
        )

    rows = [
        Row(
            "start → NL queries at hybrid quality (within 0.005 MRR@10), definitions embedded first",
            Stat.of([ours["reached_seconds"]]),
            "s",
            anchor="the same in store order (before issue 14)",
            ratio=Stat.of([store["reached_seconds"] / ours["reached_seconds"]]),
            notes=f"{note(ours)}; {note(store)}",
        )
    ]
    curve = ["| order | chunks embedded | s | NL fused MRR@10 |", "|---|---:|---:|---:|"]
    for r in (ours, store):
        curve += [f"| {r['order']} | {c} | {t} | {m:.3f} |" for c, t, m in r["curve"]]
    details = (
        "- **Until hybrid quality:** `python -m devtools.search.evaluate --until-hybrid` (n=1 per order, "
        f"batches of {ours['batch']}, one order after the other on 2 shared cores, so seconds carry the load; "
        "the chunk counts do not). Curve:\n\n" + "\n".join(curve)
    )
    return rows, details


def run(ctx: Context) -> GroupResult:
    styles = PRIMARY_STYLE if ctx.quick else "header,raw,summary"
    out = ctx.workdir / "quality.json"
    ctx.log(f"  python -m devtools.search.evaluate --styles {styles} (several minutes)")
    _evaluate(ctx, "--json", str(out), "--styles", styles)
    data = json.loads(out.read_text())
    primary = next(r for r in data["results"] if r["style"] == PRIMARY_STYLE)
    rows_by = primary["rows"]
    rows: list[Row] = []
    for label in ("lexical", "dense", "fused"):
        for group in ("all", "nl", "identifier"):
            m = rows_by[label].get(group)
            if not m:
                continue
            target = None
            if label == "fused" and group == "nl":
                target = Target("value", ">=", 0.6, "MRR@10 ≥ 0.6 on natural-language queries")
            rows.append(
                Row(
                    f"MRR@10, {label}, {group} queries",
                    Stat.of([m["mrr@10"]]),
                    "MRR@10",
                    target=target,
                    notes=f"n={m['n']:.0f}; Recall@1 {m['recall@1']:.3f}, Recall@10 {m['recall@10']:.3f}"
                    + _per_definition(m),
                )
            )
    best_single = max(rows_by["lexical"]["all"]["mrr@10"], rows_by["dense"]["all"]["mrr@10"])
    fused = rows_by["fused"]["all"]["mrr@10"]
    rows.append(
        Row(
            "fused MRR@10 − best single channel (all queries)",
            Stat.of([round(fused - best_single, 3)]),
            "MRR@10",
            target=Target("value", ">=", 0.03, "fused ≥ best single + 0.03"),
            notes=f"fused {fused:.3f}; lexical {rows_by['lexical']['all']['mrr@10']:.3f}; "
            f"dense {rows_by['dense']['all']['mrr@10']:.3f}",
        )
    )
    before_rows, before_details = _before_after(ctx, rows_by)
    rows += before_rows
    until_rows, until_details = _until_hybrid(ctx)
    rows += until_rows
    # full table, every style and fusion variant
    table = [
        "| dense text | channel | category | n | Recall@1 | Recall@10 | MRR@10 | ms/query |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for res in data["results"]:
        for label, groups in res["rows"].items():
            ms = groups.get("_latency", {}).get("ms_per_query", float("nan"))
            for group in ("all", "nl", "identifier"):
                m = groups.get(group)
                if m:
                    table.append(
                        f"| {res['style']} | {label} | {group} | {m['n']:.0f} | {m['recall@1']:.3f} | "
                        f"{m['recall@10']:.3f} | {m['mrr@10']:.3f} | {ms} |"
                    )
    langs = sorted(k for k in rows_by["fused"] if "/" in k)
    per_lang = ["| channel | " + " | ".join(langs) + " |", "|---|" + "---:|" * len(langs)]
    for label in ("lexical", "dense", "fused"):
        per_lang.append(f"| {label} | " + " | ".join(f"{rows_by[label][k]['mrr@10']:.3f}" for k in langs) + " |")
    cases = ", ".join(f"{k} {v}" for k, v in sorted(data["cases"].items()))
    details = "\n".join(
        [
            (
                f"- **Evaluation set:** {data['files']} files of real code the team did not write (see "
                "`python-orchestrator/devtools/search/evalcorpus.py`), doc comments removed from the indexed "
                f"copy; cases by category/language: {cases}. Natural-language (`nl`) queries are the removed doc "
                "comments; `identifier` queries name the function. Relevant = right file and the chunk's line range "
                "holds the definition line. The product embeds the `header` dense text (path + qualified name + "
                "signature + docstring + start of body)."
            ),
            "- **Indexing:** "
            + "; ".join(
                f"style `{r['style']}`: {r['chunks']} chunks in {r['index_seconds']} s" for r in data["results"]
            ),
            (
                f"- **Method:** `python -m devtools.search.evaluate --json OUT --styles {styles}` (the product's "
                "pipeline: Rust chunk, BM25 sparse, MiniLM int8 dense, fusion in Qdrant), one deterministic run."
            ),
            "",
            "All channels, styles and fusion variants:",
            "",
            "\n".join(table),
            "",
            f"MRR@10 per category/language (style `{PRIMARY_STYLE}`):",
            "",
            "\n".join(per_lang),
            "",
            before_details,
            until_details,
            "",
            (
                f"- **Versions:** codeloci {package_version('codeloci')}, onnxruntime "
                f"{package_version('onnxruntime')}, qdrant-edge-py {package_version('qdrant-edge-py')}."
            ),
        ]
    )
    return GroupResult(
        NAME, TITLE, rows, intro="Search quality on the team's evaluation set (`just eval`).", details=details
    )
