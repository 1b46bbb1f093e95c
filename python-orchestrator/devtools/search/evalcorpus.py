"""The evaluation corpus: real code we did not write, with its doc comments removed.

Sources (whatever of them exists on this machine): Python standard-library modules, Rust
crates from ``~/.cargo/registry/src`` and JavaScript packages from the e2e tests'
``node_modules``. Each file is copied with its docstrings / ``///`` and ``//!`` doc comments /
``/** ... */`` blocks removed. Every function that had a doc comment gives a natural-language
case (the first sentence of its doc, the answer being the chunk that holds its definition line
in the stripped copy); functions with a distinctive name also give an identifier case (the bare
name). Selection is deterministic.
"""

from __future__ import annotations

import ast
import random
import re
import shutil
import sysconfig
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Case", "build_corpus"]

PYTHON_FILES = (
    "shutil.py",
    "tarfile.py",
    "difflib.py",
    "configparser.py",
    "textwrap.py",
    "calendar.py",
    "ftplib.py",
    "smtplib.py",
)
RUST_FILES = (
    "camino-*/src/lib.rs",
    "globset-*/src/glob.rs",
    "globset-*/src/lib.rs",
    "bytes-*/src/bytes.rs",
)
JS_FILES = (
    "commander/lib/command.js",
    "commander/lib/help.js",
    "commander/lib/option.js",
    "express/lib/response.js",
    "express/lib/request.js",
    "express/lib/application.js",
)
NL_PER_LANGUAGE = 150
IDENT_PER_LANGUAGE = 50
MIN_WORDS, MAX_WORDS = 4, 40
MIN_IDENT_CHARS = 6


@dataclass(frozen=True)
class Case:
    query: str
    category: str  # "nl" or "identifier"
    language: str
    path: str
    line: int
    symbol: str


@dataclass(frozen=True)
class _Target:
    doc: str
    path: str
    line: int
    name: str
    language: str


def _first_sentence(doc: str) -> str | None:
    lines = []
    for raw in doc.strip().splitlines():
        line = raw.strip()
        if not line or line.startswith(("@", "#", "```", ">>>")):
            break
        lines.append(line)
    text = " ".join(lines)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[`*]|\[|\]", "", text)
    text = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0].strip()
    words = text.split()
    return text if MIN_WORDS <= len(words) <= MAX_WORDS else None


# ---------------------------------------------------------------------- Python


def _py_defs(tree: ast.AST) -> Iterable[tuple[str, ast.AST]]:
    def walk(node: ast.AST, prefix: str) -> Iterable[tuple[str, ast.AST]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                yield name, child
                yield from walk(child, f"{name}.")

    return walk(tree, "")


def _strip_python(source: str, path: str) -> tuple[str, list[_Target]]:
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    docs: dict[str, str] = {}
    spans: list[tuple[int, int, bool, int]] = []  # start, end (1-based), only stmt, indent
    nodes: list[ast.AST] = [tree, *(n for _, n in _py_defs(tree))]
    for node in nodes:
        body = getattr(node, "body", [])
        if not body or not isinstance(body[0], ast.Expr):
            continue
        value = body[0].value
        if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
            continue
        expr = body[0]
        if getattr(node, "lineno", 0) == expr.lineno:
            continue  # docstring on the def line: leave it
        assert expr.end_lineno is not None
        spans.append((expr.lineno, expr.end_lineno, len(body) == 1, expr.col_offset))
    for name, node in _py_defs(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        doc = ast.get_docstring(node)
        if doc:
            docs[name] = doc
    for start, end, only, indent in sorted(spans, reverse=True):
        lines[start - 1 : end] = [" " * indent + "pass\n"] if only else []
    stripped = "".join(lines)
    targets = []
    counts = Counter(name for name, _ in _py_defs(ast.parse(stripped)))
    for name, node in _py_defs(ast.parse(stripped)):
        if name in docs and counts[name] == 1:
            line = int(getattr(node, "lineno", 0))
            targets.append(_Target(docs[name], path, line, name.rsplit(".", 1)[-1], "python"))
    return stripped, targets


# ---------------------------------------------------------------------- Rust and JS

_RUST_FN = re.compile(
    r'^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?(?:extern\s+"\w+"\s+)?'
    r"fn\s+(\w+)"
)
_JS_FN = re.compile(
    r"^\s*(?:export\s+)?(?:async\s+)?function\s*\*?\s*(\w+)\s*\("
    r"|^\s*(?:static\s+)?(?:async\s+)?(?:get\s+|set\s+)?(\w+)\s*\([^)]*\)\s*\{"
    r"|^\s*(?:[\w.]+\.)?(\w+)\s*=\s*(?:async\s+)?function\b"
)


def _strip_blocks(
    lines: list[str], blocks: list[tuple[int, int]], fn_re: re.Pattern[str], skip: str
) -> tuple[list[str], list[tuple[str, int, str]]]:
    """Remove the line ranges ``blocks`` (0-based, inclusive); return the kept lines and
    (doc text, new 1-based line, name) for each block followed by a function."""
    removed = [False] * len(lines)
    found: list[tuple[str, int, int, str]] = []
    for start, end in blocks:
        for i in range(start, end + 1):
            removed[i] = True
        j = end + 1
        while j < len(lines) and (not lines[j].strip() or re.match(skip, lines[j])):
            j += 1
        if j < len(lines):
            m = fn_re.match(lines[j])
            if m:
                name = next(g for g in m.groups() if g)
                found.append(("".join(lines[start : end + 1]), start, j, name))
    new_index: list[int] = []
    kept: list[str] = []
    for i, line in enumerate(lines):
        new_index.append(len(kept) + 1)
        if not removed[i]:
            kept.append(line)
    return kept, [(doc, new_index[j], name) for doc, _, j, name in found]


def _strip_rust(source: str, path: str) -> tuple[str, list[_Target]]:
    lines = source.splitlines(keepends=True)
    blocks: list[tuple[int, int]] = []
    i = 0
    while i < len(lines):
        if re.match(r"^\s*//[/!](?!/)", lines[i]):
            j = i
            while j + 1 < len(lines) and re.match(r"^\s*//[/!](?!/)", lines[j + 1]):
                j += 1
            blocks.append((i, j))
            i = j + 1
        else:
            i += 1
    kept, found = _strip_blocks(lines, blocks, _RUST_FN, r"^\s*#\[")
    targets = []
    for doc, line, name in found:
        text = "\n".join(re.sub(r"^\s*//[/!]\s?", "", x) for x in doc.splitlines())
        targets.append(_Target(text, path, line, name, "rust"))
    return "".join(kept), targets


def _strip_js(source: str, path: str) -> tuple[str, list[_Target]]:
    lines = source.splitlines(keepends=True)
    blocks: list[tuple[int, int]] = []
    i = 0
    while i < len(lines):
        if lines[i].lstrip().startswith("/**"):
            j = i
            while j < len(lines) and "*/" not in lines[j]:
                j += 1
            if j < len(lines) and lines[j].strip().endswith("*/"):
                blocks.append((i, j))
            i = j + 1
        else:
            i += 1
    kept, found = _strip_blocks(lines, blocks, _JS_FN, r"^\s*//")
    targets = []
    for doc, line, name in found:
        text = "\n".join(
            re.sub(r"^\s*(/\*\*|\*/|\*)\s?", "", x).replace("*/", "") for x in doc.splitlines()
        )
        if name in {"if", "for", "while", "switch", "catch", "function"}:
            continue
        targets.append(_Target(text, path, line, name, "javascript"))
    return "".join(kept), targets


# ---------------------------------------------------------------------- assembly


def _sources() -> list[tuple[str, Path, str]]:
    """(language, source file, relative destination) for every file found here."""
    found: list[tuple[str, Path, str]] = []
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for name in PYTHON_FILES:
        if (stdlib / name).is_file():
            found.append(("python", stdlib / name, f"python/{name}"))
    for registry in sorted((Path.home() / ".cargo/registry/src").glob("*")):
        for pattern in RUST_FILES:
            for path in sorted(registry.glob(pattern))[-1:]:
                crate = path.relative_to(registry).parts[0].rsplit("-", 1)[0]
                rel = "/".join(path.relative_to(registry).parts[1:])
                found.append(("rust", path, f"rust/{crate}/{rel}"))
        break
    modules = Path(__file__).resolve().parents[3] / "tests" / "e2e" / "node_modules"
    for name in JS_FILES:
        if (modules / name).is_file():
            found.append(("javascript", modules / name, f"js/{name}"))
    return found


def build_corpus(dest: Path, seed: int = 0) -> tuple[list[Case], dict[str, int]]:
    """Write the stripped files under ``dest``; return the cases and files per language."""
    if dest.exists():
        shutil.rmtree(dest)
    strip = {"python": _strip_python, "rust": _strip_rust, "javascript": _strip_js}
    targets: list[_Target] = []
    files: Counter[str] = Counter()
    for language, source, rel in _sources():
        text, found = strip[language](source.read_text(encoding="utf-8"), rel)
        out = dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        targets.extend(found)
        files[language] += 1
    rng = random.Random(seed)
    cases: list[Case] = []
    name_counts = Counter(t.name for t in targets)
    for language in sorted({t.language for t in targets}):
        mine = [t for t in targets if t.language == language]
        nl = [(t, q) for t in mine if (q := _first_sentence(t.doc))]
        repeated = Counter(q for _, q in nl)
        nl = [(t, q) for t, q in nl if repeated[q] == 1]
        for t, q in rng.sample(nl, min(NL_PER_LANGUAGE, len(nl))):
            cases.append(Case(q, "nl", language, t.path, t.line, t.name))
        distinct = [t for t in mine if name_counts[t.name] == 1 and len(t.name) >= MIN_IDENT_CHARS]
        for t in rng.sample(distinct, min(IDENT_PER_LANGUAGE, len(distinct))):
            cases.append(Case(t.name, "identifier", language, t.path, t.line, t.name))
    return cases, dict(files)
