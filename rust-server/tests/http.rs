//! The real binary serving streamable HTTP on loopback, driven by rmcp's HTTP client.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use rmcp::model::CallToolRequestParams;
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
    let mut child = Command::new(BIN)
        .arg("--root")
        .arg(root)
        .args(["--http", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
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
