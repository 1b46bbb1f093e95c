//! `scan`: walk a directory in parallel honouring `.gitignore`/`.ignore`, hash every text file
//! with blake3, and diff against a previous manifest without re-reading unchanged files.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Instant, UNIX_EPOCH};

use globset::{Glob, GlobSet, GlobSetBuilder};
use ignore::{WalkBuilder, WalkState};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::language::Language;
use crate::limits::{MAX_GLOBS, MAX_SCAN_FILES};
use crate::paths::relative_string;
use crate::text::BINARY_SNIFF_BYTES;

/// A file's entry in a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FileEntry {
    /// Path relative to the scanned root, `/`-separated.
    pub path: String,
    /// Detected language.
    pub language: Language,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: u64,
    /// blake3 of the content, hex.
    pub hash: String,
}

/// A previous scan's entry.
// Short docs: they are `scan`'s advertised input schema (`FileEntry` says more).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviousEntry {
    /// blake3, hex.
    pub hash: String,
    /// Bytes.
    pub size: u64,
    /// Since the Unix epoch.
    pub mtime_ns: u64,
}

/// Why a file was not listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// A NUL byte in its first 8 KiB.
    Binary,
    /// Larger than `max_file_bytes`.
    TooLarge,
    /// Could not be read.
    Unreadable,
    /// A symbolic link (never followed, so nothing outside the root is read).
    Symlink,
    /// A file that holds secrets by convention (`.env*`, private keys, certificates).
    SecretFile,
}

/// A file that was seen and not listed, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Skipped {
    /// Path relative to the root.
    pub path: String,
    /// Why.
    pub reason: SkipReason,
    /// Details (size, error message).
    pub detail: String,
}

/// Counters of one scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScanStats {
    /// Files listed.
    pub files: usize,
    /// Bytes in listed files.
    pub bytes: u64,
    /// Files whose content was read and hashed in this scan (the rest reused `previous`).
    pub hashed: usize,
    /// With `previous`: files whose hash is unchanged.
    pub unchanged: usize,
    /// Files seen and not listed.
    pub skipped: usize,
    /// Wall time in milliseconds.
    pub elapsed_ms: f64,
}

/// The result of `scan`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScanResult {
    /// The canonical absolute root that was scanned.
    pub root: String,
    /// Every listed file, sorted by path (with `changes_only`: only those that differ from
    /// `previous`).
    pub files: Vec<FileEntry>,
    /// Files seen and not listed, sorted by path.
    pub skipped: Vec<Skipped>,
    /// With `previous`: paths new since then.
    pub added: Vec<String>,
    /// With `previous`: paths whose hash changed.
    pub changed: Vec<String>,
    /// With `previous`: paths gone (or now skipped).
    pub removed: Vec<String>,
    /// With `previous`: paths with the same hash.
    pub unchanged: Vec<String>,
    /// Counters.
    pub stats: ScanStats,
}

/// Options of one scan.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Globs a file's relative path must match (any); empty means all.
    pub include: Vec<String>,
    /// Globs that exclude a file (any).
    pub exclude: Vec<String>,
    /// Files larger than this are skipped as `too_large`.
    pub max_file_bytes: u64,
    /// The previous manifest.
    pub previous: Option<BTreeMap<String, PreviousEntry>>,
}

enum Outcome {
    File(FileEntry, bool),
    Skip(Skipped),
}

/// Scans `root` (already confined and canonical); more than [`MAX_SCAN_FILES`] files (listed
/// or skipped) is an error.
pub fn scan(root: &Path, options: &ScanOptions, cancel: Option<&AtomicBool>) -> Result<ScanResult> {
    scan_capped(root, options, cancel, MAX_SCAN_FILES)
}

/// [`scan`] with the file cap as a parameter, so its edge is testable without 500k files.
fn scan_capped(
    root: &Path,
    options: &ScanOptions,
    cancel: Option<&AtomicBool>,
    max_files: usize,
) -> Result<ScanResult> {
    let started = Instant::now();
    let include = build_globs("include", &options.include)?;
    let exclude = build_globs("exclude", &options.exclude)?;
    let previous: HashMap<&str, &PreviousEntry> = options
        .previous
        .iter()
        .flatten()
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    let results: Mutex<Vec<Outcome>> = Mutex::new(Vec::new());
    let results = &results;
    let overflow = AtomicBool::new(false);
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8);
    let walker = WalkBuilder::new(root)
        .hidden(false)
        .git_ignore(true)
        .git_global(false)
        .git_exclude(true)
        .require_git(false)
        .ignore(true)
        .parents(false)
        .follow_links(false)
        .threads(threads)
        .filter_entry(|e| e.file_name() != ".git")
        .build_parallel();
    walker.run(|| {
        let include = &include;
        let exclude = &exclude;
        let previous = &previous;
        let overflow = &overflow;
        let mut buffer = Buffer {
            local: Vec::new(),
            shared: results,
        };
        Box::new(move |entry| {
            if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) || overflow.load(Ordering::Relaxed)
            {
                return WalkState::Quit;
            }
            let Ok(entry) = entry else {
                return WalkState::Continue;
            };
            let Some(file_type) = entry.file_type() else {
                return WalkState::Continue;
            };
            if file_type.is_dir() {
                return WalkState::Continue;
            }
            let rel = relative_string(root, entry.path());
            if include.as_ref().is_some_and(|g| !g.is_match(&rel))
                || exclude.as_ref().is_some_and(|g| g.is_match(&rel))
            {
                return WalkState::Continue;
            }
            let outcome = if file_type.is_symlink() {
                Outcome::Skip(Skipped {
                    path: rel,
                    reason: SkipReason::Symlink,
                    detail: "symbolic links are not followed".into(),
                })
            } else if is_secret_file(entry.path()) {
                Outcome::Skip(Skipped {
                    path: rel,
                    reason: SkipReason::SecretFile,
                    detail: "holds secrets by convention (.env*, keys, certificates)".into(),
                })
            } else {
                visit_file(entry.path(), rel, options.max_file_bytes, previous)
            };
            buffer.local.push(outcome);
            if buffer.local.len() >= 256 && buffer.flush() > max_files {
                overflow.store(true, Ordering::Relaxed);
                return WalkState::Quit;
            }
            WalkState::Continue
        })
    });
    if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
        return Err(Error::Cancelled);
    }
    let outcomes = std::mem::take(
        &mut *results
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    if overflow.load(Ordering::Relaxed) || outcomes.len() > max_files {
        return Err(Error::Limit {
            what: format!("the number of files under {}", root.display()),
            actual: outcomes.len() as u64,
            limit: max_files as u64,
            name: "MAX_SCAN_FILES",
            hint: "scan a narrower root or pass `include` globs",
        });
    }
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let mut hashed = 0;
    for outcome in outcomes {
        match outcome {
            Outcome::File(entry, was_hashed) => {
                hashed += usize::from(was_hashed);
                files.push(entry);
            }
            Outcome::Skip(s) => skipped.push(s),
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    let (mut added, mut changed, mut removed, mut unchanged) = (vec![], vec![], vec![], vec![]);
    if let Some(prev) = &options.previous {
        for f in &files {
            match prev.get(&f.path) {
                None => added.push(f.path.clone()),
                Some(p) if p.hash == f.hash => unchanged.push(f.path.clone()),
                Some(_) => changed.push(f.path.clone()),
            }
        }
        let present: std::collections::HashSet<&str> =
            files.iter().map(|f| f.path.as_str()).collect();
        removed = prev
            .keys()
            .filter(|k| !present.contains(k.as_str()))
            .cloned()
            .collect();
    }
    let bytes = files.iter().map(|f| f.size).sum();
    Ok(ScanResult {
        root: root.display().to_string(),
        stats: ScanStats {
            files: files.len(),
            bytes,
            hashed,
            unchanged: unchanged.len(),
            skipped: skipped.len(),
            elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
        },
        files,
        skipped,
        added,
        changed,
        removed,
        unchanged,
    })
}

/// A walker thread's buffer of outcomes, moved into the shared list when the thread ends
/// (or every 256 files), so threads rarely contend on the lock.
struct Buffer<'s> {
    local: Vec<Outcome>,
    shared: &'s Mutex<Vec<Outcome>>,
}

impl Buffer<'_> {
    /// Moves the buffer into the shared list; returns the shared count.
    fn flush(&mut self) -> usize {
        let mut all = self
            .shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        all.append(&mut self.local);
        all.len()
    }
}

impl Drop for Buffer<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

fn visit_file(
    path: &Path,
    rel: String,
    max_bytes: u64,
    previous: &HashMap<&str, &PreviousEntry>,
) -> Outcome {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            return Outcome::Skip(Skipped {
                path: rel,
                reason: SkipReason::Unreadable,
                detail: e.to_string(),
            })
        }
    };
    let size = meta.len();
    if size > max_bytes {
        return Outcome::Skip(Skipped {
            path: rel,
            reason: SkipReason::TooLarge,
            detail: format!("{size} bytes > max_file_bytes {max_bytes}"),
        });
    }
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let language = Language::detect(path);
    if let Some(prev) = previous.get(rel.as_str()) {
        if prev.size == size && prev.mtime_ns == mtime_ns && mtime_ns != 0 {
            return Outcome::File(
                FileEntry {
                    path: rel,
                    language,
                    size,
                    mtime_ns,
                    hash: prev.hash.clone(),
                },
                false,
            );
        }
    }
    match hash_file(path, size) {
        Ok(Some(hash)) => Outcome::File(
            FileEntry {
                path: rel,
                language,
                size,
                mtime_ns,
                hash,
            },
            true,
        ),
        Ok(None) => Outcome::Skip(Skipped {
            path: rel,
            reason: SkipReason::Binary,
            detail: "NUL byte in the first 8 KiB".into(),
        }),
        Err(e) => Outcome::Skip(Skipped {
            path: rel,
            reason: SkipReason::Unreadable,
            detail: e.to_string(),
        }),
    }
}

/// Hashes a file, or `None` when it looks binary.
fn hash_file(path: &Path, size: u64) -> std::io::Result<Option<String>> {
    let mut file = fs::File::open(path)?;
    let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0).saturating_add(1));
    file.read_to_end(&mut buf)?;
    if buf[..buf.len().min(BINARY_SNIFF_BYTES)].contains(&0) {
        return Ok(None);
    }
    Ok(Some(blake3::hash(&buf).to_hex().to_string()))
}

/// Files that hold secrets by convention and are never read.
pub fn is_secret_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if name == ".env"
        || (name.starts_with(".env.")
            && !name.ends_with(".example")
            && !name.ends_with(".sample")
            && !name.ends_with(".template"))
    {
        return true;
    }
    if matches!(
        name.as_str(),
        "id_rsa" | "id_dsa" | "id_ecdsa" | "id_ed25519" | ".netrc" | ".pgpass" | "credentials"
    ) {
        return true;
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    matches!(
        ext.as_str(),
        "pem" | "key" | "p12" | "pfx" | "jks" | "keystore" | "crt" | "cer" | "der"
    )
}

fn build_globs(field: &'static str, globs: &[String]) -> Result<Option<GlobSet>> {
    if globs.is_empty() {
        return Ok(None);
    }
    if globs.len() > MAX_GLOBS {
        return Err(Error::Limit {
            what: format!("the number of `{field}` globs"),
            actual: globs.len() as u64,
            limit: MAX_GLOBS as u64,
            name: "MAX_GLOBS",
            hint: "combine globs with braces, e.g. `**/*.{rs,py}`",
        });
    }
    let mut builder = GlobSetBuilder::new();
    for g in globs {
        let glob = Glob::new(g).map_err(|e| Error::InvalidArgument {
            field,
            reason: format!("bad glob {g:?}: {e}"),
        })?;
        builder.add(glob);
    }
    builder
        .build()
        .map(Some)
        .map_err(|e| Error::InvalidArgument {
            field,
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> ScanOptions {
        ScanOptions {
            max_file_bytes: 1024,
            ..ScanOptions::default()
        }
    }

    fn tree(files: usize) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..files {
            // Spread over directories so the parallel walker's threads all take part.
            let sub = dir.path().join(format!("d{}", i % 7));
            std::fs::create_dir_all(&sub).unwrap();
            std::fs::write(sub.join(format!("f{i}.txt")), "x\n").unwrap();
        }
        dir
    }

    #[test]
    fn the_file_cap_holds_at_its_edge() {
        // 300 stays under the walker's 256-entry flush; 700 crosses it twice.
        for cap in [300, 700] {
            let at = tree(cap);
            let result = scan_capped(at.path(), &options(), None, cap).unwrap();
            assert_eq!(result.files.len(), cap, "exactly {cap} files are listed");
            let over = tree(cap + 1);
            let err = scan_capped(over.path(), &options(), None, cap)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(&format!("over the limit {cap} (MAX_SCAN_FILES)"))
                    && err.contains("narrower root"),
                "{err}"
            );
        }
        // Skipped files count too: the cap bounds the walk, not just the listing.
        let over = tree(10);
        std::fs::write(over.path().join(".env"), "A=1\n").unwrap();
        assert!(scan_capped(over.path(), &options(), None, 10).is_err());
    }

    #[test]
    fn secret_files_are_skipped_by_name_and_look_alikes_are_listed() {
        let secret = [
            ".env",
            ".env.local",
            ".ENV.production",
            "id_rsa",
            "id_dsa",
            "id_ecdsa",
            "id_ed25519",
            ".netrc",
            ".pgpass",
            "credentials",
            "server.pem",
            "tls.key",
            "cert.p12",
            "cert.pfx",
            "store.jks",
            "app.keystore",
            "ca.crt",
            "ca.cer",
            "ca.der",
            "UPPER.PEM",
        ];
        let listed = [
            ".env.example",
            ".env.sample",
            ".env.template",
            "environment.py",
            "id_rsa.pub",
            "keys.py",
            "credentials.md",
            "key.txt",
        ];
        let dir = tempfile::tempdir().unwrap();
        for name in secret.iter().chain(listed.iter()) {
            std::fs::write(dir.path().join(name), "x\n").unwrap();
        }
        let result = scan(dir.path(), &options(), None).unwrap();
        let files: Vec<&str> = result.files.iter().map(|f| f.path.as_str()).collect();
        let mut expected_files = listed.to_vec();
        expected_files.sort_unstable();
        assert_eq!(files, expected_files);
        let mut skipped: Vec<&str> = result
            .skipped
            .iter()
            .filter(|s| s.reason == SkipReason::SecretFile)
            .map(|s| s.path.as_str())
            .collect();
        skipped.sort_unstable();
        let mut expected_skipped = secret.to_vec();
        expected_skipped.sort_unstable();
        assert_eq!(skipped, expected_skipped);
    }

    #[test]
    fn scan_uses_the_named_cap() {
        let dir = tree(3);
        let result = scan(dir.path(), &options(), None).unwrap();
        assert_eq!(result.files.len(), 3);
        assert_eq!(MAX_SCAN_FILES, 500_000);
    }
}
