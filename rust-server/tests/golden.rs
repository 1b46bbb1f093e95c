//! Golden outlines and chunk summaries per language, plus explicit expectations a reader can
//! check by eye. Regenerate the golden files with `UPDATE_GOLDEN=1 cargo test --test golden`
//! and review the diff: the explicit table below must still hold.

mod support;

use codeloci_ast::language::Language;
use codeloci_ast::outline::{analyze, outline, Symbol};
use serde_json::json;
use support::{assert_tiles, chunk_file, fixtures};

const FIXTURES: &[&str] = &[
    "sample.py",
    "sample.rs",
    "sample.js",
    "sample.ts",
    "sample.tsx",
    "sample.go",
    "Sample.java",
    "sample.c",
    "sample.cpp",
    "Sample.cs",
    "sample.rb",
    "sample.md",
    "sample.txt",
    "broken.py",
    "bom_crlf.py",
    "empty.py",
];

fn flatten(symbols: &[Symbol], out: &mut Vec<(String, String, usize)>) {
    for s in symbols {
        out.push((
            s.qualified_name.clone(),
            s.kind.name().to_string(),
            s.start_line,
        ));
        flatten(&s.children, out);
    }
}

fn check_golden(name: &str, value: serde_json::Value) {
    let path = fixtures().parent().unwrap().join("golden").join(name);
    let rendered = format!("{}\n", serde_json::to_string_pretty(&value).unwrap());
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &rendered).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing golden {}; run UPDATE_GOLDEN=1 cargo test --test golden",
            path.display()
        )
    });
    assert_eq!(
        rendered, expected,
        "golden {name} differs; if the change is intended, regenerate and review"
    );
}

#[test]
fn outlines_match_golden() {
    for name in FIXTURES {
        let path = fixtures().join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let lang = Language::detect(&path);
        let analysis = analyze(lang, &text, name, None).unwrap();
        let outline = outline(Some(name.to_string()), lang, &text, analysis);
        check_golden(
            &format!("{name}.outline.json"),
            serde_json::to_value(&outline).unwrap(),
        );
    }
}

#[test]
fn chunks_match_golden_and_tile() {
    for name in FIXTURES {
        for max in [200, 1500] {
            let (text, chunks) = chunk_file(name, max);
            assert_tiles(&text, &chunks);
            let summary: Vec<_> = chunks
                .iter()
                .map(|c| {
                    json!({
                        "kind": c.kind, "qualified_name": c.qualified_name, "lines": [c.start_line, c.end_line],
                        "signature": c.signature, "docstring": c.docstring, "parent": c.parent,
                        "context": c.context, "symbols": c.symbols, "calls": c.calls, "metadata": c.metadata,
                    })
                })
                .collect();
            check_golden(&format!("{name}.chunks{max}.json"), json!(summary));
        }
    }
}

/// (qualified name, kind, first line) of one definition.
type Expected = (&'static str, &'static str, usize);

/// What a reader expects of each fixture, independent of the golden files.
#[test]
fn definitions_have_the_right_names_kinds_and_lines() {
    let expectations: &[(&str, &[Expected])] = &[
        (
            "sample.py",
            &[
                ("add", "function", 8),
                ("decorated", "function", 13),
                ("Greeter", "class", 18),
                ("Greeter.__init__", "method", 23),
                ("Greeter.greet", "method", 26),
                ("Greeter.Inner.deep", "method", 31),
            ],
        ),
        (
            "sample.rs",
            &[
                ("Point", "struct", 5),
                ("Point.new", "method", 13),
                ("Point.norm", "method", 18),
                ("Shape", "trait", 29),
                ("Shape.area", "method", 30),
                ("Kind", "enum", 33),
                ("inner", "module", 38),
                ("inner.helper", "function", 39),
                ("square", "macro", 44),
                ("main", "function", 50),
            ],
        ),
        (
            "sample.js",
            &[
                ("add", "function", 4),
                ("double", "function", 11),
                ("Counter", "class", 13),
                ("Counter.increment", "method", 18),
                ("Widget.render", "method", 25),
                ("gen", "function", 30),
            ],
        ),
        (
            "sample.ts",
            &[
                ("User", "interface", 3),
                ("Color", "enum", 10),
                ("UserStore", "class", 15),
                ("UserStore.add", "method", 19),
                ("makeStore", "function", 29),
                ("Utils.clamp", "function", 34),
            ],
        ),
        (
            "sample.tsx",
            &[
                ("Header", "function", 5),
                ("Footer", "function", 9),
                ("Page.render", "method", 12),
            ],
        ),
        (
            "sample.go",
            &[
                ("Server", "struct", 8),
                ("Handler", "interface", 13),
                ("ID", "type", 18),
                ("Server.Run", "method", 20),
                ("NewServer", "function", 26),
                ("main", "function", 30),
            ],
        ),
        (
            "Sample.java",
            &[
                ("Sample", "class", 6),
                ("Sample.Sample", "method", 12),
                ("Sample.add", "method", 16),
                ("Sample.Visitor", "interface", 25),
                ("Sample.Mode", "enum", 29),
            ],
        ),
        (
            "sample.c",
            &[
                ("vec2", "struct", 4),
                ("record_t", "struct", 10),
                ("color", "enum", 14),
                ("vec2_add", "function", 16),
                ("main", "function", 22),
            ],
        ),
        (
            "sample.cpp",
            &[
                ("geo", "module", 4),
                ("geo.Shape", "class", 6),
                ("geo.Square.area", "method", 16),
                ("geo.twice", "function", 22),
                ("geo_total", "function", 29),
            ],
        ),
        (
            "Sample.cs",
            &[
                ("Example", "module", 4),
                ("Example.Account", "class", 6),
                ("Example.Account.Deposit", "method", 16),
                ("Example.IStore", "interface", 26),
                ("Example.Money", "struct", 31),
                ("Example.Currency", "enum", 36),
            ],
        ),
        (
            "sample.rb",
            &[
                ("Greeting", "module", 4),
                ("Greeting.Greeter", "class", 6),
                ("Greeting.Greeter.hello", "method", 12),
                ("Greeting.Greeter.default", "method", 17),
                ("top_level", "function", 23),
            ],
        ),
        (
            "sample.md",
            &[
                ("Introduction", "section", 5),
                ("Introduction > Install", "section", 9),
                ("Introduction > Usage", "section", 17),
                ("Reference", "section", 21),
            ],
        ),
        (
            "broken.py",
            &[("fine", "function", 4), ("Ok.m", "method", 8)],
        ),
        (
            "bom_crlf.py",
            &[("with_bom", "function", 1), ("crlf", "function", 4)],
        ),
    ];
    for (name, expected) in expectations {
        let path = fixtures().join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let lang = Language::detect(&path);
        let o = outline(None, lang, &text, analyze(lang, &text, name, None).unwrap());
        let mut flat = Vec::new();
        flatten(&o.definitions, &mut flat);
        for (qn, kind, line) in *expected {
            let found = flat.iter().find(|(q, _, _)| q == qn);
            assert!(found.is_some(), "{name}: missing {qn}; have {flat:?}");
            let (_, k, l) = found.unwrap();
            assert_eq!((k.as_str(), *l), (*kind, *line), "{name}: {qn}");
        }
    }
}

#[test]
fn docstrings_signatures_imports_and_errors() {
    let parse = |name: &str| {
        let path = fixtures().join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let lang = Language::detect(&path);
        outline(None, lang, &text, analyze(lang, &text, name, None).unwrap())
    };
    let py = parse("sample.py");
    let add = &py.definitions.iter().find(|s| s.name == "add").unwrap();
    assert_eq!(add.signature, "def add(a: int, b: int) -> int");
    assert_eq!(add.docstring.as_deref(), Some("Add two numbers."));
    assert_eq!(
        py.imports
            .iter()
            .map(|i| i.text.as_str())
            .collect::<Vec<_>>(),
        ["import os", "from typing import List"]
    );
    assert!(py.errors.is_empty());

    let rs = parse("sample.rs");
    let point = rs.definitions.iter().find(|s| s.name == "Point").unwrap();
    assert_eq!(point.docstring.as_deref(), Some("A point in space."));
    assert_eq!(rs.imports.len(), 2);

    let go = parse("sample.go");
    assert_eq!(
        go.definitions
            .iter()
            .find(|s| s.name == "Run")
            .unwrap()
            .docstring
            .as_deref(),
        Some("Run starts the server.")
    );

    let broken = parse("broken.py");
    assert!(!broken.errors.is_empty(), "the syntax error is reported");
    assert_eq!(broken.errors[0].start_line, 1);

    let bom = parse("bom_crlf.py");
    let with_bom = &bom.definitions[0];
    assert_eq!(with_bom.start_byte, 3, "offsets count the BOM");
    assert!(bom.errors.is_empty(), "BOM and CRLF parse cleanly");
}

#[test]
fn markdown_front_matter_is_metadata() {
    let (_, chunks) = chunk_file("sample.md", 1500);
    assert_eq!(chunks[0].kind, "frontmatter");
    for c in &chunks {
        assert_eq!(c.metadata.as_ref().unwrap()["title"], "Sample document");
    }
}
