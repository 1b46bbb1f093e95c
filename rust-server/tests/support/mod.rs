// Shared by the library-level tests: the fixture directory and a chunk helper.
#![allow(dead_code)]

use std::path::PathBuf;

use codeloci_ast::chunk::{chunk_text, Chunk};
use codeloci_ast::language::Language;
use codeloci_ast::outline::analyze;

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn chunk_file(name: &str, max: usize) -> (String, Vec<Chunk>) {
    let path = fixtures().join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let lang = Language::detect(&path);
    let analysis = analyze(lang, &text, name, None).unwrap();
    let chunks = chunk_text(name, lang, &text, &analysis, max);
    (text, chunks)
}

pub fn assert_tiles(text: &str, chunks: &[Chunk]) {
    let joined: String = chunks.iter().map(|c| c.content.as_str()).collect();
    assert_eq!(joined, text, "chunks must tile the file exactly");
    let mut pos = 0;
    for c in chunks {
        assert_eq!(
            c.start_byte, pos,
            "chunk {:?} does not start where the previous ended",
            c.qualified_name
        );
        assert_eq!(&text[c.start_byte..c.end_byte], c.content);
        pos = c.end_byte;
    }
    assert_eq!(pos, text.len());
}
