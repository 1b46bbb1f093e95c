//! The one error type of the crate. Every variant carries the context a user needs to act:
//! which path, which limit, which roots, and how to fix it.

use std::path::PathBuf;

/// Everything that can go wrong in `scan`, `parse` and `chunk`, and in starting the HTTP
/// server (token file, origins, address).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The path does not exist.
    #[error("path not found: {path} (resolved against root {root})")]
    NotFound {
        /// The path as the caller gave it.
        path: String,
        /// The root it was resolved against.
        root: PathBuf,
    },
    /// The path resolves outside every allowed root.
    #[error("path {path:?} is outside the allowed roots [{roots}]; pass a path inside a root, or start codeloci-ast with --root covering it")]
    OutsideRoots {
        /// The path as the caller gave it.
        path: String,
        /// The allowed roots, comma separated.
        roots: String,
    },
    /// The path is malformed (empty, NUL byte, `~`, too long).
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath {
        /// The path as the caller gave it.
        path: String,
        /// Why it was refused.
        reason: String,
    },
    /// A file was expected and a directory (or something else) was given.
    #[error(
        "{path} is a directory, not a file; pass a file path (use `scan` to list a directory)"
    )]
    NotAFile {
        /// The offending path.
        path: String,
    },
    /// A directory was expected.
    #[error("{path} is not a directory; `scan` takes a directory as root")]
    NotADirectory {
        /// The offending path.
        path: String,
    },
    /// A named limit was exceeded.
    #[error("{what} is {actual}, over the limit {limit} ({name}); {hint}")]
    Limit {
        /// What was measured, e.g. "file size of src/big.js".
        what: String,
        /// The measured value.
        actual: u64,
        /// The limit.
        limit: u64,
        /// The limit's constant name, as documented in the README.
        name: &'static str,
        /// How to get under it.
        hint: &'static str,
    },
    /// The language is not known or not compiled in.
    #[error("unknown language {0:?}; known: python, rust, javascript, typescript, tsx, go, java, c, cpp, csharp, ruby, markdown, text")]
    UnknownLanguage(String),
    /// The file is not valid UTF-8.
    #[error("{path} is not valid UTF-8 (first invalid byte at offset {offset}); codeloci reads UTF-8 text only: convert the file or exclude it")]
    InvalidUtf8 {
        /// The offending path.
        path: String,
        /// Byte offset of the first invalid sequence.
        offset: usize,
    },
    /// The file looks binary (contains a NUL byte).
    #[error("{path} looks binary (NUL byte at offset {offset}); only text files can be parsed or chunked")]
    Binary {
        /// The offending path.
        path: String,
        /// Byte offset of the first NUL.
        offset: usize,
    },
    /// An argument is inconsistent or out of range.
    #[error("invalid argument `{field}`: {reason}")]
    InvalidArgument {
        /// The argument's name.
        field: &'static str,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The file holds secrets by convention (`.env*`, private keys, certificates) and is never read.
    #[error("{path} holds secrets by convention (.env*, private keys, certificates) and is never read; keep secrets out of tool calls")]
    SecretFile {
        /// The offending path.
        path: String,
    },
    /// The request was cancelled by the client.
    #[error("cancelled by the client")]
    Cancelled,
    /// The whole call did not finish within the server's per-call deadline.
    #[error("the call took longer than {limit_ms} ms (CALL_TIMEOUT_MS; set with codeloci-ast --call-timeout-ms) and was stopped; pass fewer paths per call or a narrower scan root")]
    CallTimeout {
        /// The deadline in milliseconds.
        limit_ms: u64,
    },
    /// Parsing did not finish in time.
    #[error("parsing {path} took longer than {limit_ms} ms (PARSE_TIMEOUT_MS); the file is likely pathological: exclude it")]
    ParseTimeout {
        /// The offending path.
        path: String,
        /// The limit in milliseconds.
        limit_ms: u64,
    },
    /// The `--auth-token-file` (or `CODELOCI_AUTH_TOKEN_FILE`) cannot be read.
    #[error("cannot read the auth token file {path}: {source}; create it with `head -c 32 /dev/urandom | base64 > {path} && chmod 600 {path}`, readable by the user the server runs as")]
    TokenFileUnreadable {
        /// The token file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The token file holds nothing but whitespace.
    #[error("the auth token file {path} is empty; put a token in it: `head -c 32 /dev/urandom | base64 > {path} && chmod 600 {path}`")]
    TokenFileEmpty {
        /// The token file.
        path: PathBuf,
    },
    /// The token file is readable by group or others.
    #[error("the auth token file {path} has mode {mode:04o}: group or others can read the token; make it private with `chmod 600 {path}`")]
    TokenFileMode {
        /// The token file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// HTTP on an address other hosts can reach, without a token.
    #[error("refusing to serve HTTP on {addr} without a token: it is not a loopback address, so anyone who can reach it could call the tools; create a token file (`head -c 32 /dev/urandom | base64 > FILE && chmod 600 FILE`) and pass --auth-token-file FILE (or set CODELOCI_AUTH_TOKEN_FILE=FILE), or bind 127.0.0.1")]
    NoTokenOffLoopback {
        /// The address asked for.
        addr: String,
    },
    /// An `--allow-origin` value that is not an origin.
    #[error("--allow-origin {value:?} is not an origin; give scheme://host[:port] with no path, e.g. https://app.example:8443 (`:*` for any port) or `null`")]
    BadOrigin {
        /// The value given.
        value: String,
    },
    /// An I/O error on a path.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path being read.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
