//! In-process timing for `just bench` (`codeloci-ast bench …`): the library's own scan and
//! chunk speed without MCP or JSON in the way, so the benchmark compares chunkers, not
//! transports. Prints one JSON object on stdout.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use serde_json::json;

use crate::chunk::chunk_text;
use crate::language::Language;
use crate::outline::analyze;
use crate::scan::{scan, ScanOptions};

/// Chunks every file in `files` `repeat` times on `threads` threads (files read once, up
/// front); returns per-run seconds and totals.
pub fn chunk_files(
    files: &[PathBuf],
    max_chars: usize,
    threads: usize,
    repeat: usize,
) -> serde_json::Value {
    let texts: Vec<(Language, String, String)> = files
        .iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(p).ok()?;
            Some((Language::detect(p), p.display().to_string(), text))
        })
        .collect();
    let bytes: usize = texts.iter().map(|(_, _, t)| t.len()).sum();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    let mut seconds = Vec::new();
    let mut chunks = 0;
    for _ in 0..repeat {
        let started = Instant::now();
        chunks = pool.install(|| {
            texts
                .par_iter()
                .map(|(lang, path, text)| {
                    let analysis = analyze(*lang, text, path, None).unwrap_or_default();
                    chunk_text(path, *lang, text, &analysis, max_chars).len()
                })
                .sum::<usize>()
        });
        seconds.push(started.elapsed().as_secs_f64());
    }
    json!({"files": texts.len(), "bytes": bytes, "chunks": chunks, "threads": threads, "seconds": seconds})
}

/// Scans `root` `repeat` times (the first run warms the OS cache and is reported separately).
pub fn scan_dir(root: &Path, repeat: usize) -> serde_json::Value {
    let options = ScanOptions {
        max_file_bytes: crate::limits::DEFAULT_SCAN_MAX_FILE_BYTES,
        ..ScanOptions::default()
    };
    let mut seconds = Vec::new();
    let mut files = 0;
    let mut hashed_bytes = 0;
    for _ in 0..repeat + 1 {
        let started = Instant::now();
        let result = scan(root, &options, None).expect("scan");
        seconds.push(started.elapsed().as_secs_f64());
        files = result.stats.files;
        hashed_bytes = result.stats.bytes;
    }
    let cold = seconds.remove(0);
    json!({"files": files, "bytes": hashed_bytes, "first_run_seconds": cold, "seconds": seconds})
}
