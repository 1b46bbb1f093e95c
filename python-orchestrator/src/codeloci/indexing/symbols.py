"""The project's symbol table: every definition, name reference and import of the indexed files,
for ``symbol_find`` and ``symbol_refs`` (:mod:`codeloci.indexing.navigate`).

One SQLite file per project next to the manifest (``<data_dir>/code-index/<project>.symbols.
sqlite``). The Rust ``chunk`` call that feeds the store returns each file's definitions,
references and imports when asked (``symbols: true``); an index run replaces a changed file's
rows in one transaction and drops a removed file's, so an edge never outlives its file.

Why SQLite rather than store payloads: a reference is not a chunk (a file has hundreds), the
graph queries are lookups by name and by caller that an index answers directly, and a
transaction per batch is atomic on its own, like the manifest's ``os.replace``. The manifest
stays the commit point: a run that dies after writing rows re-chunks those files on the next
run (same rows again), files the manifest no longer lists are pruned at the end of every run,
and files the manifest lists but the table lacks (a new or deleted table) are chunked again for
their symbols alone (:meth:`SymbolTable.missing`).

Names a definition binds locally (assignments, loop targets, parameters) are kept per
definition: a use of such a name inside it is the local, not the module's definition of that
name. Imports are parsed here from the statement text the parser returns (Python ``import`` and
``from … import … as …``, relative ones made absolute; TS/JS ``import … from``; Rust ``use``
with braces, aliases and globs) into rows ``local name → (module, name)``, the module being a
key of :func:`module_key` for files of the project.
"""

from __future__ import annotations

import bisect
import logging
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from codeloci.ast_types import ChunkedFile, Definition, FileSymbols, ImportSite

__all__ = [
    "SYMBOLS_FORMAT",
    "DefRow",
    "ImportRow",
    "RefRow",
    "SymbolTable",
    "module_key",
    "normal_name",
    "parse_imports",
    "symbols_path",
]

log = logging.getLogger(__name__)

#: Version of the table layout; a table of another version is dropped and rebuilt.
SYMBOLS_FORMAT = 2

#: Bare names never worth a row: Python's most common builtins and constants, the receivers,
#: keywords some grammars report as identifiers. They would only swell the table.
_NOISE = frozenset(
    "None True False self cls this super len str int float bool list dict set tuple print "
    "isinstance getattr setattr hasattr range enumerate zip sorted repr object issubclass "
    "Exception ValueError TypeError KeyError IndexError RuntimeError AttributeError "
    "NotImplementedError OSError undefined null console Some Ok Err Vec String Option Box "
    "usize u8 u32 u64 i32 i64 f64".split()
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS files(path TEXT PRIMARY KEY, language TEXT, module TEXT);
CREATE TABLE IF NOT EXISTS defs(
    id INTEGER PRIMARY KEY, path TEXT, qname TEXT, name TEXT, lname TEXT, kind TEXT,
    signature TEXT, doc TEXT, start INTEGER, end INTEGER, parent INTEGER);
CREATE INDEX IF NOT EXISTS defs_name ON defs(name);
CREATE INDEX IF NOT EXISTS defs_lname ON defs(lname);
CREATE INDEX IF NOT EXISTS defs_path ON defs(path);
CREATE TABLE IF NOT EXISTS refs(
    path TEXT, line INTEGER, name TEXT, qualifier TEXT, call INTEGER, caller INTEGER);
CREATE INDEX IF NOT EXISTS refs_name ON refs(name);
CREATE INDEX IF NOT EXISTS refs_caller ON refs(caller);
CREATE INDEX IF NOT EXISTS refs_path ON refs(path);
CREATE TABLE IF NOT EXISTS imports(
    path TEXT, line INTEGER, local TEXT, module TEXT, name TEXT, scope INTEGER);
CREATE INDEX IF NOT EXISTS imports_path ON imports(path, local);
CREATE INDEX IF NOT EXISTS imports_name ON imports(name);
CREATE TABLE IF NOT EXISTS binds(path TEXT, name TEXT, scope INTEGER);
CREATE INDEX IF NOT EXISTS binds_scope ON binds(scope, name);
CREATE INDEX IF NOT EXISTS binds_path ON binds(path);
"""


def symbols_path(data_dir: Path, project: str) -> Path:
    return Path(data_dir) / "code-index" / f"{project}.symbols.sqlite"


def normal_name(name: str) -> str:
    """A name compared case- and separator-insensitively: ``Code_Index`` ~ ``codeindex``."""
    return re.sub(r"[\W_]+", "", name).lower()


_SOURCE_ROOTS = ("src", "lib")


def module_key(path: str, language: str) -> str:
    """The dotted module name of a file as imports name it: ``pkg/mod.py`` → ``pkg.mod``,
    ``pkg/__init__.py`` → ``pkg``, ``src/a/mod.rs`` → ``a``, ``web/index.ts`` → ``web``.
    Imports match it by suffix (``mod`` and ``pkg.mod`` both find ``src.pkg.mod``)."""
    p = PurePosixPath(path)
    parts = list(p.parent.parts)
    stem = p.stem
    if language == "python":
        if stem != "__init__":
            parts.append(stem)
    elif language == "rust":
        if parts and parts[0] in _SOURCE_ROOTS:
            parts = parts[1:]
        if stem not in ("mod", "lib", "main"):
            parts.append(stem)
    elif stem != "index":
        parts.append(stem)
    return ".".join(parts)


@dataclass(frozen=True)
class DefRow:
    id: int
    path: str
    qname: str
    name: str
    kind: str
    signature: str
    doc: str | None
    start: int
    end: int
    parent: int | None


@dataclass(frozen=True)
class RefRow:
    path: str
    line: int
    name: str
    qualifier: str | None
    call: bool
    caller: int | None


@dataclass(frozen=True)
class ImportRow:
    path: str
    line: int
    local: str
    module: str
    name: str | None
    scope: int | None


# ---------------------------------------------------------------------------- import parsing


def _python_module(module: str, path: str) -> str:
    """``module`` of a ``from`` import made absolute (dotted, from the project root)."""
    dots = len(module) - len(module.lstrip("."))
    if not dots:
        return module
    package = module_key(path, "python").split(".") if path else []
    if not path.endswith("__init__.py"):
        package = package[:-1]
    if dots > 1:
        package = package[: len(package) - (dots - 1)] if dots - 1 <= len(package) else []
    rest = module[dots:]
    return ".".join([*package, *([rest] if rest else [])])


def _python_imports(text: str, path: str) -> list[tuple[str, str, str | None]]:
    text = text.replace("(", " ").replace(")", " ").replace("\\", " ")
    out: list[tuple[str, str, str | None]] = []
    if text.startswith("from "):
        m = re.match(r"from\s+(\S+)\s+import\s+(.*)$", text)
        if not m:
            return out
        module = _python_module(m.group(1), path)
        for item in m.group(2).split(","):
            words = item.split()
            if not words:
                continue
            name = words[0]
            local = words[2] if len(words) >= 3 and words[1] == "as" else name
            out.append((local, module, name))
        return out
    if text.startswith("import "):
        for item in text[len("import ") :].split(","):
            words = item.split()
            if not words:
                continue
            module = words[0]
            if len(words) >= 3 and words[1] == "as":
                out.append((words[2], module, None))
            else:
                out.append((module, module, None))  # `a.b.c` as written
                head = module.split(".")[0]
                if head != module:
                    out.append((head, head, None))
    return out


def _script_module(spec: str, path: str) -> str:
    if not spec.startswith("."):
        return spec  # a package: outside the project unless a path of it matches
    base = PurePosixPath(path).parent
    parts: list[str] = list(base.parts)
    for part in PurePosixPath(spec).parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part != ".":
            parts.append(part)
    target = ".".join(parts)
    return re.sub(r"\.(ts|tsx|js|jsx|mjs|cjs)$", "", target).removesuffix(".index")


def _script_imports(text: str, path: str) -> list[tuple[str, str, str | None]]:
    m = re.match(r"import\s+(?:type\s+)?(.*?)\s*from\s*['\"]([^'\"]+)['\"]", text)
    if not m:
        return []
    module = _script_module(m.group(2), path).replace("/", ".")
    clause = m.group(1)
    out: list[tuple[str, str, str | None]] = []
    braces = re.search(r"\{(.*)\}", clause)
    if braces:
        for item in braces.group(1).split(","):
            words = item.replace("type ", "").split()
            if not words:
                continue
            local = words[2] if len(words) >= 3 and words[1] == "as" else words[0]
            out.append((local, module, words[0]))
        clause = clause[: braces.start()] + clause[braces.end() :]
    star = re.search(r"\*\s+as\s+([\w$]+)", clause)
    if star:
        out.append((star.group(1), module, None))
        clause = clause[: star.start()] + clause[star.end() :]
    default = clause.strip().strip(",").strip()
    if re.fullmatch(r"[\w$]+", default):
        out.append((default, module, "default"))
    return out


def _rust_tree(spec: str, prefix: list[str], out: list[tuple[str, str, str | None]]) -> None:
    spec = spec.strip()
    if not spec:
        return
    brace = spec.find("{")
    if brace >= 0 and spec.endswith("}"):
        head = [p for p in spec[:brace].split("::") if p]
        inner = spec[brace + 1 : -1]
        depth, start = 0, 0
        for i, ch in enumerate(inner):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                _rust_tree(inner[start:i], prefix + head, out)
                start = i + 1
        _rust_tree(inner[start:], prefix + head, out)
        return
    words = spec.split()
    alias = words[2] if len(words) >= 3 and words[1] == "as" else None
    parts = prefix + [p for p in words[0].split("::") if p]
    if not parts:
        return
    if parts[-1] == "self":
        parts = parts[:-1]
        if parts:
            out.append((alias or parts[-1], ".".join(parts), None))
        return
    module = ".".join(parts[:-1])
    if parts[-1] == "*":
        out.append(("*", module, None))
    else:
        out.append((alias or parts[-1], module, parts[-1]))


def _rust_module(module: str, path: str) -> str:
    parts = module.split(".") if module else []
    here = module_key(path, "rust").split(".") if path else []
    here = [p for p in here if p]
    if parts and parts[0] == "crate":
        return ".".join(parts[1:])
    if parts and parts[0] == "self":
        return ".".join(here + parts[1:])
    if parts and parts[0] == "super":
        up = here
        while parts and parts[0] == "super":
            up = up[:-1]
            parts = parts[1:]
        return ".".join(up + parts)
    return module


def _rust_imports(text: str, path: str) -> list[tuple[str, str, str | None]]:
    m = re.match(r"(?:pub(?:\([^)]*\))?\s+)?use\s+(.*?);?\s*$", text)
    if not m:
        return []
    raw: list[tuple[str, str, str | None]] = []
    _rust_tree(m.group(1).rstrip(";"), [], raw)
    return [(local, _rust_module(module, path), name) for local, module, name in raw]


def parse_imports(text: str, path: str, language: str) -> list[tuple[str, str, str | None]]:
    """``(local name, module key, imported name or None for a whole module)`` for each name
    one import statement binds; ``*`` as the local name for a glob."""
    text = " ".join(text.split())
    if language == "python":
        return _python_imports(text, path)
    if language in ("typescript", "tsx", "javascript"):
        return _script_imports(text, path)
    if language == "rust":
        return _rust_imports(text, path)
    return []


# ---------------------------------------------------------------------------- the table


class _Innermost:
    """The id of the innermost definition whose lines contain a line (the shortest; of equal
    ones the later), for one file's definitions. Built once per file, so a reference costs a
    bisection, not a pass over every definition (quadratic in a large file's size)."""

    def __init__(self, defs: Sequence[Definition], ids: Sequence[int]) -> None:
        # Elementary segments between definition boundaries, each painted once, innermost first.
        self._bounds = sorted({d["start_line"] for d in defs} | {d["end_line"] + 1 for d in defs})
        self._owner: list[int | None] = [None] * len(self._bounds)
        skip = list(range(len(self._bounds) + 1))

        def unpainted(i: int) -> int:
            while skip[i] != i:
                skip[i] = skip[skip[i]]
                i = skip[i]
            return i

        order = sorted(
            range(len(defs)), key=lambda k: (defs[k]["end_line"] - defs[k]["start_line"], -k)
        )
        for k in order:
            start, end = defs[k]["start_line"], defs[k]["end_line"]
            if end < start:
                continue
            stop = bisect.bisect_left(self._bounds, end + 1)
            i = unpainted(bisect.bisect_left(self._bounds, start))
            while i < stop:
                self._owner[i] = ids[k]
                skip[i] = i + 1
                i = unpainted(i + 1)

    def __call__(self, line: int) -> int | None:
        i = bisect.bisect_right(self._bounds, line) - 1
        return self._owner[i] if i >= 0 else None


class SymbolTable:
    """One project's symbol table. Thread-safe: one connection per thread, writes serialised
    by SQLite (WAL: readers never wait for a writer)."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        #: A read-only server's table: read as an immutable file (no lock, no ``-shm`` file
        #: created), or empty when there is none; never written.
        self.read_only = read_only
        self._local = threading.local()
        self._write_lock = threading.Lock()
        if read_only:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._open_checked()

    def _open_checked(self) -> None:
        try:
            con = self._connect()
            row = con.execute("SELECT value FROM meta WHERE key='format'").fetchone()
            if row is not None and row[0] != str(SYMBOLS_FORMAT):
                raise sqlite3.DatabaseError(f"format {row[0]}")
            con.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES('format', ?)", (SYMBOLS_FORMAT,)
            )
            con.commit()
        except sqlite3.DatabaseError as exc:
            log.warning("symbol table %s unusable (%s); rebuilding it", self.path, exc)
            self.close()
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            con = self._connect()
            con.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES('format', ?)", (SYMBOLS_FORMAT,)
            )
            con.commit()

    def _connect(self) -> sqlite3.Connection:
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is None and self.read_only:
            if self.path.exists():
                uri = f"{self.path.resolve().as_uri()}?immutable=1"
                con = sqlite3.connect(uri, uri=True, check_same_thread=False)
            else:
                con = sqlite3.connect(":memory:", check_same_thread=False)
                con.executescript(_SCHEMA)
            self._local.con = con
            return con
        if con is None:
            con = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            con.executescript(_SCHEMA)
            self._local.con = con
        return con

    def close(self) -> None:
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None

    @property
    def con(self) -> sqlite3.Connection:
        return self._connect()

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        if self.read_only:
            raise sqlite3.OperationalError(f"the symbol table {self.path} is open read-only")
        with self._write_lock:
            con = self.con
            try:
                con.execute("BEGIN IMMEDIATE")
                yield con
                con.execute(
                    "INSERT INTO meta(key, value) VALUES('generation', 1) ON CONFLICT(key) "
                    "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
                )
                con.commit()
            except BaseException:
                con.rollback()
                raise

    # -------------------------------------------------------------- writes

    def update(
        self, files: Iterable[ChunkedFile], between: Callable[[], object] | None = None
    ) -> int:
        """Replaces the rows of each file that carries ``symbols``; returns how many files.
        ``between`` is called before each file (an index run's pause for searches)."""
        done = 0
        with self._writing() as con:
            for info in files:
                symbols = info.get("symbols")
                if symbols is None:
                    continue
                if between is not None:
                    between()
                self._replace(con, info["path"], str(info["language"]), symbols)
                done += 1
        return done

    def _replace(
        self, con: sqlite3.Connection, path: str, language: str, symbols: FileSymbols
    ) -> None:
        self._delete(con, [path])
        con.execute(
            "INSERT INTO files(path, language, module) VALUES(?, ?, ?)",
            (path, language, module_key(path, language)),
        )
        defs = symbols["definitions"]
        ids: list[int] = []
        for d in defs:
            parent = d.get("parent")
            cur = con.execute(
                "INSERT INTO defs(path, qname, name, lname, kind, signature, doc, start, end, "
                "parent) VALUES(?,?,?,?,?,?,?,?,?,?)",
                (
                    path,
                    d["qualified_name"],
                    d["name"],
                    normal_name(d["name"]),
                    str(d["kind"]),
                    d["signature"],
                    d.get("doc"),
                    d["start_line"],
                    d["end_line"],
                    ids[parent] if parent is not None and parent < len(ids) else None,
                ),
            )
            ids.append(int(cur.lastrowid or 0))
        innermost = _Innermost(defs, ids)
        con.executemany(
            "INSERT INTO refs(path, line, name, qualifier, call, caller) VALUES(?,?,?,?,?,?)",
            [
                (
                    path,
                    r["line"],
                    r["name"],
                    r.get("qualifier"),
                    int(bool(r["call"])),
                    innermost(r["line"]),
                )
                for r in symbols["references"]
                if r.get("qualifier") is not None or r["name"] not in _NOISE
            ],
        )
        con.executemany(
            "INSERT INTO imports(path, line, local, module, name, scope) VALUES(?,?,?,?,?,?)",
            list(self._import_rows(path, language, symbols["imports"], innermost)),
        )
        scoped = {
            (b["name"], scope)
            for b in symbols.get("bindings", [])
            if (scope := innermost(b["line"])) is not None
        }
        con.executemany(
            "INSERT INTO binds(path, name, scope) VALUES(?,?,?)",
            [(path, name, scope) for name, scope in sorted(scoped)],
        )

    @staticmethod
    def _import_rows(
        path: str,
        language: str,
        imports: Sequence[ImportSite],
        innermost: _Innermost,
    ) -> Iterator[tuple[str, int, str, str, str | None, int | None]]:
        for site in imports:
            scope = innermost(site["line"])
            for local, module, name in parse_imports(site["text"], path, language):
                yield (path, site["line"], local, module, name, scope)

    @staticmethod
    def _delete(con: sqlite3.Connection, paths: Sequence[str]) -> None:
        for table in ("files", "defs", "refs", "imports", "binds"):
            con.executemany(f"DELETE FROM {table} WHERE path = ?", [(p,) for p in paths])

    def remove(self, paths: Sequence[str]) -> None:
        if paths:
            with self._writing() as con:
                self._delete(con, paths)

    def clear(self) -> None:
        with self._writing() as con:
            for table in ("files", "defs", "refs", "imports", "binds"):
                con.execute(f"DELETE FROM {table}")

    def paths(self) -> set[str]:
        return {str(r[0]) for r in self.con.execute("SELECT path FROM files")}

    def missing(self, listed: Iterable[str]) -> list[str]:
        """Of the manifest's ``listed`` files, those the table has no rows for."""
        have = self.paths()
        return sorted(p for p in listed if p not in have)

    def retain(self, listed: Iterable[str]) -> int:
        """Drops the rows of files not in ``listed`` (the manifest's); returns how many."""
        keep = set(listed)
        gone = [p for p in self.paths() if p not in keep]
        self.remove(gone)
        return len(gone)

    def version(self) -> int:
        """A number every committed write raises, whichever process or thread made it (what
        caches of the table are keyed by)."""
        row = self.con.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0
