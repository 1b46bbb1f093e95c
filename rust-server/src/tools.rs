//! The three tools as plain functions over [`Roots`]: argument types (which generate the input
//! schemas), result types (output schemas) and the work. The MCP layer in [`crate::server`]
//! only adds transport, progress and cancellation.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use rayon::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::chunk::{chunk_text, Chunk};
use crate::error::{Error, Result};
use crate::language::Language;
use crate::limits::*;
use crate::outline::{analyze, analyze_symbols, file_symbols, outline, FileSymbols, Outline};
use crate::paths::{relative_string, Resolved, Roots};
use crate::scan::{scan, PreviousEntry, ScanOptions, ScanResult};
use crate::secrets;
use crate::text::{decode, hash_hex};

/// Arguments of `scan`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanArgs {
    /// Directory: absolute, or relative to the first root.
    pub root: String,
    /// Globs to list, e.g. `**/*.rs`; empty: all.
    #[serde(default)]
    pub include: Vec<String>,
    /// Globs to leave out.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Skip larger files (default 1 MiB, at most 16 MiB).
    pub max_file_bytes: Option<u64>,
    /// An earlier scan's manifest.
    pub previous: Option<BTreeMap<String, PreviousEntry>>,
    /// With `previous`: list only what differs.
    #[serde(default)]
    pub changes_only: bool,
}

/// Arguments of `parse`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParseArgs {
    /// File, relative to `root` or absolute.
    pub path: Option<String>,
    /// Directory relative paths start from.
    pub root: Option<String>,
    /// Source text instead of a file (needs `language`).
    pub content: Option<String>,
    /// A `scan` language name (default: from `path`).
    pub language: Option<String>,
}

/// Arguments of `chunk`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChunkArgs {
    /// 1 to 1000 files, relative to `root` or absolute.
    pub paths: Vec<String>,
    /// Directory relative paths start from.
    pub root: Option<String>,
    /// Largest chunk (default 1500, 200 to 20000).
    pub max_chunk_chars: Option<usize>,
    /// Secrets in `content` become `[REDACTED:kind]` (default true).
    pub redact_secrets: Option<bool>,
    /// Also return `files[].symbols` (definitions, references, imports).
    pub symbols: Option<bool>,
}

/// Per-file summary of a `chunk` call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChunkedFile {
    /// Path relative to the root.
    pub path: String,
    /// Detected language.
    pub language: Language,
    /// Number of chunks produced.
    pub chunks: usize,
    /// File size in bytes.
    pub bytes: usize,
    /// blake3 of the file, hex (the same as `scan` reports).
    pub hash: String,
    /// Secrets redacted in this file's chunks.
    pub redactions: usize,
    /// Definitions, references and imports, when `symbols` was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbols: Option<FileSymbols>,
}

/// A file that could not be chunked; the other files of the call are unaffected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FileError {
    /// The path as given.
    pub path: String,
    /// What went wrong and how to fix it.
    pub error: String,
}

/// The result of `chunk`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChunkResult {
    /// Chunks of every file, file by file in the order given, each file's chunks in order.
    pub chunks: Vec<Chunk>,
    /// One entry per file chunked.
    pub files: Vec<ChunkedFile>,
    /// Files that failed, with the reason.
    pub errors: Vec<FileError>,
}

/// Runs `scan`.
pub fn run_scan(roots: &Roots, args: ScanArgs, cancel: Option<&AtomicBool>) -> Result<ScanResult> {
    let resolved = roots.resolve(&args.root, None)?;
    if !resolved.absolute.is_dir() {
        return Err(Error::NotADirectory { path: args.root });
    }
    let max_file_bytes = args.max_file_bytes.unwrap_or(DEFAULT_SCAN_MAX_FILE_BYTES);
    if max_file_bytes == 0 || max_file_bytes > MAX_SCAN_MAX_FILE_BYTES {
        return Err(Error::InvalidArgument {
            field: "max_file_bytes",
            reason: format!(
                "{max_file_bytes} is out of range; give 1 to {MAX_SCAN_MAX_FILE_BYTES}"
            ),
        });
    }
    if let Some(prev) = &args.previous {
        if prev.len() > MAX_PREVIOUS_ENTRIES {
            return Err(Error::Limit {
                what: "the number of `previous` entries".into(),
                actual: prev.len() as u64,
                limit: MAX_PREVIOUS_ENTRIES as u64,
                name: "MAX_PREVIOUS_ENTRIES",
                hint: "pass the manifest of one root only",
            });
        }
    }
    if args.changes_only && args.previous.is_none() {
        return Err(Error::InvalidArgument {
            field: "changes_only",
            reason: "needs `previous` (the manifest the changes are relative to)".into(),
        });
    }
    let options = ScanOptions {
        include: args.include,
        exclude: args.exclude,
        max_file_bytes,
        previous: args.previous,
    };
    let mut result = scan(&resolved.absolute, &options, cancel)?;
    if args.changes_only {
        let previous = options.previous.as_ref().expect("checked above");
        result.files.retain(|f| {
            previous
                .get(&f.path)
                .is_none_or(|p| p.hash != f.hash || p.size != f.size || p.mtime_ns != f.mtime_ns)
        });
        result.unchanged.clear();
        // Skipped files are not in a manifest; only those `previous` had (now gone from the
        // index) are news.
        result.skipped.retain(|k| previous.contains_key(&k.path));
    }
    Ok(result)
}

/// Runs `parse`.
pub fn run_parse(roots: &Roots, args: ParseArgs, cancel: Option<&AtomicBool>) -> Result<Outline> {
    let language_override = match &args.language {
        Some(name) => {
            Some(Language::from_name(name).ok_or_else(|| Error::UnknownLanguage(name.clone()))?)
        }
        None => None,
    };
    match (args.path, args.content) {
        (Some(_), Some(_)) => Err(Error::InvalidArgument {
            field: "path",
            reason: "give either `path` or `content`, not both".into(),
        }),
        (None, None) => Err(Error::InvalidArgument {
            field: "path",
            reason: "give `path` (a file) or `content` with `language`".into(),
        }),
        (None, Some(content)) => {
            let lang = language_override.ok_or(Error::InvalidArgument {
                field: "language",
                reason: "`content` needs `language` (e.g. \"python\")".into(),
            })?;
            check_size("the size of `content`", content.len() as u64)?;
            let analysis = analyze(lang, &content, "<content>", cancel)?;
            Ok(outline(None, lang, &content, analysis))
        }
        (Some(path), None) => {
            let base = resolve_base(roots, args.root.as_deref())?;
            let file = resolve_file(roots, &path, base.as_ref())?;
            let rel = output_path(base.as_ref(), &file);
            let text = read_text(&file.absolute, &rel)?;
            let lang = language_override.unwrap_or_else(|| Language::detect(&file.absolute));
            let analysis = analyze(lang, &text, &rel, cancel)?;
            Ok(outline(Some(rel), lang, &text, analysis))
        }
    }
}

/// Checks `chunk` arguments that do not depend on the files; returns the chunk cap.
pub fn check_chunk_args(args: &ChunkArgs) -> Result<usize> {
    if args.paths.is_empty() {
        return Err(Error::InvalidArgument {
            field: "paths",
            reason: "give at least one path".into(),
        });
    }
    if args.paths.len() > MAX_PATHS_PER_CALL {
        return Err(Error::Limit {
            what: "the number of `paths`".into(),
            actual: args.paths.len() as u64,
            limit: MAX_PATHS_PER_CALL as u64,
            name: "MAX_PATHS_PER_CALL",
            hint: "split the paths over several calls",
        });
    }
    let max = args.max_chunk_chars.unwrap_or(DEFAULT_MAX_CHUNK_CHARS);
    if !(MIN_MAX_CHUNK_CHARS..=MAX_MAX_CHUNK_CHARS).contains(&max) {
        return Err(Error::InvalidArgument {
            field: "max_chunk_chars",
            reason: format!(
                "{max} is out of range; give {MIN_MAX_CHUNK_CHARS} to {MAX_MAX_CHUNK_CHARS}"
            ),
        });
    }
    Ok(max)
}

/// Runs `chunk`. `on_file` is called after each file (for progress); `cancel` stops the work.
pub fn run_chunk(
    roots: &Roots,
    args: &ChunkArgs,
    cancel: Option<&AtomicBool>,
    on_file: &(dyn Fn(&str) + Sync),
) -> Result<ChunkResult> {
    let max = check_chunk_args(args)?;
    let redact = args.redact_secrets.unwrap_or(true);
    let symbols = args.symbols.unwrap_or(false);
    let base = resolve_base(roots, args.root.as_deref())?;
    let per_file: Vec<std::result::Result<(ChunkedFile, Vec<Chunk>), FileError>> = args
        .paths
        .par_iter()
        .map(|path| {
            if cancel.is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed)) {
                return Err(FileError {
                    path: path.clone(),
                    error: Error::Cancelled.to_string(),
                });
            }
            let result = chunk_one(roots, base.as_ref(), path, max, redact, symbols, cancel)
                .map_err(|e| FileError {
                    path: path.clone(),
                    error: e.to_string(),
                });
            on_file(path);
            result
        })
        .collect();
    if cancel.is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed)) {
        return Err(Error::Cancelled);
    }
    let mut out = ChunkResult {
        chunks: Vec::new(),
        files: Vec::new(),
        errors: Vec::new(),
    };
    for item in per_file {
        match item {
            Ok((file, chunks)) => {
                out.files.push(file);
                out.chunks.extend(chunks);
                if out.chunks.len() > MAX_CHUNKS_PER_RESPONSE {
                    return Err(Error::Limit {
                        what: "the number of chunks in one response".into(),
                        actual: out.chunks.len() as u64,
                        limit: MAX_CHUNKS_PER_RESPONSE as u64,
                        name: "MAX_CHUNKS_PER_RESPONSE",
                        hint: "pass fewer paths per call or a larger max_chunk_chars",
                    });
                }
            }
            Err(e) => out.errors.push(e),
        }
    }
    Ok(out)
}

fn chunk_one(
    roots: &Roots,
    base: Option<&Resolved>,
    path: &str,
    max: usize,
    redact: bool,
    symbols: bool,
    cancel: Option<&AtomicBool>,
) -> Result<(ChunkedFile, Vec<Chunk>)> {
    let file = resolve_file(roots, path, base)?;
    let rel = output_path(base, &file);
    let text = read_text(&file.absolute, &rel)?;
    let lang = Language::detect(&file.absolute);
    let analysis = if symbols {
        analyze_symbols(lang, &text, &rel, cancel)?
    } else {
        analyze(lang, &text, &rel, cancel)?
    };
    let mut chunks = chunk_text(&rel, lang, &text, &analysis, max);
    let redactions = if redact {
        redact_chunks(&text, &mut chunks)
    } else {
        0
    };
    let summary = ChunkedFile {
        path: rel,
        language: lang,
        chunks: chunks.len(),
        bytes: text.len(),
        hash: hash_hex(text.as_bytes()),
        redactions,
        symbols: symbols.then(|| file_symbols(&text, &analysis)),
    };
    Ok((summary, chunks))
}

/// Replaces secrets in the chunks' content (found once over the whole file, so a key block
/// split across chunks is still caught); returns how many were redacted.
fn redact_chunks(text: &str, chunks: &mut [Chunk]) -> usize {
    let found = secrets::find(text);
    if found.is_empty() {
        return 0;
    }
    for chunk in chunks.iter_mut() {
        let (content, hit) = secrets::redact_range(text, chunk.start_byte, chunk.end_byte, &found);
        if !hit.is_empty() {
            chunk.content_hash = hash_hex(content.as_bytes());
            chunk.content = content;
            chunk.redactions = hit;
        }
    }
    found.len()
}

fn resolve_base(roots: &Roots, root: Option<&str>) -> Result<Option<Resolved>> {
    let Some(root) = root else { return Ok(None) };
    let resolved = roots.resolve(root, None)?;
    if !resolved.absolute.is_dir() {
        return Err(Error::NotADirectory {
            path: root.to_string(),
        });
    }
    Ok(Some(resolved))
}

fn resolve_file(roots: &Roots, path: &str, base: Option<&Resolved>) -> Result<Resolved> {
    let file = roots.resolve(path, base.map(|b| b.absolute.as_path()))?;
    if !file.absolute.is_file() {
        return Err(Error::NotAFile {
            path: path.to_string(),
        });
    }
    if crate::scan::is_secret_file(&file.absolute) {
        return Err(Error::SecretFile {
            path: path.to_string(),
        });
    }
    Ok(file)
}

/// Output paths are relative to the caller's `root` when the file is under it, else to the
/// server root that holds it.
fn output_path(base: Option<&Resolved>, file: &Resolved) -> String {
    match base {
        Some(b) if file.absolute.starts_with(&b.absolute) => {
            relative_string(&b.absolute, &file.absolute)
        }
        _ => file.relative.clone(),
    }
}

fn check_size(what: &str, size: u64) -> Result<()> {
    if size > MAX_FILE_BYTES {
        return Err(Error::Limit {
            what: what.to_string(),
            actual: size,
            limit: MAX_FILE_BYTES,
            name: "MAX_FILE_BYTES",
            hint: "exclude the file; files this large are rarely source code",
        });
    }
    Ok(())
}

fn read_text(path: &Path, rel: &str) -> Result<String> {
    let io = |source| Error::Io {
        path: rel.to_string(),
        source,
    };
    let size = fs::metadata(path).map_err(io)?.len();
    check_size(&format!("the size of {rel}"), size)?;
    let bytes = fs::read(path).map_err(io)?;
    decode(rel, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::PreviousEntry;

    fn scan_with_previous(entries: usize) -> Result<ScanResult> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.py"), "x = 1\n").unwrap();
        let roots = Roots::new([dir.path()]).unwrap();
        let previous = (0..entries)
            .map(|i| {
                let entry = PreviousEntry {
                    hash: "0".repeat(64),
                    size: 1,
                    mtime_ns: 0,
                };
                (format!("gone/{i}.py"), entry)
            })
            .collect();
        let args = ScanArgs {
            root: ".".into(),
            include: Vec::new(),
            exclude: Vec::new(),
            max_file_bytes: None,
            previous: Some(previous),
            changes_only: true,
        };
        run_scan(&roots, args, None)
    }

    // Over stdio a manifest this long is over MAX_MESSAGE_BYTES first; the check still guards
    // in-process callers, so its edge is tested here.
    #[test]
    fn the_previous_manifest_cap_holds_at_its_edge() {
        let at = scan_with_previous(MAX_PREVIOUS_ENTRIES).unwrap();
        assert_eq!(at.removed.len(), MAX_PREVIOUS_ENTRIES);
        assert_eq!(at.added, ["a.py"]);
        let err = scan_with_previous(MAX_PREVIOUS_ENTRIES + 1)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("500001, over the limit 500000 (MAX_PREVIOUS_ENTRIES)"),
            "{err}"
        );
    }
}
