//! Property: for any text in any language and any cap, the chunks tile the text exactly, every
//! chunk's text without surrounding whitespace is within the cap, and ids are unique.

mod support;

use codeloci_ast::chunk::chunk_text;
use codeloci_ast::language::Language;
use codeloci_ast::outline::analyze;
use proptest::prelude::*;
use support::{assert_tiles, fixtures};

fn fixture_pieces() -> Vec<(Language, Vec<String>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
        if !lines.is_empty() {
            out.push((Language::detect(&path), lines));
        }
    }
    out.sort_by_key(|(l, _)| l.name());
    out
}

fn check(lang: Language, text: &str, max: usize) {
    let analysis = analyze(lang, text, "prop", None).unwrap();
    let chunks = chunk_text("prop", lang, text, &analysis, max);
    assert_tiles(text, &chunks);
    let mut ids = std::collections::HashSet::new();
    for c in &chunks {
        assert!(ids.insert(c.id.clone()), "duplicate id");
        let core = c.content.trim().chars().count();
        assert!(
            core <= max,
            "chunk of {core} chars over cap {max}: {:?}",
            c.qualified_name
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// Shuffled, duplicated and truncated lines of real fixtures: broken code in every language.
    #[test]
    fn shuffled_fixture_lines_tile(picks in prop::collection::vec((0usize..64, 0usize..4096, 0usize..200), 0..120), lang_ix in 0usize..64, max in 200usize..2500) {
        let pieces = fixture_pieces();
        let (lang, lines) = &pieces[lang_ix % pieces.len()];
        let mut text = String::new();
        for (line_ix, _, cut) in picks {
            let line = &lines[line_ix % lines.len()];
            if cut < 20 {
                let end = line.char_indices().nth(cut).map_or(line.len(), |(i, _)| i);
                text.push_str(&line[..end]);
            } else {
                text.push_str(line);
            }
        }
        check(*lang, &text, max);
    }

    /// Arbitrary Unicode in every language.
    #[test]
    fn arbitrary_text_tiles(text in "\\PC{0,3000}", lang_ix in 0usize..13, max in 200usize..1000) {
        check(Language::ALL[lang_ix], &text, max);
    }
}

#[test]
fn every_fixture_tiles_at_every_cap() {
    for (lang, lines) in fixture_pieces() {
        let text: String = lines.concat();
        for max in [200, 317, 600, 1500, 20_000] {
            check(lang, &text, max);
        }
    }
}

#[test]
fn deep_nesting_does_not_overflow() {
    // 10,000-deep nesting in several grammars: no stack overflow, still tiles.
    let depth = 10_000;
    let cases = [
        (
            Language::Python,
            format!("x = {}1{}\n", "[".repeat(depth), "]".repeat(depth)),
        ),
        (
            Language::Javascript,
            format!("f({}0{});\n", "(".repeat(depth), ")".repeat(depth)),
        ),
        (
            Language::Rust,
            format!("fn f() {{ {} }}\n", "{".repeat(depth) + &"}".repeat(depth)),
        ),
        (
            Language::Python,
            (0..200)
                .map(|i| format!("{}def f{i}():\n", "    ".repeat(i)))
                .collect::<String>()
                + &"    ".repeat(200)
                + "pass\n",
        ),
    ];
    for (lang, text) in cases {
        check(lang, &text, 1500);
    }
}
