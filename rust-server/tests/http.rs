//! The real binary serving streamable HTTP on loopback, driven by rmcp's HTTP client.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use rmcp::model::CallToolRequestParams;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::ServiceExt;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_codeloci-ast");

struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the server on an ephemeral loopback port and returns its MCP URL.
fn start(root: &std::path::Path) -> (Server, String) {
    start_with(root, &["--http", "127.0.0.1:0"], &[])
}

/// Starts the server with these arguments and environment; returns it and its MCP URL.
fn start_with(
    root: &std::path::Path,
    args: &[&str],
    env: &[(&str, &std::path::Path)],
) -> (Server, String) {
    let mut command = Command::new(BIN);
    command
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("CODELOCI_AUTH_TOKEN_FILE")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("codeloci-ast listening on ") {
                let _ = tx.send(url.to_string());
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("server printed its address");
    (Server(child), url)
}

#[tokio::test]
async fn tools_over_streamable_http() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let (_server, url) = start(&fixtures);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let client = ().serve(StreamableHttpClientTransport::from_uri(url)).await.unwrap();
    let tools = client.list_all_tools().await.unwrap();
    let mut names: Vec<_> = tools.iter().map(|t| t.name.to_string()).collect();
    names.sort();
    assert_eq!(names, ["chunk", "parse", "scan"]);
    assert!(tools.iter().all(|t| t.output_schema.is_some()));
    let result = client
        .call_tool(
            CallToolRequestParams::new("chunk")
                .with_arguments(json!({"paths": ["sample.go"]}).as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    let out = result.structured_content.unwrap();
    let names: Vec<_> = out["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["qualified_name"].as_str())
        .collect();
    assert!(
        names.contains(&"Server.Run") && names.contains(&"NewServer"),
        "{names:?}"
    );
    let refused = client
        .call_tool(
            CallToolRequestParams::new("parse").with_arguments(
                json!({"path": "../Cargo.toml"})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        )
        .await
        .unwrap();
    assert_eq!(refused.is_error, Some(true));
    client.cancel().await.unwrap();
}

// ------------------------------------------------------------------ who may use the HTTP port

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#;

/// A raw HTTP/1.1 answer: status, headers (lower-case names), body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// POSTs an `initialize` to `url` over a plain TCP connection with exactly these extra
/// headers (`Host` defaults to the URL's authority), so nothing is added behind our back.
fn post_initialize(url: &str, headers: &[(&str, &str)]) -> Answer {
    let authority = url
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .unwrap();
    let mut stream = std::net::TcpStream::connect(authority).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let host = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("host"))
        .map_or(authority, |(_, v)| v);
    let mut request = format!(
        "POST /mcp HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nConnection: close\r\n\
         Content-Length: {}\r\n",
        INITIALIZE.len()
    );
    for (name, value) in headers {
        if !name.eq_ignore_ascii_case("host") {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    request.push_str("\r\n");
    request.push_str(INITIALIZE);
    stream.write_all(request.as_bytes()).unwrap();
    // Read the head and whatever body arrives first: an SSE answer stays open, so stop at the
    // first event rather than at EOF.
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = stream.read(&mut buf).unwrap_or(0);
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&raw);
        if let Some((_, body)) = text.split_once("\r\n\r\n") {
            if body.contains("\"result\"") || text.starts_with("HTTP/1.1 4") && !body.is_empty() {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_string(),
    }
}

/// A private token file in a fresh temporary directory.
fn token_file(token: &str, mode: u32) -> (tempfile::TempDir, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    std::fs::write(&path, format!("  {token}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    (dir, path)
}

/// Runs the binary expecting it to refuse to start; returns its stderr.
fn refused_at_start(args: &[&str], env: &[(&str, &std::path::Path)]) -> String {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut command = Command::new(BIN);
    command
        .arg("--root")
        .arg(&fixtures)
        .args(args)
        .env_remove("CODELOCI_AUTH_TOKEN_FILE")
        .stdin(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    let out = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "started anyway: {stderr}");
    assert!(!stderr.contains("listening"), "{stderr}");
    stderr
}

#[tokio::test]
async fn foreign_origins_and_hosts_are_refused_loopback_and_allowed_origins_pass() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let (_server, url) = start_with(
        &fixtures,
        &[
            "--http",
            "127.0.0.1:0",
            "--allow-origin",
            "https://app.example",
        ],
        &[],
    );
    let port = url.rsplit(':').next().unwrap().trim_end_matches("/mcp");

    let evil = post_initialize(&url, &[("Origin", "http://evil.example")]);
    assert_eq!(evil.status, 403, "{}", evil.body);
    assert!(evil.body.contains("Origin"), "{}", evil.body);
    // A page on another port of a name that merely starts like an allowed one.
    let lookalike = post_initialize(&url, &[("Origin", "http://localhost.evil.example:8080")]);
    assert_eq!(lookalike.status, 403);
    let default_port_only = post_initialize(&url, &[("Origin", "https://app.example:8443")]);
    assert_eq!(default_port_only.status, 403);

    let rebound_host = format!("evil.example:{port}");
    let bad_host = post_initialize(&url, &[("Host", &rebound_host)]);
    assert_eq!(bad_host.status, 403, "{}", bad_host.body);
    assert!(bad_host.body.contains("Host"), "{}", bad_host.body);

    for origin in [
        None,
        Some("http://localhost:5173"),
        Some("http://127.0.0.1"),
        Some("https://[::1]:8443"),
        Some("https://app.example"),
    ] {
        let headers: Vec<(&str, &str)> = origin.iter().map(|o| ("Origin", *o)).collect();
        let ok = post_initialize(&url, &headers);
        assert_eq!(ok.status, 200, "{origin:?}: {}", ok.body);
        assert!(ok.body.contains("codeloci-ast"), "{origin:?}: {}", ok.body);
    }
    let localhost_host = format!("localhost:{port}");
    assert_eq!(
        post_initialize(&url, &[("Host", &localhost_host)]).status,
        200
    );
}

#[tokio::test]
async fn with_a_token_file_every_request_needs_the_bearer_token() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let (_dir, path) = token_file("tok-3f9a", 0o600);
    let (_server, url) = start_with(
        &fixtures,
        &[
            "--http",
            "127.0.0.1:0",
            "--auth-token-file",
            path.to_str().unwrap(),
        ],
        &[],
    );

    let none = post_initialize(&url, &[]);
    assert_eq!(none.status, 401);
    assert!(
        none.header("www-authenticate")
            .is_some_and(|v| v.starts_with("Bearer")),
        "{:?}",
        none.headers
    );
    assert!(
        none.body.contains("Authorization: Bearer <token>"),
        "{}",
        none.body
    );
    let wrong = post_initialize(&url, &[("Authorization", "Bearer tok-3f9b")]);
    assert_eq!(wrong.status, 401);
    assert!(wrong
        .header("www-authenticate")
        .is_some_and(|v| v.contains("invalid_token")));
    assert!(
        !wrong.body.contains("tok-3f9"),
        "the token leaked: {}",
        wrong.body
    );
    let prefix = post_initialize(&url, &[("Authorization", "Bearer tok-3f9")]);
    assert_eq!(prefix.status, 401);
    let basic = post_initialize(&url, &[("Authorization", "Basic dG9rLTNmOWE=")]);
    assert_eq!(basic.status, 401);
    let right = post_initialize(&url, &[("Authorization", "Bearer tok-3f9a")]);
    assert_eq!(right.status, 200, "{}", right.body);

    // The real rmcp client: refused without the token, served with it.
    let refused = ().serve(StreamableHttpClientTransport::from_uri(url.clone())).await;
    assert!(refused.is_err(), "initialize succeeded without a token");
    let config = StreamableHttpClientTransportConfig::with_uri(url.clone()).auth_header("tok-3f9a");
    let client = ().serve(StreamableHttpClientTransport::from_config(config)).await.unwrap();
    let info = client.peer_info().unwrap();
    assert_eq!(info.server_info.as_ref().unwrap().name, "codeloci-ast");
    assert_eq!(client.list_all_tools().await.unwrap().len(), 3);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_wildcard_bind_with_a_token_from_the_environment_serves() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let (_dir, path) = token_file("env-token", 0o400);
    let (_server, url) = start_with(
        &fixtures,
        &["--http", "0.0.0.0:0"],
        &[("CODELOCI_AUTH_TOKEN_FILE", &path)],
    );
    let url = url.replace("0.0.0.0", "127.0.0.1");
    assert_eq!(post_initialize(&url, &[]).status, 401);
    // The Host is not checked on a wildcard bind (no one name to check); the Origin still is.
    let port = url.rsplit(':').next().unwrap().trim_end_matches("/mcp");
    let lan_host = format!("codeloci.lan:{port}");
    let auth = ("Authorization", "Bearer env-token");
    assert_eq!(
        post_initialize(&url, &[auth, ("Host", &lan_host)]).status,
        200
    );
    assert_eq!(
        post_initialize(&url, &[auth, ("Origin", "http://evil.example")]).status,
        403
    );
    let config = StreamableHttpClientTransportConfig::with_uri(url).auth_header("env-token");
    let client = ().serve(StreamableHttpClientTransport::from_config(config)).await.unwrap();
    assert_eq!(client.list_all_tools().await.unwrap().len(), 3);
    client.cancel().await.unwrap();
}

#[test]
fn unsafe_http_setups_are_refused_at_start_saying_how_to_fix_them() {
    let err = refused_at_start(&["--http", "0.0.0.0:0"], &[]);
    assert!(
        err.contains("without a token") && err.contains("--auth-token-file"),
        "{err}"
    );
    assert!(err.contains("head -c 32 /dev/urandom | base64"), "{err}");

    let (_dir, open) = token_file("tok", 0o644);
    let err = refused_at_start(
        &[
            "--http",
            "127.0.0.1:0",
            "--auth-token-file",
            open.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        err.contains(open.to_str().unwrap()) && err.contains("0644"),
        "{err}"
    );
    assert!(
        err.contains(&format!("chmod 600 {}", open.display())),
        "{err}"
    );
    // The environment variable is held to the same rule.
    let err = refused_at_start(
        &["--http", "127.0.0.1:0"],
        &[("CODELOCI_AUTH_TOKEN_FILE", &open)],
    );
    assert!(err.contains("chmod 600"), "{err}");

    let (_dir, empty) = token_file(" \n", 0o600);
    let err = refused_at_start(
        &[
            "--http",
            "127.0.0.1:0",
            "--auth-token-file",
            empty.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        err.contains("is empty") && err.contains(empty.to_str().unwrap()),
        "{err}"
    );

    let missing = empty.with_file_name("missing");
    let err = refused_at_start(
        &[
            "--http",
            "127.0.0.1:0",
            "--auth-token-file",
            missing.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        err.contains("cannot read the auth token file") && err.contains("head -c 32"),
        "{err}"
    );

    let err = refused_at_start(
        &["--http", "127.0.0.1:0", "--allow-origin", "evil.example"],
        &[],
    );
    assert!(err.contains("--allow-origin \"evil.example\""), "{err}");
}
