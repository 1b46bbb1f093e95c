//! The checks behind the `chunk_any` fuzz target, shared with the corpus regression test.
//!
//! Input layout: byte 0 picks the language (`Language::ALL[b % 13]`), byte 1 the chunk cap
//! (`MIN_MAX_CHUNK_CHARS + b * 37`), the rest is the file (invalid UTF-8 replaced by U+FFFD, as a
//! lossy reader would; the server itself refuses invalid UTF-8 before parsing).
//!
//! Invariants, for every language and cap:
//! * `analyze` never panics (an `Err`, e.g. the parse timeout, is allowed);
//! * `outline` never panics; its symbols and error ranges lie inside the text, on char
//!   boundaries, with ordered 1-based lines; at most `MAX_ERROR_RANGES` errors;
//! * the chunks tile the text exactly: contiguous, starting at 0, ending at its length, each
//!   chunk's `content` equal to its byte range; line numbers are 1-based, ordered, in range;
//! * ids are unique; every chunk's trimmed text is within the cap (+4 for a closing brace);
//! * secret redaction over the chunks never panics, finds sorted non-overlapping ranges on
//!   char boundaries, puts a marker for every hit and leaves chunks without hits unchanged.

use std::collections::HashSet;

use codeloci_ast::chunk::chunk_text;
use codeloci_ast::language::Language;
use codeloci_ast::limits::{MAX_ERROR_RANGES, MIN_MAX_CHUNK_CHARS};
use codeloci_ast::outline::{analyze, outline, Symbol};
use codeloci_ast::secrets;

/// Splits fuzzer bytes into (language, cap, text).
pub fn decode(data: &[u8]) -> Option<(Language, usize, String)> {
    let (&lang, rest) = data.split_first()?;
    let (&cap, rest) = rest.split_first()?;
    let lang = Language::ALL[lang as usize % Language::ALL.len()];
    let max = MIN_MAX_CHUNK_CHARS + cap as usize * 37;
    Some((lang, max, String::from_utf8_lossy(rest).into_owned()))
}

/// Runs every check on one input; panics on a violated invariant.
pub fn check(data: &[u8]) {
    let Some((lang, max, text)) = decode(data) else {
        return;
    };
    let Ok(analysis) = analyze(lang, &text, "fuzz", None) else {
        return;
    };

    let lines = text.matches('\n').count() + 1;
    let out = outline(Some("fuzz".into()), lang, &text, analysis.clone());
    let mut stack: Vec<&Symbol> = out.definitions.iter().collect();
    while let Some(s) = stack.pop() {
        assert!(
            s.start_byte <= s.end_byte && s.end_byte <= text.len(),
            "symbol {} out of range",
            s.qualified_name
        );
        assert!(
            s.start_line >= 1 && s.start_line <= s.end_line && s.end_line <= lines,
            "symbol {} lines",
            s.qualified_name
        );
        assert!(text.is_char_boundary(s.start_byte) && text.is_char_boundary(s.end_byte));
        stack.extend(s.children.iter());
    }
    for e in &out.errors {
        assert!(
            e.start_byte <= e.end_byte && e.end_byte <= text.len(),
            "error range out of range"
        );
    }
    assert!(out.errors.len() <= MAX_ERROR_RANGES);

    let chunks = chunk_text("fuzz", lang, &text, &analysis, max);
    let mut pos = 0;
    let mut ids = HashSet::new();
    for c in &chunks {
        assert_eq!(
            c.start_byte, pos,
            "chunk {:?} does not start where the previous ended",
            c.qualified_name
        );
        assert!(c.end_byte >= c.start_byte && c.end_byte <= text.len());
        assert_eq!(
            &text[c.start_byte..c.end_byte],
            c.content,
            "content differs from its range"
        );
        assert!(
            c.start_line >= 1 && c.start_line <= c.end_line && c.end_line <= lines,
            "lines {}..{} of {lines}",
            c.start_line,
            c.end_line
        );
        assert!(ids.insert(c.id.clone()), "duplicate chunk id {}", c.id);
        let core = c.content.trim().chars().count();
        assert!(
            core <= max + 4,
            "chunk of {core} chars over cap {max}: {:?}",
            c.qualified_name
        );
        pos = c.end_byte;
    }
    assert_eq!(pos, text.len(), "chunks do not cover the text");
    if text.is_empty() {
        assert!(chunks.is_empty() || chunks.iter().all(|c| c.content.is_empty()));
    }

    let found = secrets::find(&text);
    for pair in found.windows(2) {
        assert!(
            pair[0].end_byte <= pair[1].start_byte,
            "overlapping secrets"
        );
    }
    for r in &found {
        assert!(
            r.start_byte < r.end_byte
                && text.is_char_boundary(r.start_byte)
                && text.is_char_boundary(r.end_byte)
        );
    }
    for c in &chunks {
        let (redacted, hit) = secrets::redact_range(&text, c.start_byte, c.end_byte, &found);
        for r in &hit {
            assert!(
                r.start_byte < c.end_byte && r.end_byte > c.start_byte,
                "a hit outside its chunk"
            );
            assert!(redacted.contains(&secrets::marker(&r.kind)));
        }
        if hit.is_empty() {
            assert_eq!(redacted, c.content);
        }
    }
}
