"""Symbol navigation end to end: real files indexed by the real ``codeloci-ast`` into the real
store and symbol table, then ``symbol_find`` queries as the tool runs them
(definitions by exact, qualified and fuzzy name; callers and callees across files through
imports and aliases, methods, recursion, ambiguity; edits and deletions)."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest
from helpers import serve

from codeloci.config import project_id_for
from codeloci.embedder import Embedder
from codeloci.indexing.navigate import Navigator, SymbolFindInput, SymbolFindResult
from codeloci.indexing.service import IndexingService
from codeloci.indexing.symbols import symbols_path
from codeloci.indexing.watch import watch_repository

from .conftest import needs_shared_store, open_service, store_env, write_files

pytestmark = pytest.mark.anyio

PY_FILES = {
    "pkg/__init__.py": """
        from .core import process as run_process
        """,
    "pkg/util.py": '''
        def helper(x):
            """Normalize one value."""
            return normalize(x)


        def normalize(x):
            return x
        ''',
    "pkg/other.py": """
        def helper(x):
            return x
        """,
    "pkg/core.py": """
        from pkg.util import helper as h, normalize
        import pkg.util as u


        def process(items, key=normalize):
            out = [h(i) for i in items]
            return sorted(out, key=key)


        def walk(node):
            for child in node.children:
                walk(child)


        class Base:
            def save(self):
                return self.validate()

            def validate(self):
                return True


        class Model(Base):
            def validate(self):
                return u.helper(1) and super().validate()

            def run(self):
                def inner():
                    return process([])

                return self.save(), inner()
        """,
    "app.py": """
        from pkg import run_process
        from pkg.core import Model


        def main(thing):
            run_process([1])
            Model().run()
            thing.validate()
        """,
}

TYPED_PY = {
    "pkg/typed.py": """
        from typing import overload
        from pkg.core import Model


        class Store:
            def update(self, other):
                return other


        @overload
        def parse(x: int) -> int: ...
        @overload
        def parse(x: str) -> str: ...
        def parse(x):
            return x


        def handle(model: Model, items, json=None):
            model.save()
            items.update({})
            parse(json)
            return parse(1)
        """,
}

TS_FILES = {
    "web/util.ts": """
        export function fmt(x: number): number {
          return x;
        }

        export class Store {
          get(k: string): string {
            return this.load(k);
          }

          load(k: string): string {
            return k;
          }
        }
        """,
    "web/main.ts": """
        import { fmt as format } from './util';
        import * as u from './util';

        export function show(): void {
          format(1);
          u.fmt(2);
          [1, 2].map(format);
          const s = new u.Store();
          s.get('a');
        }
        """,
}

RS_FILES = {
    "src/lib.rs": """
        mod geo;
        use crate::geo::{area, Shape as S};

        pub fn total(v: &[S]) -> f64 {
            v.iter().map(|s| area(s)).sum()
        }

        pub fn make() -> S {
            let f = area;
            S::new()
        }
        """,
    "src/geo.rs": """
        pub struct Shape {}

        impl Shape {
            pub fn new() -> Self {
                Shape {}
            }

            pub fn scale(&self) {
                self.check();
            }

            fn check(&self) {}
        }

        pub fn area(s: &Shape) -> f64 {
            s.scale();
            1.0
        }
        """,
}


async def _index(service: IndexingService, root: Path) -> Navigator:
    await service.index_repository(root, wait_for_embedding=False)
    table = service.index.symbol_table(project_id_for(root))
    return Navigator(table, root.name)


def _found(nav: Navigator, query: str, **kw: object) -> list[tuple[str, str]]:
    result = nav.find(SymbolFindInput(query=query, **kw))  # type: ignore[arg-type]
    return [(h.path, h.symbol) for h in result.results]


def _callers(result: SymbolFindResult) -> set[tuple[str, int, str | None]]:
    return {(e.path, e.line, e.caller) for e in result.edges if e.direction == "caller"}


def _refs(nav: Navigator, query: str, refs: str = "callers", **kw: object) -> SymbolFindResult:
    return nav.find(SymbolFindInput(query=query, refs=refs, **kw))  # type: ignore[arg-type]


@pytest.fixture
def code(tmp_path: Path) -> Path:
    root = (tmp_path / "proj").resolve()
    root.mkdir()
    write_files(root, {**PY_FILES, **TYPED_PY, **TS_FILES, **RS_FILES})
    return root


async def test_definitions_by_exact_qualified_normalized_and_fuzzy_name(
    code: Path, data_dir: Path, rust_server: list[str], embedder: Embedder
) -> None:
    async with open_service(data_dir, [code], rust_server, embedder) as service:
        nav = await _index(service, code)
        assert set(_found(nav, "helper")) == {("pkg/util.py", "helper"), ("pkg/other.py", "helper")}
        assert _found(nav, "Model.validate") == [("pkg/core.py", "Model.validate")]
        assert _found(nav, "pkg.util.helper") == [("pkg/util.py", "helper")]
        assert _found(nav, "core.process") == [("pkg/core.py", "process")]
        assert _found(nav, "geo::area") == [("src/geo.rs", "area")]
        assert _found(nav, "Store.load") == [("web/util.ts", "Store.load")]
        assert _found(nav, "helper", path="pkg/o*") == [("pkg/other.py", "helper")]
        assert _found(nav, "Model", kind="class") == [("pkg/core.py", "Model")]

        hit = nav.find(SymbolFindInput(query="helper", path="pkg/util.py")).results[0]
        assert (hit.start_line, hit.end_line, hit.kind) == (1, 3, "function")
        assert hit.signature == "def helper(x)"
        assert hit.doc == "Normalize one value."

        normalized = nav.find(SymbolFindInput(query="model.VALIDATE"))
        assert normalized.match == "normalized"
        assert [h.symbol for h in normalized.results] == ["Model.validate"]
        fuzzy = nav.find(SymbolFindInput(query="proccess"))
        assert fuzzy.match == "fuzzy"
        assert [h.symbol for h in fuzzy.results] == ["process"]
        assert nav.find(SymbolFindInput(query="nothing_like_this_xyz")).match == "none"


async def test_python_callers_through_imports_aliases_reexports_and_classes(
    code: Path, data_dir: Path, rust_server: list[str], embedder: Embedder
) -> None:
    async with open_service(data_dir, [code], rust_server, embedder) as service:
        nav = await _index(service, code)
        # `h` is an alias of util.helper; `u.helper` goes through a module alias; other.helper
        # (same name, another module) is not a caller of either.
        util_helper = _refs(nav, "pkg.util.helper")
        assert _callers(util_helper) == {
            ("pkg/core.py", 6, "process"),
            ("pkg/core.py", 25, "Model.validate"),
        }
        assert _callers(_refs(nav, "pkg.other.helper")) == set()
        # a non-call reference counts: normalize is process's default argument value
        normalize = _refs(nav, "normalize")
        assert _callers(normalize) == {("pkg/util.py", 3, "helper"), ("pkg/core.py", 5, "process")}
        calls = {(e.path, e.line): e.call for e in normalize.edges}
        assert calls[("pkg/core.py", 5)] is False
        # re-exported under another name by pkg/__init__.py; a nested function is a caller
        assert _callers(_refs(nav, "pkg.core.process")) == {
            ("app.py", 6, "main"),
            ("pkg/core.py", 29, "Model.run.inner"),
        }
        # self.save() in Model reaches Base.save through the base class; model.save() through
        # the parameter's annotation
        base_save = _refs(nav, "Base.save")
        assert _callers(base_save) == {
            ("pkg/core.py", 31, "Model.run"),
            ("pkg/typed.py", 19, "handle"),
        }
        assert {(e.line, e.via) for e in base_save.edges} == {(31, "class"), (19, "type")}
        # super().validate() in Model reaches the base's
        assert _callers(_refs(nav, "Base.validate")) == {
            ("pkg/core.py", 17, "Base.save"),
            ("pkg/core.py", 25, "Model.validate"),
        }
        # a receiver of unknown type: reported as ambiguous with the candidates, not counted
        ambiguous = {(a.path, a.line): a.candidates for a in _refs(nav, "Base.validate").ambiguous}
        assert ("app.py", 8) in ambiguous
        assert len(ambiguous[("app.py", 8)]) == 2
        # the project's one `update`, on a receiver of unknown type: a dict has one too
        update = _refs(nav, "Store.update")
        assert _callers(update) == set()
        assert [(a.path, a.line) for a in update.ambiguous] == [("pkg/typed.py", 20)]
        # @overload declarations and their implementation are one definition; a parameter
        # named like a function of the module shadows it
        parse = _refs(nav, "pkg.typed.parse")
        assert _callers(parse) == {("pkg/typed.py", 21, "handle"), ("pkg/typed.py", 22, "handle")}
        assert parse.ambiguous == []


async def test_recursion_is_cut_and_depth_follows_callers_of_callers(
    code: Path, data_dir: Path, rust_server: list[str], embedder: Embedder
) -> None:
    async with open_service(data_dir, [code], rust_server, embedder) as service:
        nav = await _index(service, code)
        walk = _refs(nav, "walk", depth=3, refs="both")
        assert [(e.direction, e.caller, e.callee, e.depth) for e in walk.edges] == [
            ("caller", "walk", "walk", 1),
            ("callee", "walk", "walk", 1),
        ]
        deep = _refs(nav, "pkg.util.normalize", depth=3)
        by_depth = {(e.depth, e.caller, e.callee) for e in deep.edges}
        assert by_depth == {
            (1, "helper", "normalize"),
            (1, "process", "normalize"),  # its default argument value
            (2, "process", "helper"),
            (2, "Model.validate", "helper"),
            (2, "main", "process"),
            (2, "Model.run.inner", "process"),
            (3, "Model.run", "Model.run.inner"),
        }
        callees = _refs(nav, "Model.run", refs="callees")
        assert {(e.callee, e.via) for e in callees.edges} == {
            ("Base.save", "class"),
            ("Model.run.inner", "scope"),
        }


async def test_typescript_and_rust_callers(
    code: Path, data_dir: Path, rust_server: list[str], embedder: Embedder
) -> None:
    async with open_service(data_dir, [code], rust_server, embedder) as service:
        nav = await _index(service, code)
        fmt = _refs(nav, "fmt")
        assert _callers(fmt) == {
            ("web/main.ts", 5, "show"),
            ("web/main.ts", 6, "show"),
            ("web/main.ts", 7, "show"),
        }
        assert {e.line: e.call for e in fmt.edges}[7] is False  # passed as a callback
        assert _callers(_refs(nav, "Store.load")) == {("web/util.ts", 7, "Store.get")}
        assert _callers(_refs(nav, "Store.get")) == {("web/main.ts", 9, "show")}

        area = _refs(nav, "area")
        assert _callers(area) == {("src/lib.rs", 5, "total"), ("src/lib.rs", 9, "make")}
        assert _callers(_refs(nav, "Shape.new")) == {("src/lib.rs", 10, "make")}
        assert _callers(_refs(nav, "Shape.check")) == {("src/geo.rs", 9, "Shape.scale")}
        assert _callers(_refs(nav, "Shape.scale")) == {("src/geo.rs", 16, "area")}


async def test_an_edit_moves_an_edge_and_a_deleted_file_leaves_none(
    code: Path, data_dir: Path, rust_server: list[str], embedder: Embedder
) -> None:
    async with open_service(data_dir, [code], rust_server, embedder) as service:
        nav = await _index(service, code)
        assert ("app.py", 6, "main") in _callers(_refs(nav, "pkg.core.process"))

        (code / "app.py").write_text("def main():\n    return 1\n")
        cli = "from pkg.core import process\n\n\ndef cli():\n    process([])\n"
        write_files(code, {"cli.py": cli})
        await service.index_repository(code, wait_for_embedding=False)
        assert _callers(_refs(nav, "pkg.core.process")) == {
            ("cli.py", 5, "cli"),
            ("pkg/core.py", 29, "Model.run.inner"),
        }

        (code / "cli.py").unlink()
        (code / "pkg/util.py").unlink()
        await service.index_repository(code, wait_for_embedding=False)
        assert _callers(_refs(nav, "pkg.core.process")) == {("pkg/core.py", 29, "Model.run.inner")}
        assert nav.find(SymbolFindInput(query="pkg.util.helper")).match == "fuzzy"
        assert _found(nav, "normalize") == []
        assert _callers(_refs(nav, "pkg.other.helper")) == set()
        table = service.index.symbol_table(project_id_for(code))
        for what in ("files", "defs", "refs", "imports"):
            rows = table.con.execute(
                f"SELECT count(*) FROM {what} WHERE path IN ('cli.py', 'pkg/util.py')"
            ).fetchone()
            assert rows[0] == 0, what


async def test_a_lost_symbol_table_is_rebuilt_by_the_next_run(
    code: Path, data_dir: Path, rust_server: list[str], embedder: Embedder
) -> None:
    async with open_service(data_dir, [code], rust_server, embedder) as service:
        await _index(service, code)
        project = project_id_for(code)
        service.index.symbol_table(project).close()
        del service.index._symbols[project]
        for suffix in ("", "-wal", "-shm"):
            Path(f"{symbols_path(data_dir, project)}{suffix}").unlink(missing_ok=True)
        nav = await _index(service, code)  # nothing changed on disk: a no-op run otherwise
        assert _found(nav, "Model.validate") == [("pkg/core.py", "Model.validate")]
        assert ("app.py", 6, "main") in _callers(_refs(nav, "pkg.core.process"))


async def test_the_watcher_keeps_definitions_and_edges_current(
    code: Path, data_dir: Path, rust_server: list[str], embedder: Embedder
) -> None:
    async with open_service(data_dir, [code], rust_server, embedder) as service:
        nav = await _index(service, code)
        ready, stop = anyio.Event(), anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: watch_repository(service, code, ready=ready, stop_event=stop))
            await ready.wait()
            await anyio.sleep(0.5)  # let the OS watch be registered

            async def eventually(want: set[tuple[str, int, str | None]]) -> None:
                deadline = time.monotonic() + 60  # a failure bound, not a speed assertion
                while _callers(_refs(nav, "pkg.core.process")) != want:
                    assert time.monotonic() < deadline, _callers(_refs(nav, "pkg.core.process"))
                    await anyio.sleep(0.1)

            inner = ("pkg/core.py", 29, "Model.run.inner")
            (code / "jobs.py").write_text(
                "from pkg.core import process\n\n\ndef nightly():\n    process([])\n"
            )
            await eventually({("app.py", 6, "main"), inner, ("jobs.py", 5, "nightly")})
            (code / "jobs.py").unlink()
            await eventually({("app.py", 6, "main"), inner})
            stop.set()


async def test_a_read_only_server_answers_from_the_table_and_writes_nothing(
    code: Path, data_dir: Path, rust_server: list[str]
) -> None:
    needs_shared_store()  # two processes in turn on one store
    env = store_env(data_dir)
    async with serve(data_dir, code, rust_server, env=env) as srv:
        await srv.ok("index_repository", {"wait_for_embedding": False})

    def files() -> dict[str, tuple[int, int]]:
        return {
            str(p): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(data_dir.rglob("*"))
            if p.is_file() and p.name != "codeloci.lock"
        }

    before = files()
    async with serve(data_dir, code, rust_server, "--read-only", env=env) as srv:
        found = await srv.ok("symbol_find", {"query": "pkg.core.process", "refs": "callers"})
    assert [(e["path"], e["line"]) for e in found["edges"]] == [
        ("app.py", 6),
        ("pkg/core.py", 29),
    ]
    assert files() == before
