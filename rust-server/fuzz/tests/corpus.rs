//! Replays the seeds and every fixed crashing input through `codeloci_ast_fuzz::check` on
//! stable Rust, so findings stay fixed without a nightly toolchain.
//!
//! * `seeds/chunk_any/`: the fuzzer's starting corpus (every fixture in two caps, edge cases);
//! * `regressions/chunk_any/`: crashing inputs whose bug is fixed: must pass forever;
//! * `findings/chunk_any/`: crashing inputs whose bug is still open; replayed by the ignored
//!   test below (`cargo test -- --ignored`); move a file to `regressions/` once fixed.

use std::path::{Path, PathBuf};

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    out.sort();
    out
}

#[test]
fn seed_corpus_and_regressions_hold() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut count = 0;
    for dir in ["seeds/chunk_any", "regressions/chunk_any"] {
        for path in inputs(&root.join(dir)) {
            let data = std::fs::read(&path).unwrap();
            let result = std::panic::catch_unwind(|| codeloci_ast_fuzz::check(&data));
            assert!(
                result.is_ok(),
                "{} fails the chunk_any checks",
                path.display()
            );
            count += 1;
        }
    }
    assert!(
        count >= 13,
        "expected a seed per language, found {count} inputs"
    );
}

#[test]
fn every_language_is_reachable_from_the_first_byte() {
    let mut seen = std::collections::HashSet::new();
    for b in 0..=255u8 {
        let (lang, _, _) = codeloci_ast_fuzz::decode(&[b, 0]).unwrap();
        seen.insert(lang);
    }
    assert_eq!(seen.len(), codeloci_ast::language::Language::ALL.len());
}

#[test]
#[ignore = "open findings: fixed ones move to regressions/"]
fn open_findings_still_fail() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut failing = Vec::new();
    for path in inputs(&root.join("findings/chunk_any")) {
        let data = std::fs::read(&path).unwrap();
        if std::panic::catch_unwind(|| codeloci_ast_fuzz::check(&data)).is_err() {
            failing.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    assert!(failing.is_empty(), "open findings: {failing:?}");
}
