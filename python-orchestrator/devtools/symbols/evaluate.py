"""``symbol_find`` against a ground truth that is not our own heuristic: Jedi's static analysis.

For each package (installed in this virtualenv, not in ``just eval``'s corpus) a copy of its
source is the project. Jedi (``pip install jedi``, offline) names

* every function and class the package defines (its definition line and enclosing
  definitions), and
* for each function or method of a deterministic sample, every reference to it in the package:
  calls, callbacks, default values, nested callers; its definition and import statements
  excluded.

Our side is what the tool answers: the package chunked by the real ``codeloci-ast`` into a
:class:`~codeloci.indexing.symbols.SymbolTable` (what an index run writes) and queried through
:class:`~codeloci.indexing.navigate.Navigator` (what ``symbol_find`` runs). Scores:

* definitions: recall of ``symbol_find(<module>.<qualified name>)``: the right file with the
  definition line inside the range of an answer;
* callers: micro-averaged precision and recall of ``symbol_find(..., refs="callers")``'s
  (path, line) places against Jedi's, over the sample; places reported as ambiguous are not
  counted as answers (the tool says they are not).

``python -m devtools.symbols.evaluate [--packages requests click] [--sample 60] [--json]``
from ``python-orchestrator/``. Jedi's answers are kept in ``devtools/symbols/truth/`` (one file
per package and version), so the bench group ``symbols`` reruns without Jedi.
"""

from __future__ import annotations

import argparse
import ast
import importlib.metadata
import json
import random
import shutil
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from codeloci.bridge import RustBridge
from codeloci.config import find_rust_server
from codeloci.indexing.navigate import Navigator, SymbolFindInput, SymbolFindResult
from codeloci.indexing.symbols import SymbolTable

__all__ = [
    "PACKAGES",
    "Truth",
    "build_table",
    "copy_package",
    "load_truth",
    "score",
]

#: Installed packages measured by default: neither is in ``just eval``'s corpus (the standard
#: library, Rust crates, JavaScript files).
PACKAGES = ("requests", "click")
TRUTH_DIR = Path(__file__).resolve().parent / "truth"
SAMPLE = 60
SEED = 15


@dataclass
class Truth:
    """Jedi's answers for one package: definitions and the callers of a sample."""

    package: str
    version: str
    #: (module-qualified name, path, definition line)
    definitions: list[tuple[str, str, int]]
    #: (module-qualified name, path, definition line, [(path, line), ...])
    callers: list[tuple[str, str, int, list[tuple[str, int]]]]

    def to_json(self) -> dict[str, Any]:
        return {
            "package": self.package,
            "version": self.version,
            "definitions": self.definitions,
            "callers": self.callers,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Truth:
        return cls(
            package=data["package"],
            version=data["version"],
            definitions=[(str(q), str(p), int(n)) for q, p, n in data["definitions"]],
            callers=[
                (str(q), str(p), int(n), [(str(a), int(b)) for a, b in sites])
                for q, p, n, sites in data["callers"]
            ],
        )


def package_source(package: str) -> Path:
    module = __import__(package)
    return Path(str(module.__file__)).resolve().parent


def copy_package(package: str, dest: Path) -> Path:
    """A project holding the package's Python files under ``<dest>/<package>/``."""
    root = dest / package
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(
        package_source(package), root / package, ignore=shutil.ignore_patterns("__pycache__")
    )
    return root


def _import_lines(path: Path) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import | ast.ImportFrom):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def jedi_truth(package: str, root: Path, sample: int = SAMPLE, seed: int = SEED) -> Truth:
    """Jedi's definitions and the references of a sample of the package's functions."""
    import jedi  # type: ignore[import-untyped,import-not-found,unused-ignore]  # pip install jedi

    project = jedi.Project(root, added_sys_path=[], smart_sys_path=False)
    files = sorted(root.rglob("*.py"))
    definitions: list[tuple[str, str, int]] = []
    functions: list[tuple[str, str, int, int, Path]] = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        script = jedi.Script(path=path, project=project)
        module = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        for name in script.get_names(all_scopes=True, definitions=True, references=False):
            if name.type not in ("function", "class"):
                continue
            code = name.get_line_code().lstrip()
            if not code.startswith(("def ", "async def ", "class ")):
                continue  # an import or an assignment naming a function
            chain: list[str] = []
            node: Any = name
            while node is not None and node.type != "module":
                chain.append(node.name)
                node = node.parent()
            qualified = ".".join([module, *reversed(chain)])
            definitions.append((qualified, rel, int(name.line)))
            if name.type == "function" and not name.name.startswith("__"):
                functions.append((qualified, rel, int(name.line), int(name.column), path))
    # one entry per function: an @overload declaration and its implementation are one
    unique = sorted({(q, rel): (q, rel, n, c, p) for q, rel, n, c, p in functions}.values())
    rng = random.Random(seed)
    picked = sorted(rng.sample(unique, min(sample, len(unique))))
    imports = {p: _import_lines(p) for p in files}
    callers: list[tuple[str, str, int, list[tuple[str, int]]]] = []
    for qualified, rel, line, column, path in picked:
        script = jedi.Script(path=path, project=project)
        sites: set[tuple[str, int]] = set()
        for ref in script.get_references(line, column, scope="project"):
            if ref.is_definition() or ref.module_path is None:
                continue
            where = Path(ref.module_path)
            if root not in where.parents or ref.line in imports.get(where, set()):
                continue
            sites.add((where.relative_to(root).as_posix(), int(ref.line)))
        callers.append((qualified, rel, line, sorted(sites)))
    version = importlib.metadata.version(package)
    return Truth(package, version, definitions, callers)


def truth_path(package: str) -> Path:
    return TRUTH_DIR / f"{package}-{importlib.metadata.version(package)}.json"


def load_truth(package: str, root: Path, *, refresh: bool = False) -> Truth:
    """The kept Jedi answers for the installed version, computed (Jedi needed) when missing."""
    path = truth_path(package)
    if path.exists() and not refresh:
        return Truth.from_json(json.loads(path.read_text()))
    truth = jedi_truth(package, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(truth.to_json(), indent=0) + "\n")
    return truth


async def build_table(root: Path, table_path: Path) -> SymbolTable:
    """The project's symbol table as an index run writes it (``chunk`` with ``symbols``)."""
    command = find_rust_server()
    if command is None:
        raise SystemExit("codeloci-ast not found")
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py"))
    table = SymbolTable(table_path)
    async with RustBridge(command, [root]) as bridge:
        for i in range(0, len(files), 200):
            result = await bridge.chunk(
                {"paths": files[i : i + 200], "root": str(root), "symbols": True}
            )
            table.update(result["files"])
    return table


def _names(qualified: str, symbol: str) -> bool:
    return qualified == symbol or qualified.endswith("." + symbol)


def _inside(result: SymbolFindResult, path: str, line: int) -> bool:
    return any(h.path == path and h.start_line <= line <= h.end_line for h in result.results)


def score(nav: Navigator, truth: Truth) -> dict[str, Any]:
    """Definition recall and caller precision/recall of ``nav`` against ``truth``."""
    found = sum(
        _inside(nav.find(SymbolFindInput(query=q)), path, line)
        for q, path, line in truth.definitions
    )
    hits = answered = expected = 0
    ambiguous = 0
    misses: list[str] = []
    wrong: list[str] = []
    for qualified, path, _line, sites in truth.callers:
        result = nav.find(SymbolFindInput(query=qualified, path=path, refs="callers"))
        # the definition Jedi names (with its @overload declarations, one definition)
        targets = [h for h in result.results if h.path == path and _names(qualified, h.symbol)]
        ours: set[tuple[str, int]] = set()
        if targets:
            want = {(t.symbol, t.path) for t in targets}
            ours = {
                (e.path, e.line)
                for e in result.edges
                if e.direction == "caller" and (e.callee, e.callee_path) in want
            }
        ambiguous += len(result.ambiguous)
        theirs = set(sites)
        hits += len(ours & theirs)
        answered += len(ours)
        expected += len(theirs)
        misses += [f"{qualified} <- {p}:{n}" for p, n in sorted(theirs - ours)]
        wrong += [f"{qualified} <- {p}:{n}" for p, n in sorted(ours - theirs)]
    return {
        "package": truth.package,
        "version": truth.version,
        "definitions": len(truth.definitions),
        "definition_recall": round(found / max(1, len(truth.definitions)), 4),
        "functions": len(truth.callers),
        "true_sites": expected,
        "answered_sites": answered,
        "caller_precision": round(hits / max(1, answered), 4),
        "caller_recall": round(hits / max(1, expected), 4),
        "ambiguous_places": ambiguous,
        "missed": misses,
        "wrong": wrong,
    }


async def evaluate(
    packages: Iterable[str], work: Path, refresh: bool = False
) -> list[dict[str, Any]]:
    out = []
    for package in packages:
        root = copy_package(package, work)
        truth = load_truth(package, root, refresh=refresh)
        table = await build_table(root, work / f"{package}.symbols.sqlite")
        out.append(score(Navigator(table, root.name), truth))
        table.close()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--packages", nargs="+", default=list(PACKAGES))
    parser.add_argument("--refresh", action="store_true", help="ask Jedi again")
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        results = anyio.run(evaluate, args.packages, Path(tmp), args.refresh)
    if args.json:
        json.dump(results, sys.stdout, indent=1)
        return
    for r in results:
        print(
            f"{r['package']} {r['version']}: definitions {r['definitions']} recall "
            f"{r['definition_recall']:.3f}; callers of {r['functions']} functions: "
            f"{r['true_sites']} true sites, precision {r['caller_precision']:.3f}, recall "
            f"{r['caller_recall']:.3f} ({r['ambiguous_places']} ambiguous places listed)"
        )
        for line in r["missed"][:40]:
            print("  missed", line)
        for line in r["wrong"][:40]:
            print("  wrong ", line)


if __name__ == "__main__":
    main()
