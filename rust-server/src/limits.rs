//! Every limit the server enforces, named once. The README's "Limits" table lists these names;
//! each is tested at its edge.

/// Largest file `parse` and `chunk` read (16 MiB). A larger one is a per-file error.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// Default `max_file_bytes` of `scan` (1 MiB): larger files are reported as `too_large`.
pub const DEFAULT_SCAN_MAX_FILE_BYTES: u64 = 1024 * 1024;
/// Largest `max_file_bytes` a caller may ask `scan` for (same as [`MAX_FILE_BYTES`]).
pub const MAX_SCAN_MAX_FILE_BYTES: u64 = MAX_FILE_BYTES;
/// Most paths one `chunk` call accepts.
pub const MAX_PATHS_PER_CALL: usize = 1000;
/// Most chunks one `chunk` response carries; over it the call fails, asking for fewer paths.
pub const MAX_CHUNKS_PER_RESPONSE: usize = 100_000;
/// Most files one `scan` lists; over it the call fails, asking for a narrower root or `include`.
pub const MAX_SCAN_FILES: usize = 500_000;
/// Default `max_chunk_chars` of `chunk`.
pub const DEFAULT_MAX_CHUNK_CHARS: usize = 1500;
/// Smallest `max_chunk_chars` accepted.
pub const MIN_MAX_CHUNK_CHARS: usize = 200;
/// Largest `max_chunk_chars` accepted.
pub const MAX_MAX_CHUNK_CHARS: usize = 20_000;
/// Longest path accepted, in bytes.
pub const MAX_PATH_BYTES: usize = 4096;
/// Most include or exclude globs in one `scan`.
pub const MAX_GLOBS: usize = 256;
/// Most entries in a `previous` manifest.
pub const MAX_PREVIOUS_ENTRIES: usize = MAX_SCAN_FILES;
/// Time one file may take to parse before it is abandoned with an error.
pub const PARSE_TIMEOUT_MS: u64 = 10_000;
/// Default time one tool call may take before it is stopped with an error (2 minutes);
/// `--call-timeout-ms` changes it, within [`MIN_CALL_TIMEOUT_MS`]..=[`MAX_CALL_TIMEOUT_MS`].
pub const CALL_TIMEOUT_MS: u64 = 120_000;
/// Smallest `--call-timeout-ms` accepted.
pub const MIN_CALL_TIMEOUT_MS: u64 = 1;
/// Largest `--call-timeout-ms` accepted (1 hour).
pub const MAX_CALL_TIMEOUT_MS: u64 = 3_600_000;
/// Deepest nesting of definitions kept in an outline; deeper ones stay inside their ancestor.
pub const MAX_SYMBOL_DEPTH: usize = 48;
/// Most syntax-error ranges reported for one file.
pub const MAX_ERROR_RANGES: usize = 1000;
/// Longest signature kept, in characters.
pub const MAX_SIGNATURE_CHARS: usize = 400;
/// Longest docstring kept, in characters.
pub const MAX_DOCSTRING_CHARS: usize = 2000;
/// Most references (and, separately, import statements) kept per file when `chunk` is asked
/// for `symbols`.
pub const MAX_REFERENCES_PER_FILE: usize = 200_000;
/// Longest import statement kept whole for symbol navigation, in characters (a longer one is
/// cut, its last names lost).
pub const MAX_IMPORT_CHARS: usize = 20_000;
/// Most call names kept per chunk.
pub const MAX_CALLS_PER_CHUNK: usize = 256;
/// Largest JSON-RPC message (one line) the stdio transport reads (32 MiB).
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024 * 1024;
/// Largest structured result (JSON, in bytes) whose text block repeats it in full; a larger
/// one gets a one-line summary there instead (`structuredContent` is always complete).
pub const MAX_TEXT_COPY_BYTES: usize = 64 * 1024;
