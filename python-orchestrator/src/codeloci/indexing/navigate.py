"""Symbol navigation over the symbol table (:mod:`codeloci.indexing.symbols`): definitions by
name, and the references and call graph of a definition.

**Definitions** (:meth:`Navigator.find`): a name or a qualified name (``Class.method``,
``module::fn``, ``pkg.mod.fn``: any trailing part of the module path and the qualified name)
matches exactly first, then case- and separator-insensitively (``code_index`` finds
``CodeIndex``), then fuzzily (a typo or two, by edit distance), optionally narrowed by kind and
path glob.

**References** (:meth:`Navigator.refs`): every place a name is used (called, passed as a
callback, a default value, a base class, a type) is resolved to the definition it means the
way the language would, as far as a parse can tell:

1. a bare name: the enclosing functions' nested definitions and imports, then the file's
   top-level definitions and imports (aliases followed, re-exports chased through the module
   that re-exports them, ``*`` imports searched), then, outside Python, a definition of that
   name anywhere when only one exists;
2. ``self.x`` / ``this.x`` / ``Self::x``: a member of the enclosing class (or of any ``impl``
   of that type), then of its base classes;
3. ``mod.x`` / ``a::b::x`` / ``Class.x``: the qualifier resolved as a name first (a module,
   a class), then ``x`` in it;
4. any other receiver (``obj.x``, ``f().x``): the method of that name when the project has one;
   when it has several the place is reported as ambiguous, with the candidates, never counted.

Callers and callees go up to three levels deep; a definition already on the path is not
expanded again, so recursion and mutual recursion end.
"""

from __future__ import annotations

import fnmatch
import io
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, Field, StringConstraints

from codeloci.indexing.symbols import (
    DefRow,
    ImportRow,
    RefRow,
    SymbolTable,
    normal_name,
    parse_imports,
)
from codeloci.models import GateInfo, _Strict

__all__ = [
    "Navigator",
    "SymbolEdge",
    "SymbolFindInput",
    "SymbolFindResult",
    "SymbolHit",
]

#: Kinds that hold methods.
CLASS_KINDS = frozenset({"class", "struct", "impl", "trait", "interface", "enum"})
#: Kinds whose nested definitions are private to them (scopes a bare name is looked up in).
FUNCTION_KINDS = frozenset({"function", "method", "macro"})
SELF_NAMES = frozenset({"self", "cls", "this", "Self", "self.__class__"})
#: How often an import chain is followed (re-exports of re-exports).
MAX_CHASE = 6
MAX_DEPTH = 3
#: Most definitions one answer lists (and follows references of).
MAX_RESULTS = 20
#: Most edges (and, separately, ambiguous places) one answer lists.
MAX_EDGES = 200
#: Time one query spends resolving places; a name with thousands of uses is answered with
#: what was resolved by then and ``truncated``.
QUERY_SECONDS = 5.0

Name = Annotated[str, StringConstraints(min_length=1, max_length=300, strip_whitespace=True)]
Glob = Annotated[str, StringConstraints(min_length=1, max_length=256)]


# ---------------------------------------------------------------------------- models


class SymbolFindInput(_Strict):
    """A symbol query. Asked of the retrieval gate like every search; of the gate's optional
    hints it publishes ``force`` alone, to keep the tool list short."""

    force: bool = False
    current_file: ClassVar[str | None] = None
    recent_tools: ClassVar[tuple[str, ...]] = ()
    query: Name
    kind: Annotated[str, StringConstraints(max_length=20)] | None = None
    path: Glob | None = None
    refs: Literal["callers", "callees", "both"] | None = None
    depth: Annotated[int, Field(ge=1, le=MAX_DEPTH)] | None = None  # None: 1


class SymbolHit(BaseModel):
    symbol: str = Field(description="Qualified name.")
    kind: str
    signature: str
    path: str
    start_line: int
    end_line: int
    doc: str | None = Field(default=None, description="First line of its docstring.")


class SymbolEdge(BaseModel):
    path: str
    line: int = Field(description="Line of the reference.")
    caller: str | None = Field(description="Definition the reference is in; null: top level.")
    callee: str = Field(description="Definition referred to.")
    callee_path: str
    callee_line: int
    call: bool = Field(description="false: a reference that is no call (callback, default).")
    depth: int
    direction: Literal["caller", "callee"]
    via: str = Field(description="How it was resolved: scope, import, class, name.")


class AmbiguousSite(BaseModel):
    path: str
    line: int
    caller: str | None
    name: str
    candidates: list[str] = Field(description="Definitions it may mean.")


Match = Literal["exact", "normalized", "fuzzy", "none"]


class SymbolFindResult(BaseModel):
    results: list[SymbolHit] = Field(description="Definitions the query names.")
    match: Match = Field(
        description="How the name matched: exact, ignoring case/separators, fuzzy, none."
    )
    edges: list[SymbolEdge] = Field(default_factory=list, description="With refs: the graph.")
    ambiguous: list[AmbiguousSite] = Field(
        default_factory=list, description="Places not resolved to one definition."
    )
    external: list[str] = Field(
        default_factory=list, description="Callees outside the index (libraries, builtins)."
    )
    truncated: bool = Field(
        default=False, description="More edges than listed, or places left unresolved."
    )
    gate: GateInfo | None = Field(default=None, description="The retrieval gate's decision.")


# ---------------------------------------------------------------------------- resolution


@dataclass(frozen=True)
class _Module:
    """A module as a resolution target: the files that define it."""

    paths: tuple[str, ...]


Target = DefRow | _Module


def _distinct(defs: Iterable[DefRow]) -> list[DefRow]:
    """``defs`` without repeats, and without an ``impl`` block that stands beside the type of
    the same name (both are top-level ``Shape`` in Rust: the type is what a name means)."""
    seen: dict[int, DefRow] = {}
    for d in defs:
        seen.setdefault(d.id, d)
    out = list(seen.values())
    types = {(d.path, d.qname) for d in out if d.kind != "impl"}
    return [d for d in out if d.kind != "impl" or (d.path, d.qname) not in types]


def _key(d: DefRow) -> tuple[str, str]:
    """What tells definitions apart: the overloads of a function (``@overload``) and the
    function they declare are one definition."""
    return (d.path, d.qname)


@dataclass
class _Resolved:
    defs: list[DefRow] = field(default_factory=list)
    via: str = ""
    ambiguous: bool = False
    external: bool = False

    def __post_init__(self) -> None:
        self.defs = _distinct(self.defs)


def _many(defs: Iterable[DefRow]) -> bool:
    """More than one definition (overloads of one count once)."""
    return len({_key(d) for d in defs}) > 1


def _strip_generics(name: str) -> str:
    name = re.sub(r"<.*>", "", name).strip().lstrip("&*")
    return name.split("::")[-1].split(".")[-1].strip()


#: Methods of Python's built-in types: ``x.update()`` on a receiver of unknown type is as
#: likely a dict's as the project's one ``update``, so such a name is never resolved by
#: name alone.
_BUILTIN_METHODS = frozenset(
    name
    for kind in (dict, list, str, set, bytes, tuple, int, io.BufferedReader, io.TextIOWrapper)
    for name in dir(kind)
)
_PARAM_SKIP = frozenset({"self", "cls", "this", "&self", "&mut self", "mut self", "/", "*"})


def _split_top(text: str) -> list[str]:
    """``text`` split at commas outside brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([{<":
            depth += 1
        elif ch in ")]}>" and depth:
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _type_name(annotation: str) -> str | None:
    """The class an annotation names, as a (dotted) name: ``Optional[Context]``,
    ``Context | None``, ``"Context"``, ``&mut Shape``, ``Box<dyn Shape>`` → ``Context`` /
    ``Shape``; None when it names none."""
    text = annotation.strip().strip("'\"")
    m = re.fullmatch(r"(?:typing\.)?Optional\[(.*)\]", text)
    if m:
        text = m.group(1)
    text = next((t.strip() for t in text.split("|") if t.strip() not in ("None", "null")), "")
    text = re.sub(r"^(?:&\s*(?:'\w+\s+)?(?:mut\s+)?|dyn\s+|impl\s+|mut\s+)+", "", text)
    text = re.split(r"[\[<(]", text, maxsplit=1)[0].strip().strip("'\"")
    return text if re.fullmatch(r"[A-Za-z_$][\w$]*(?:(?:\.|::)[A-Za-z_$][\w$]*)*", text) else None


def _params(signature: str) -> dict[str, str | None]:
    """Parameter names of a function's signature and the class each is annotated with."""
    start = signature.find("(")
    if start < 0:
        return {}
    depth = 0
    end = len(signature)
    for i in range(start, len(signature)):
        if signature[i] in "([{":
            depth += 1
        elif signature[i] in ")]}":
            depth -= 1
            if depth == 0:
                end = i
                break
    out: dict[str, str | None] = {}
    for part in _split_top(signature[start + 1 : end]):
        part = part.strip()
        if not part or part in _PARAM_SKIP:
            continue
        head = part.partition("=")[0]
        name, _, annotation = head.partition(":")
        name = re.sub(r"^(?:\*\*|\*|\.\.\.|mut\s+|readonly\s+|public\s+|private\s+)", "", name)
        name = name.strip().rstrip("?")
        if re.fullmatch(r"[A-Za-z_$][\w$]*", name):
            out[name] = _type_name(annotation) if annotation else None
    return out


_BASES = re.compile(r"^\s*class\s+[\w$]+\s*(?:\[[^\]]*\])?\s*\((.*)\)\s*$", re.S)
_EXTENDS = re.compile(r"\bextends\s+([\w$.]+)")


def _bases(signature: str) -> list[str]:
    """Base class names from a class signature (Python ``class C(A, m.B)``, TS ``extends``)."""
    m = _BASES.match(signature)
    if m:
        out = []
        for part in m.group(1).split(","):
            part = part.strip()
            if part and "=" not in part:
                out.append(re.sub(r"\[.*\]", "", part))
        return out
    return _EXTENDS.findall(signature)


class _Resolver:
    """One query's resolution state: caches of the rows it has read."""

    def __init__(self, nav: Navigator) -> None:
        self.nav = nav
        self.con = nav.table.con
        self._defs: dict[int, DefRow | None] = {}
        self._file_top: dict[str, dict[str, list[DefRow]]] = {}
        self._imports: dict[str, list[ImportRow]] = {}
        self._language: dict[str, str] = {}
        self._members: dict[tuple[int, str], list[DefRow]] = {}
        self._bound: dict[int, frozenset[str]] = {}
        self._named: dict[str, list[DefRow]] = {}
        self._by_name: dict[tuple[str, str, bool], _Resolved] = {}
        self._modules: dict[str, _Module | None] = {}
        self._by_type: dict[str, dict[str, list[DefRow]]] = {}
        self._in_module: dict[tuple[tuple[str, ...], str], list[Target]] = {}
        nav._refresh()  # once: the module maps stand for this whole query
        #: when a query stops resolving more places (a very common name: `fmt`, `new`)
        self.deadline = time.monotonic() + QUERY_SECONDS
        self.cut = False

    # -------------------------------------------------------------- rows

    def defn(self, def_id: int | None) -> DefRow | None:
        if def_id is None:
            return None
        if def_id not in self._defs:
            row = self.con.execute(
                "SELECT id, path, qname, name, kind, signature, doc, start, end, parent "
                "FROM defs WHERE id = ?",
                (def_id,),
            ).fetchone()
            self._defs[def_id] = DefRow(*row) if row else None
        return self._defs[def_id]

    def defs_where(self, sql: str, args: Sequence[object]) -> list[DefRow]:
        rows = self.con.execute(
            "SELECT id, path, qname, name, kind, signature, doc, start, end, parent FROM defs "
            f"WHERE {sql}",
            tuple(args),
        ).fetchall()
        out = [DefRow(*r) for r in rows]
        for d in out:
            self._defs[d.id] = d
        return out

    def top(self, path: str) -> dict[str, list[DefRow]]:
        """The file's definitions by qualified name."""
        if path not in self._file_top:
            by: dict[str, list[DefRow]] = {}
            for d in self.defs_where("path = ?", (path,)):
                by.setdefault(d.qname, []).append(d)
            self._file_top[path] = by
        return self._file_top[path]

    def imports(self, path: str) -> list[ImportRow]:
        if path not in self._imports:
            rows = self.con.execute(
                "SELECT path, line, local, module, name, scope FROM imports WHERE path = ?",
                (path,),
            ).fetchall()
            self._imports[path] = [ImportRow(*r) for r in rows]
        return self._imports[path]

    def named(self, name: str) -> list[DefRow]:
        """Every definition called ``name`` (a common one is asked for once per place)."""
        if name not in self._named:
            self._named[name] = self.defs_where("name = ?", (name,))
        return self._named[name]

    def bound(self, scope: int) -> frozenset[str]:
        """Names definition ``scope`` binds locally (assigns, loops over, takes as parameter)."""
        if scope not in self._bound:
            rows = self.con.execute("SELECT name FROM binds WHERE scope = ?", (scope,))
            self._bound[scope] = frozenset(str(r[0]) for r in rows)
        return self._bound[scope]

    def language(self, path: str) -> str:
        if path not in self._language:
            row = self.con.execute("SELECT language FROM files WHERE path = ?", (path,)).fetchone()
            self._language[path] = str(row[0]) if row else ""
        return self._language[path]

    def chain(self, def_id: int | None) -> list[DefRow]:
        """``def_id``'s definition and its ancestors, innermost first."""
        out: list[DefRow] = []
        seen: set[int] = set()
        d = self.defn(def_id)
        while d is not None and d.id not in seen:
            out.append(d)
            seen.add(d.id)
            d = self.defn(d.parent)
        return out

    # -------------------------------------------------------------- modules

    def module(self, key: str) -> _Module | None:
        if key not in self._modules:
            paths = self.nav.module_paths(key, fresh=False)
            self._modules[key] = _Module(tuple(paths)) if paths else None
        return self._modules[key]

    def in_module(self, mod: _Module, name: str, depth: int = 0) -> list[Target]:
        """``name`` as a module ``mod`` defines or re-exports it, or its submodule (computed
        once per query; a cycle of ``*`` imports ends at the answer in progress)."""
        key = (mod.paths, name)
        if key not in self._in_module:
            self._in_module[key] = []
            self._in_module[key] = self._in_module_uncached(mod, name, depth)
        return self._in_module[key]

    def _in_module_uncached(self, mod: _Module, name: str, depth: int) -> list[Target]:
        out: list[Target] = []
        for path in mod.paths:
            found = [d for d in self.top(path).get(name, []) if d.parent is None]
            if found:
                out.extend(found)
                continue
            if depth >= MAX_CHASE:
                continue
            for imp in self.imports(path):
                if imp.scope is None and imp.local == name:
                    out.extend(self.follow(imp, depth + 1))
            if not out:
                for imp in self.imports(path):
                    if imp.scope is None and imp.local == "*":
                        star = self.module(imp.module)
                        if star is not None:
                            out.extend(self.in_module(star, name, depth + 1))
        if not out:
            keys = {self.nav.module_of(p, fresh=False) for p in mod.paths}
            for key in keys:
                sub = self.module(f"{key}.{name}" if key else name)
                if sub is not None:
                    out.append(sub)
        return out

    def follow(self, imp: ImportRow, depth: int = 0) -> list[Target]:
        """What an import binds, in the project (empty: outside it)."""
        mod = self.module(imp.module) if imp.module else None
        if imp.name is None:
            return [mod] if mod is not None else []
        if mod is None:
            sub = self.module(f"{imp.module}.{imp.name}" if imp.module else imp.name)
            return [sub] if sub is not None else []
        if imp.name == "default":
            tops = [
                d
                for p in mod.paths
                for ds in self.top(p).values()
                for d in ds
                if d.parent is None and d.kind in ("class", "function")
            ]
            return list(tops[:1]) if len(tops) == 1 else []
        return self.in_module(mod, imp.name, depth)

    # -------------------------------------------------------------- names

    def name(self, path: str, scope: int | None, name: str) -> tuple[list[Target], str]:
        """A bare ``name`` used in ``path`` inside definition ``scope``: what it binds to and
        how it was found (``scope``, ``import``), or nothing."""
        for d in self.chain(scope):
            if d.kind not in FUNCTION_KINDS:
                continue
            inner = [x for x in self.top(path).get(f"{d.qname}.{name}", []) if x.parent == d.id]
            if inner:
                return list(inner), "scope"
            for imp in self.imports(path):
                if imp.scope == d.id and imp.local == name:
                    got = self.follow(imp)
                    return got, "import"
            if name in _params(d.signature) or name in self.bound(d.id):
                return [], "local"  # a parameter or a local: what it holds is not known here
        top: list[Target] = [d for d in self.top(path).get(name, []) if d.parent is None]
        imported = [
            t
            for imp in self.imports(path)
            if imp.scope is None and imp.local == name
            for t in self.follow(imp)
        ]
        if top and imported:
            return top + imported, "either"  # defined or imported as a condition decides
        if top:
            return top, "scope"
        for imp in self.imports(path):
            if imp.scope is None and imp.local == name:
                return self.follow(imp), "import"
        for imp in self.imports(path):
            if imp.scope is None and imp.local == "*":
                mod = self.module(imp.module)
                if mod is not None:
                    got = self.in_module(mod, name)
                    if got:
                        return got, "import"
        return [], ""

    def enclosing_class(self, scope: int | None) -> DefRow | None:
        for d in self.chain(scope):
            if d.kind in CLASS_KINDS:
                return d
        return None

    def members(self, cls: DefRow, name: str, depth: int = 0) -> list[DefRow]:
        """``name`` defined in class ``cls`` (any ``impl`` of the same type), else in its
        bases."""
        key = (cls.id, name)
        if key in self._members:
            return self._members[key]
        self._members[key] = []  # cuts cycles of bases
        found = [d for d in self.named(name) if d.parent == cls.id]
        if not found and cls.kind in ("impl", "trait", "struct", "enum"):
            found = list(self.by_type(name).get(_strip_generics(cls.name), []))
        if not found and depth < MAX_CHASE:
            for base in self.bases(cls):
                found.extend(self.members(base, name, depth + 1))
        self._members[key] = found
        return found

    def by_type(self, name: str) -> dict[str, list[DefRow]]:
        """The members called ``name`` by the type they belong to (generics stripped: every
        ``impl`` of a type is one type)."""
        if name not in self._by_type:
            out: dict[str, list[DefRow]] = {}
            for d in self.named(name):
                owner = self.defn(d.parent)
                if owner is not None and owner.kind in CLASS_KINDS:
                    out.setdefault(_strip_generics(owner.name), []).append(d)
            self._by_type[name] = out
        return self._by_type[name]

    def bases(self, cls: DefRow) -> list[DefRow]:
        """The project's classes ``cls`` names as its bases."""
        out: list[DefRow] = []
        for base in _bases(cls.signature):
            parts = base.split(".")
            got, _ = self.name(cls.path, cls.parent, parts[0])
            out += [
                t
                for t in self.walk(got, parts[1:])
                if isinstance(t, DefRow) and t.kind in CLASS_KINDS
            ]
        return out

    def walk(self, targets: list[Target], parts: Iterable[str]) -> list[Target]:
        """``targets`` then ``.part`` for each part: into modules and classes."""
        for part in parts:
            nxt: list[Target] = []
            for t in targets:
                if isinstance(t, _Module):
                    nxt.extend(self.in_module(t, part))
                elif t.kind in CLASS_KINDS:
                    nxt.extend(self.members(t, part))
            targets = nxt
        return targets

    def annotated(self, scope: int | None, name: str) -> list[str] | None:
        """The class a parameter ``name`` of the enclosing functions is annotated with, as
        name parts; None when it is no annotated parameter."""
        for d in self.chain(scope):
            if d.kind in FUNCTION_KINDS:
                params = _params(d.signature)
                if name in params:
                    ty = params[name]
                    return [p for p in re.split(r"\.|::", ty) if p] if ty else None
        return None

    def by_method_name(self, name: str, language: str = "", call: bool = True) -> _Resolved:
        """A member reached through a receiver of unknown type: the project's one method of
        that name when called; ambiguous when it has several, when (Python) built-in types
        have a method of that name too, or when it is not called (``x.name`` read: as likely
        an attribute of that name as the method)."""
        key = (name, language, call)
        if key in self._by_name:
            return self._by_name[key]
        methods = [
            d
            for d in self.named(name)
            if (owner := self.defn(d.parent)) is not None and owner.kind in CLASS_KINDS
        ]
        if (
            call
            and len({_key(d) for d in methods}) == 1
            and not (language == "python" and name in _BUILTIN_METHODS)
        ):
            got = _Resolved(methods, "name")
        else:
            got = _Resolved(methods, "name", ambiguous=bool(methods))
        self._by_name[key] = got
        return got

    def resolve(self, ref: RefRow) -> _Resolved:
        q = ref.qualifier
        language = self.language(ref.path)
        if q is None:
            targets, via = self.name(ref.path, ref.caller, ref.name)
            defs = [t for t in targets if isinstance(t, DefRow)]
            if defs or via:
                many = _many(defs) and via != "either"
                return _Resolved(defs, via, ambiguous=many, external=not targets)
            if language == "python":
                return _Resolved(external=True)
            tops = [d for d in self.nav.defs_named(ref.name, self) if d.parent is None]
            if not tops:
                tops = self.nav.defs_named(ref.name, self)
            return _Resolved(tops, "name", ambiguous=_many(tops), external=not tops)
        if q == "super()":
            cls = self.enclosing_class(ref.caller)
            if cls is None:
                return _Resolved(external=True)
            found = [m for b in self.bases(cls) for m in self.members(b, ref.name)]
            return _Resolved(found, "class", ambiguous=_many(found), external=not found)
        if q in SELF_NAMES or q == "":
            cls = self.enclosing_class(ref.caller)
            if cls is not None:
                found = self.members(cls, ref.name)
                if found:
                    return _Resolved(found, "class", ambiguous=_many(found))
                # an attribute, or a member of a base outside the project
                return _Resolved(external=True)
            return self.by_method_name(ref.name, language, ref.call)
        if q == "?":
            return self.by_method_name(ref.name, language, ref.call)
        parts = [p for p in re.split(r"\.|::", q) if p]
        if not parts:
            return self.by_method_name(ref.name, language, ref.call)
        if parts[0] in ("self", "this") and len(parts) > 1:
            return self.by_method_name(ref.name, language, ref.call)
        typed = self.annotated(ref.caller, parts[0])
        if typed is not None:
            got, _ = self.name(ref.path, ref.caller, typed[0])
            owners = self.walk(self.walk(got, typed[1:]), parts[1:])
            found = [t for t in self.walk(owners, [ref.name]) if isinstance(t, DefRow)]
            if found:
                return _Resolved(found, "type", ambiguous=_many(found))
            if any(isinstance(t, DefRow) and t.kind in CLASS_KINDS for t in owners):
                return _Resolved(external=True)  # an attribute, or a base's outside the project
        if language == "rust" and parts[0] in ("crate", "super", "self"):
            bound = parse_imports(f"use {'::'.join(parts)}::{ref.name};", ref.path, "rust")
            mod = self.module(bound[0][1]) if bound else None
            start: list[Target] = [mod] if mod is not None else []
            rest: list[str] = []
            via = "import"
        else:
            whole = [i for i in self.imports(ref.path) if i.local == q and i.name is None]
            if whole:
                start, rest, via = self.follow(whole[0]), [], "import"
            else:
                start, via = self.name(ref.path, ref.caller, parts[0])
                rest = parts[1:]
                if not start and language == "rust":
                    start = [
                        d
                        for d in self.nav.defs_named(_strip_generics(parts[-1]), self)
                        if d.kind in CLASS_KINDS
                    ]
                    rest, via = [], "name"
        if not start:
            if via == "import":
                return _Resolved(external=True)  # an import from outside the project
            return self.by_method_name(ref.name, language, ref.call)
        owners = self.walk(start, rest)
        found = [t for t in self.walk(owners, [ref.name]) if isinstance(t, DefRow)]
        if found:
            return _Resolved(found, via or "import", ambiguous=_many(found))
        if any(isinstance(t, _Module) or t.kind in CLASS_KINDS for t in owners):
            return _Resolved(external=True)  # a member the project does not define
        return self.by_method_name(ref.name, language, ref.call)


# ---------------------------------------------------------------------------- queries


def _bounded_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance of ``a`` and ``b``, or ``limit + 1`` once it exceeds ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        best = i
        for j, cb in enumerate(b, 1):
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            cur.append(v)
            best = min(best, v)
        if best > limit:
            return limit + 1
        prev = cur
    return prev[-1]


def _hit(d: DefRow) -> SymbolHit:
    return SymbolHit(
        symbol=d.qname,
        kind=d.kind,
        signature=d.signature,
        path=d.path,
        start_line=d.start,
        end_line=d.end,
        doc=d.doc,
    )


class Navigator:
    """Queries over one project's :class:`SymbolTable`."""

    def __init__(self, table: SymbolTable, root_name: str = "") -> None:
        self.table = table
        self.root_name = root_name
        self._version = -1
        self._modules: dict[str, list[str]] = {}
        self._module_of: dict[str, str] = {}
        self._names: list[str] = []

    def _refresh(self) -> None:
        version = self.table.version()
        if version == self._version:
            return
        modules: dict[str, list[str]] = {}
        module_of: dict[str, str] = {}
        for path, module in self.table.con.execute("SELECT path, module FROM files"):
            module_of[path] = module
            parts = module.split(".") if module else []
            for i in range(len(parts)):  # every suffix: `pkg.mod` and `mod` find `src.pkg.mod`
                modules.setdefault(".".join(parts[i:]), []).append(path)
        self._modules, self._module_of = modules, module_of
        self._names = [r[0] for r in self.table.con.execute("SELECT DISTINCT lname FROM defs")]
        self._version = version

    def module_paths(self, key: str, *, fresh: bool = True) -> list[str]:
        """Files of module ``key``; ``fresh=False`` trusts the maps of the last refresh (one
        query's resolver refreshes once)."""
        if fresh:
            self._refresh()
        key = key.replace("/", ".").replace("::", ".").strip(".")
        if not key:
            return []
        found = self._modules.get(key)
        if found is None and self.root_name and key.split(".")[0] == self.root_name:
            found = self._modules.get(key.split(".", 1)[1]) if "." in key else None
        return sorted(found or [])

    def module_of(self, path: str, *, fresh: bool = True) -> str:
        if fresh:
            self._refresh()
        return self._module_of.get(path, "")

    def defs_named(self, name: str, r: _Resolver) -> list[DefRow]:
        return r.named(name)

    # -------------------------------------------------------------- definitions

    def _matches(
        self, rows: list[DefRow], parts: list[str], norm: bool, kind: str | None, glob: str | None
    ) -> list[DefRow]:
        out = []
        for d in rows:
            if kind and d.kind != kind:
                continue
            if glob and not fnmatch.fnmatch(d.path, glob):
                continue
            if len(parts) > 1:
                full = [*self._module_of.get(d.path, "").split("."), *d.qname.split(".")]
                want = parts[:-1]
                have = full[: len(full) - 1]
                if norm:
                    want = [normal_name(p) for p in want]
                    have = [normal_name(p) for p in have]
                else:
                    have = [_strip_generics(p) if "<" in p else p for p in have]
                if have[len(have) - len(want) :] != want:
                    continue
            out.append(d)
        return out

    def lookup(
        self, query: str, kind: str | None = None, glob: str | None = None
    ) -> tuple[list[DefRow], Match]:
        """Definitions ``query`` names and how it matched (exact, normalized, fuzzy, none)."""
        self._refresh()
        r = _Resolver(self)
        parts = [p for p in re.split(r"\.|::|#|/|\s+>\s+", query.strip()) if p]
        if not parts:
            return [], "none"
        last = parts[-1]
        found = self._matches(r.defs_where("name = ?", (last,)), parts, False, kind, glob)
        if found:
            return self._ranked(found), "exact"
        norm = normal_name(last)
        found = self._matches(r.defs_where("lname = ?", (norm,)), parts, True, kind, glob)
        if found:
            return self._ranked(found), "normalized"
        limit = 1 if len(norm) <= 4 else 2 if len(norm) <= 12 else 3
        near = sorted(
            (dist, n)
            for n in self._names
            if (dist := _bounded_distance(norm, n, limit)) <= limit and n
        )
        out: list[DefRow] = []
        for _, n in near[:20]:
            rows = r.defs_where("lname = ?", (n,))
            scoped = self._matches(rows, parts, True, kind, glob)
            out.extend(scoped or self._matches(rows, parts[-1:], True, kind, glob))
        return (out, "fuzzy") if out else ([], "none")

    @staticmethod
    def _ranked(rows: list[DefRow]) -> list[DefRow]:
        def key(d: DefRow) -> tuple[int, int, str, int]:
            test = int("test" in d.path.lower())
            return (test, d.qname.count("."), d.path, d.start)

        return sorted(rows, key=key)

    def find(self, args: SymbolFindInput) -> SymbolFindResult:
        """The definitions ``args.query`` names; with ``args.refs`` also their callers and/or
        callees to ``args.depth``."""
        rows, how = self.lookup(args.query, args.kind, args.path)
        out = SymbolFindResult(results=[_hit(d) for d in rows[:MAX_RESULTS]], match=how)
        if args.refs is not None:
            self._graph(rows[: 5 if how == "fuzzy" else MAX_RESULTS], args, out)
        return out

    # -------------------------------------------------------------- references

    @staticmethod
    def aliases(name: str, r: _Resolver) -> list[str]:
        """``name`` and every name an import binds it to (``import x as y``), transitively."""
        names = [name]
        for _ in range(MAX_CHASE):
            marks = ",".join("?" * len(names))
            more = [
                str(row[0])
                for row in r.con.execute(
                    f"SELECT DISTINCT local FROM imports WHERE name IN ({marks}) "
                    f"AND local NOT IN ({marks})",
                    (*names, *names),
                )
            ]
            if not more:
                break
            names.extend(more)
        return names

    def callers_of(
        self, target: DefRow, r: _Resolver
    ) -> tuple[list[tuple[RefRow, _Resolved]], list[tuple[RefRow, _Resolved]]]:
        """References resolved to ``target`` and those that may mean it among others."""
        names = self.aliases(target.name, r)
        marks = ",".join("?" * len(names))
        rows = r.con.execute(
            "SELECT path, line, name, qualifier, call, caller FROM refs "
            f"WHERE name IN ({marks}) ORDER BY path, line",
            tuple(names),
        ).fetchall()
        sure: list[tuple[RefRow, _Resolved]] = []
        maybe: list[tuple[RefRow, _Resolved]] = []
        for row in rows:
            if time.monotonic() > r.deadline:
                r.cut = True
                break
            ref = RefRow(row[0], row[1], row[2], row[3], bool(row[4]), row[5])
            res = r.resolve(ref)
            if not any(_key(d) == _key(target) for d in res.defs):
                continue
            (maybe if res.ambiguous else sure).append((ref, res))
        return sure, maybe

    def callees_of(self, source: DefRow, r: _Resolver) -> list[tuple[RefRow, _Resolved]]:
        rows = r.con.execute(
            "SELECT path, line, name, qualifier, call, caller FROM refs WHERE caller = ? "
            "ORDER BY line",
            (source.id,),
        ).fetchall()
        return [
            (ref, r.resolve(ref))
            for row in rows
            if (ref := RefRow(row[0], row[1], row[2], row[3], bool(row[4]), row[5]))
        ]

    def _graph(self, targets: list[DefRow], args: SymbolFindInput, out: SymbolFindResult) -> None:
        """Adds to ``out`` the edges of ``targets`` as ``args.refs`` and ``args.depth`` ask."""
        r = _Resolver(self)
        seen_edges: set[tuple[str, int, tuple[str, str], str]] = set()
        seen_ambiguous: set[tuple[str, int, str]] = set()
        external: list[str] = []

        def qname(def_id: int | None) -> str | None:
            d = r.defn(def_id)
            return d.qname if d is not None else None

        def add(
            ref: RefRow,
            callee: DefRow,
            depth: int,
            direction: Literal["caller", "callee"],
            via: str,
        ) -> bool:
            key = (ref.path, ref.line, _key(callee), direction)
            if key in seen_edges:
                return True
            if len(out.edges) >= MAX_EDGES:
                out.truncated = True
                return False
            seen_edges.add(key)
            out.edges.append(
                SymbolEdge(
                    path=ref.path,
                    line=ref.line,
                    caller=qname(ref.caller),
                    callee=callee.qname,
                    callee_path=callee.path,
                    callee_line=callee.start,
                    call=ref.call,
                    depth=depth,
                    direction=direction,
                    via=via,
                )
            )
            return True

        def note(ref: RefRow, res: _Resolved) -> None:
            key = (ref.path, ref.line, ref.name)
            if key in seen_ambiguous or len(out.ambiguous) >= MAX_EDGES:
                return
            seen_ambiguous.add(key)
            out.ambiguous.append(
                AmbiguousSite(
                    path=ref.path,
                    line=ref.line,
                    caller=qname(ref.caller),
                    name=ref.name if ref.qualifier is None else f"{ref.qualifier}.{ref.name}",
                    candidates=sorted({f"{d.qname} ({d.path})" for d in res.defs})[:10],
                )
            )

        if args.refs in ("callers", "both"):
            frontier = list(targets)
            visited = {_key(d) for d in targets}
            for depth in range(1, (args.depth or 1) + 1):
                nxt: list[DefRow] = []
                for target in frontier:
                    sure, maybe = self.callers_of(target, r)
                    for ref, res in sure:
                        if not add(ref, target, depth, "caller", res.via):
                            break
                        caller = r.defn(ref.caller)
                        if caller is not None and _key(caller) not in visited:
                            visited.add(_key(caller))
                            nxt.append(caller)
                    for ref, res in maybe:
                        note(ref, res)
                frontier = nxt
        if args.refs in ("callees", "both"):
            frontier = list(targets)
            visited = {_key(d) for d in targets}
            for depth in range(1, (args.depth or 1) + 1):
                nxt = []
                for source in frontier:
                    for ref, res in self.callees_of(source, r):
                        if res.ambiguous:
                            note(ref, res)
                            continue
                        if not res.defs:
                            if res.external and ref.call and ref.name not in external:
                                external.append(
                                    ref.name
                                    if ref.qualifier in (None, "?")
                                    else f"{ref.qualifier}.{ref.name}"
                                )
                            continue
                        for callee in res.defs:
                            if not add(ref, callee, depth, "callee", res.via):
                                break
                            if _key(callee) not in visited:
                                visited.add(_key(callee))
                                nxt.append(callee)
                frontier = nxt
        out.external = external[:50]
        out.truncated = out.truncated or r.cut
