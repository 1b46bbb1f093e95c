// A line-level JSON-RPC client over the real binary's stdio, for what an SDK client would not
// send: malformed lines, progress tokens, cancellations. Every read has a timeout so a hung
// server fails the test instead of hanging it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use serde_json::{json, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_codeloci-ast");

pub struct Raw {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    /// Notifications seen while waiting for responses.
    pub notifications: Vec<Value>,
}

impl Raw {
    pub fn spawn(roots: &[&std::path::Path]) -> Raw {
        Raw::spawn_with(roots, &[])
    }

    /// Like [`Raw::spawn`], with extra command-line arguments.
    pub fn spawn_with(roots: &[&std::path::Path], extra: &[&str]) -> Raw {
        let mut cmd = Command::new(BIN);
        for r in roots {
            cmd.arg("--root").arg(r);
        }
        cmd.args(extra);
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut raw = Raw {
            child,
            stdin,
            lines,
            notifications: Vec::new(),
        };
        let init = raw.request(0, "initialize", json!({
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw-test", "version": "0"}
        }));
        assert!(init.get("result").is_some(), "initialize failed: {init}");
        raw.send_line(
            &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string(),
        );
        raw
    }

    pub fn send_line(&mut self, line: &str) {
        self.stdin.write_all(line.as_bytes()).unwrap();
        self.stdin.write_all(b"\n").unwrap();
        self.stdin.flush().unwrap();
    }

    pub fn request(&mut self, id: u64, method: &str, params: Value) -> Value {
        self.send_line(
            &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string(),
        );
        self.response(id)
    }

    /// Waits (at most 60 s) for the response with `id`, keeping notifications.
    pub fn response(&mut self, id: u64) -> Value {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(60))
                .expect("server answered within 60 s");
            let msg: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("stdout carried a non-JSON line ({e}): {line}"));
            if msg.get("id") == Some(&json!(id)) {
                return msg;
            }
            if msg.get("method").is_some() && msg.get("id").is_none() {
                self.notifications.push(msg);
            }
        }
    }

    pub fn call(&mut self, id: u64, tool: &str, args: Value) -> Value {
        self.request(id, "tools/call", json!({"name": tool, "arguments": args}))
    }

    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The structured result of a successful tool call.
pub fn structured(response: &Value) -> &Value {
    let result = response
        .get("result")
        .unwrap_or_else(|| panic!("no result: {response}"));
    assert_ne!(
        result.get("isError"),
        Some(&json!(true)),
        "tool error: {result}"
    );
    result
        .get("structuredContent")
        .unwrap_or_else(|| panic!("no structuredContent: {result}"))
}

/// The error text of a failed tool call (isError result).
pub fn tool_error(response: &Value) -> String {
    let result = response
        .get("result")
        .unwrap_or_else(|| panic!("no result: {response}"));
    assert_eq!(
        result.get("isError"),
        Some(&json!(true)),
        "expected a tool error: {result}"
    );
    result["content"][0]["text"].as_str().unwrap().to_string()
}
