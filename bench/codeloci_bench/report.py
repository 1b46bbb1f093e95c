"""Renders groups as markdown and merges them into BENCHMARKS.md.

Each group's section lives between `<!-- bench:group NAME begin -->` and
`<!-- bench:group NAME end -->`; a run replaces only the sections of the groups it ran, so
`--only rust` keeps every other group's last result.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

from .model import GroupResult, Row, Stat

BEGIN = "<!-- bench:group {name} begin -->"
END = "<!-- bench:group {name} end -->"
SECTION_RE = re.compile(r"<!-- bench:group (\S+) begin -->\n(.*?)<!-- bench:group \1 end -->", re.DOTALL)


def fmt(x: float) -> str:
    """Three significant digits, no exponent for everyday magnitudes."""
    if math.isnan(x):
        return "n/a"
    ax = abs(x)
    if ax >= 100:
        return f"{x:,.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    if ax >= 1:
        return f"{x:.2f}"
    if ax >= 0.01:
        return f"{x:.3f}"
    return f"{x:.2g}"


def fmt_stat(s: Stat | None, suffix: str = "") -> tuple[str, str]:
    if s is None:
        return "—", ""
    spread = f"{fmt(s.low)}–{fmt(s.high)}" if s.runs > 1 else "single run"
    return f"**{fmt(s.median)}{suffix}**", f"{spread} (n={s.runs})"


def meets_cell(row: Row) -> str:
    verdict = row.meets
    if verdict is None:
        return "reference (no target)" if row.target is None else "not measured"
    return "✅ yes" if verdict else "❌ **NO — misses target**"


def table(rows: Sequence[Row]) -> str:
    head = (
        "| Benchmark | Median | Min–max (runs) | Unit | Anchor (same run, same input) "
        "| Speed-up ours ÷ anchor: median | min–max | Target | Meets? | Notes |\n"
        "|---|---:|---|---|---|---:|---|---|---|---|\n"
    )
    lines = []
    for r in rows:
        value, spread = fmt_stat(r.value)
        ratio, ratio_spread = fmt_stat(r.ratio, "×")
        target = r.target.text if r.target else "—"
        lines.append(
            f"| {r.name} | {value} | {spread} | {r.unit} | {r.anchor or '—'} | {ratio} | "
            f"{ratio_spread or '—'} | {target} | {meets_cell(r)} | {r.notes} |"
        )
    return head + "\n".join(lines) + "\n"


def render_group(g: GroupResult, machine_summary: str, when: str) -> str:
    missed = [r.name for r in g.rows if r.meets is False]
    verdict = (
        f"**{len(missed)} row(s) miss their target:** " + "; ".join(missed) + "."
        if missed
        else "Every row with a target meets it."
    )
    parts = [
        f"## {g.title}\n",
        f"_Measured {when}, {g.mode}, {g.elapsed_s / 60:.1f} min; {machine_summary}; load average (1 min) {g.load}._\n",
        g.intro.strip() + "\n" if g.intro.strip() else "",
        table(g.rows),
        verdict + "\n",
        g.details.strip() + "\n" if g.details.strip() else "",
    ]
    return "\n".join(p for p in parts if p)


def read_sections(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    return {m.group(1): m.group(2) for m in SECTION_RE.finditer(path.read_text(encoding="utf-8"))}


def write(
    path: Path,
    header: str,
    order: Sequence[str],
    fresh: dict[str, str],
    placeholders: dict[str, str],
    retired: Sequence[str] = (),
) -> None:
    """Writes the file: header, then each group in `order` (fresh, else kept, else placeholder),
    then any kept sections of groups the harness no longer knows, except `retired` ones."""
    kept = read_sections(path)
    out = [header.rstrip() + "\n"]
    names = list(order) + [n for n in kept if n not in order and n not in retired]
    for name in names:
        body = fresh.get(name) or kept.get(name) or placeholders.get(name)
        if body is None:
            continue
        out.append(BEGIN.format(name=name) + "\n" + body.rstrip() + "\n" + END.format(name=name) + "\n")
    path.write_text("\n".join(out), encoding="utf-8")
