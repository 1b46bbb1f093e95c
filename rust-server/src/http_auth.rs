//! Who may use `codeloci-ast --http`: the Origin and Host allowlists handed to rmcp's
//! streamable HTTP transport (DNS-rebinding protection, which the MCP spec requires of HTTP
//! servers) and the bearer token read from `--auth-token-file`.
//!
//! * **Origin.** A request without `Origin` (any non-browser client) passes. A browser's Origin
//!   passes only when its host is loopback (`localhost`, `127.0.0.1`, `[::1]`), the bound
//!   address, or an `--allow-origin` entry; anything else gets 403 from rmcp.
//! * **Host.** Loopback names and the bound address (403 otherwise, rmcp's check). A wildcard
//!   bind (`0.0.0.0`, `::`) has no one name to check, so its Host is not checked; such a bind
//!   needs a token (below), which a page rebinding a DNS name cannot present.
//! * **Token.** With a token file every request needs `Authorization: Bearer <token>`, compared
//!   in constant time (BLAKE3 digests of both sides, compared by `blake3::Hash`'s constant-time
//!   `==`); otherwise 401 with `WWW-Authenticate: Bearer`. The file must be private (no group or
//!   other permission bits), non-empty and readable, or the server does not start.
//! * **Non-loopback binds** without a token are refused at start.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{Error, Result};

/// The environment variable naming the token file when `--auth-token-file` is not given.
pub const AUTH_TOKEN_FILE_ENV: &str = "CODELOCI_AUTH_TOKEN_FILE";

/// Host names that always count as loopback, for Host and Origin checks.
const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// The body of every 401: how to authenticate, never the token or its file.
pub const UNAUTHORIZED_BODY: &str = "401 Unauthorized: this codeloci-ast requires a bearer token; \
send the header `Authorization: Bearer <token>`, where <token> is the content of the file the \
server was started with (--auth-token-file or CODELOCI_AUTH_TOKEN_FILE)\n";

/// The token a request must present; only its digest is kept.
#[derive(Clone)]
pub struct AuthToken(blake3::Hash);

impl std::fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthToken(<redacted>)")
    }
}

impl AuthToken {
    /// Reads the token from `path`: refused when the file is readable by group or others
    /// (Unix), unreadable, or empty once whitespace is trimmed.
    pub fn from_file(path: &Path) -> Result<Self> {
        let unreadable = |source| Error::TokenFileUnreadable {
            path: path.to_path_buf(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(unreadable)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o7777;
            if mode & 0o077 != 0 {
                return Err(Error::TokenFileMode {
                    path: path.to_path_buf(),
                    mode,
                });
            }
        }
        #[cfg(not(unix))]
        let _ = meta;
        let text = std::fs::read_to_string(path).map_err(unreadable)?;
        let token = text.trim();
        if token.is_empty() {
            return Err(Error::TokenFileEmpty {
                path: path.to_path_buf(),
            });
        }
        Ok(Self::new(token))
    }

    /// A token from its text (tests and callers that already hold it).
    pub fn new(token: &str) -> Self {
        Self(blake3::hash(token.as_bytes()))
    }

    /// Whether `presented` is the token, in time independent of where they differ.
    pub fn matches(&self, presented: &[u8]) -> bool {
        blake3::hash(presented) == self.0
    }
}

/// Refuses a bind other hosts can reach when there is no token.
pub fn require_token_off_loopback(addr: SocketAddr, token: Option<&AuthToken>) -> Result<()> {
    if token.is_none() && !addr.ip().is_loopback() {
        return Err(Error::NoTokenOffLoopback {
            addr: addr.to_string(),
        });
    }
    Ok(())
}

/// The bound address as it appears in a Host or Origin (`[v6]` bracketed), or `None` for a
/// wildcard bind.
fn bound_host(ip: IpAddr) -> Option<String> {
    if ip.is_unspecified() {
        return None;
    }
    Some(match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    })
}

/// The Host allowlist for rmcp (any port): loopback names and the bound address; `None` (no
/// Host check) for a wildcard bind.
pub fn allowed_hosts(addr: SocketAddr) -> Option<Vec<String>> {
    let bound = bound_host(addr.ip())?;
    let mut hosts: Vec<String> = LOOPBACK_HOSTS.iter().map(|h| h.to_string()).collect();
    if !hosts.contains(&bound) {
        hosts.push(bound);
    }
    Some(hosts)
}

/// The Origin allowlist for rmcp: `http` and `https` on any port of loopback hosts and of the
/// bound address, then the `--allow-origin` entries (checked; a portless `http`/`https` entry
/// means its scheme's default port, as a browser sends it).
pub fn allowed_origins(addr: SocketAddr, extra: &[String]) -> Result<Vec<String>> {
    let mut hosts: Vec<String> = LOOPBACK_HOSTS.iter().map(|h| h.to_string()).collect();
    hosts.extend(bound_host(addr.ip()).filter(|b| !LOOPBACK_HOSTS.contains(&b.as_str())));
    let mut origins = Vec::new();
    for host in &hosts {
        for scheme in ["http", "https"] {
            origins.push(format!("{scheme}://{host}:*"));
        }
    }
    for value in extra {
        origins.push(normalize_origin(value)?);
    }
    Ok(origins)
}

/// Checks one `--allow-origin` value and spells out its port.
fn normalize_origin(value: &str) -> Result<String> {
    let bad = || Error::BadOrigin {
        value: value.to_string(),
    };
    let trimmed = value.trim().trim_end_matches('/');
    if trimmed.eq_ignore_ascii_case("null") {
        return Ok("null".into());
    }
    let (base, any_port) = match trimmed.strip_suffix(":*") {
        Some(base) => (base, true),
        None => (trimmed, false),
    };
    let uri: axum::http::Uri = base.parse().map_err(|_| bad())?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(bad());
    };
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() || authority.as_str().contains('@')
    {
        return Err(bad());
    }
    let scheme = scheme.to_ascii_lowercase();
    let host = authority.host().to_ascii_lowercase();
    Ok(match (any_port, authority.port_u16()) {
        (true, None) => format!("{scheme}://{host}:*"),
        (true, Some(_)) => return Err(bad()),
        (false, Some(port)) => format!("{scheme}://{host}:{port}"),
        (false, None) => match scheme.as_str() {
            "http" => format!("{scheme}://{host}:80"),
            "https" => format!("{scheme}://{host}:443"),
            _ => format!("{scheme}://{host}"),
        },
    })
}

/// axum middleware: the request goes on only with `Authorization: Bearer <token>`.
pub async fn require_bearer(token: AuthToken, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| bearer(value.as_bytes()));
    match presented {
        Some(given) if token.matches(given) => next.run(request).await,
        Some(_) => unauthorized(r#"Bearer realm="codeloci-ast", error="invalid_token""#),
        None => unauthorized(r#"Bearer realm="codeloci-ast""#),
    }
}

/// The credentials of a `Bearer` authorization (scheme case-insensitive, RFC 7235).
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let start = rest.iter().position(|b| *b != b' ')?;
    Some(&rest[start..])
}

fn unauthorized(challenge: &'static str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [
            (
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            ),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
        ],
        UNAUTHORIZED_BODY,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_cover_loopback_and_the_bound_address_and_check_extras() {
        let lan: SocketAddr = "192.168.1.5:8765".parse().unwrap();
        let origins = allowed_origins(lan, &["https://app.example".into()]).unwrap();
        assert!(origins.contains(&"http://localhost:*".to_string()));
        assert!(origins.contains(&"https://[::1]:*".to_string()));
        assert!(origins.contains(&"http://192.168.1.5:*".to_string()));
        assert!(origins.contains(&"https://app.example:443".to_string()));
        let wildcard: SocketAddr = "0.0.0.0:8765".parse().unwrap();
        let origins = allowed_origins(wildcard, &[]).unwrap();
        assert_eq!(origins.len(), 6, "{origins:?}");
        assert_eq!(
            normalize_origin("http://Dev.Example:3000/").unwrap(),
            "http://dev.example:3000"
        );
        assert_eq!(
            normalize_origin("http://dev.example:*").unwrap(),
            "http://dev.example:*"
        );
        for bad in [
            "dev.example",
            "http://dev.example/path",
            "http://u@dev.example",
            "",
        ] {
            let err = normalize_origin(bad).unwrap_err().to_string();
            assert!(err.contains("--allow-origin"), "{err}");
        }
    }

    #[test]
    fn hosts_are_loopback_and_the_bound_address_and_unchecked_on_a_wildcard_bind() {
        let v6: SocketAddr = "[fd00::1]:1".parse().unwrap();
        assert_eq!(
            allowed_hosts(v6).unwrap(),
            ["localhost", "127.0.0.1", "[::1]", "[fd00::1]"]
        );
        let lo: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert_eq!(allowed_hosts(lo).unwrap().len(), 3);
        assert!(allowed_hosts("[::]:1".parse().unwrap()).is_none());
    }

    #[test]
    fn bearer_credentials_are_parsed_and_compared() {
        let token = AuthToken::new("s3cret");
        assert_eq!(bearer(b"Bearer s3cret"), Some(&b"s3cret"[..]));
        assert_eq!(bearer(b"bearer  s3cret"), Some(&b"s3cret"[..]));
        assert_eq!(bearer(b"Basic czNjcmV0"), None);
        assert_eq!(bearer(b"Bearer "), None);
        assert!(token.matches(b"s3cret"));
        assert!(!token.matches(b"s3cre"));
        assert!(!token.matches(b"s3cret "));
    }

    #[test]
    fn non_loopback_binds_need_a_token() {
        let token = AuthToken::new("t");
        for addr in ["0.0.0.0:1", "192.168.1.5:1", "[::]:1"] {
            let addr: SocketAddr = addr.parse().unwrap();
            let err = require_token_off_loopback(addr, None).unwrap_err();
            assert!(err.to_string().contains("--auth-token-file"), "{err}");
            require_token_off_loopback(addr, Some(&token)).unwrap();
        }
        require_token_off_loopback("[::1]:1".parse().unwrap(), None).unwrap();
    }
}
