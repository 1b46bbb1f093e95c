"""The MCP tool ``symbol_find``: definitions by name and, with ``refs``, their callers and
callees, from the symbol table every index run keeps (:mod:`codeloci.indexing.navigate`).

One tool rather than two (find, references): the two share every argument but ``refs`` and
``depth``, and a second tool's schema would cost the tool list more than the whole feature's
description. Wiring (one line in ``codeloci.server``): append :func:`register` to
``REGISTRATIONS``. It is a searching tool: the retrieval gate is asked first (a query naming a
symbol of the index is never gated out); the answer's text block is
:func:`render_symbol_find`.
"""

from __future__ import annotations

import weakref
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from codeloci.config import project_id_for
from codeloci.indexing.navigate import (
    Navigator,
    SymbolFindInput,
    SymbolFindResult,
)
from codeloci.indexing.symbols import SymbolTable
from codeloci.tools import ToolRegistry, ToolSpec

if TYPE_CHECKING:
    from codeloci.app import AppContext

__all__ = ["register", "render_symbol_find"]

DESCRIPTION = (
    "Definitions by name, Class.method or mod::fn (fuzzy ok); refs: their callers (incl. "
    "callbacks) or callees, depth<=3."
)

#: Ambiguous places the text shows (a common method name can have hundreds).
AMBIGUOUS_SHOWN = 10

_NAVIGATORS: weakref.WeakKeyDictionary[SymbolTable, Navigator] = weakref.WeakKeyDictionary()


async def _navigator(app: AppContext) -> Navigator:
    service = await app.indexing()
    root = Path(app.settings.project_root).resolve()
    table = service.index.symbol_table(project_id_for(root))
    nav = _NAVIGATORS.get(table)
    if nav is None:
        nav = _NAVIGATORS[table] = Navigator(table, root.name)
    return nav


async def _find(app: AppContext, args: SymbolFindInput, _: Any) -> SymbolFindResult:
    nav = await _navigator(app)
    return await anyio.to_thread.run_sync(partial(nav.find, args), abandon_on_cancel=True)


def _skipped(_: SymbolFindInput) -> SymbolFindResult:
    return SymbolFindResult(results=[], match="none")


def _gate_line(data: dict[str, Any]) -> list[str]:
    gate = data.get("gate")
    if not gate or gate.get("retrieve", True):
        return []
    return [
        f"The retrieval gate skipped this search (score {gate['score']:.2f} < threshold "
        f"{gate['threshold']:.2f}: {gate['reason']}); pass force=true to search anyway."
    ]


def _def_line(hit: dict[str, Any]) -> str:
    return f"{hit['path']}:{hit['start_line']}-{hit['end_line']} {hit['symbol']} ({hit['kind']})"


def render_symbol_find(data: dict[str, Any]) -> str:
    """``symbol_find``'s answer: a line per definition (signature and doc below it), then
    each edge as ``path:line caller -> callee`` indented by depth, then the ambiguous
    places."""
    results = data.get("results", [])
    out = [f"{len(results)} definition{'' if len(results) == 1 else 's'} ({data['match']} match)"]
    out.extend(_gate_line(data))
    for hit in results:
        out.append(_def_line(hit))
        out.append(f"    {hit['signature']}")
        if hit.get("doc"):
            out.append(f"    {hit['doc']}")
    for direction, title in (("caller", "callers"), ("callee", "callees")):
        edges = [e for e in data.get("edges", []) if e["direction"] == direction]
        if not edges:
            continue
        out.append(f"{title} ({len(edges)}):")
        for e in edges:
            use = "" if e["call"] else " [reference, not a call]"
            caller = e["caller"] or "<top level>"
            if direction == "caller":
                what = f"{caller} -> {e['callee']}"
            else:
                what = f"{caller} -> {e['callee']} ({e['callee_path']}:{e['callee_line']})"
            out.append(f"{'  ' * e['depth']}{e['path']}:{e['line']} {what}{use}")
    if data.get("truncated"):
        out.append("(incomplete: more edges, or a name too common to resolve every use of)")
    ambiguous = data.get("ambiguous", [])
    if ambiguous:
        out.append(f"ambiguous, not counted ({len(ambiguous)}):")
        for a in ambiguous[:AMBIGUOUS_SHOWN]:
            caller = a["caller"] or "<top level>"
            out.append(
                f"  {a['path']}:{a['line']} {caller} uses {a['name']}: may be "
                + ", ".join(a["candidates"])
            )
        if len(ambiguous) > AMBIGUOUS_SHOWN:
            out.append(f"  … {len(ambiguous) - AMBIGUOUS_SHOWN} more (in structuredContent)")
    if data.get("external"):
        out.append("outside the index: " + ", ".join(data["external"]))
    return "\n".join(out)


def register(registry: ToolRegistry) -> None:
    registry.add(
        ToolSpec(
            "symbol_find",
            DESCRIPTION,
            SymbolFindInput,
            SymbolFindResult,
            _find,
            gated=_skipped,
            render=render_symbol_find,
        )
    )
