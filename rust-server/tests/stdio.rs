//! The real `codeloci-ast` binary over stdio, driven by the rmcp client (like rmcp's own
//! `tests/`) and by a raw line client for what an SDK would never send.

mod raw;

use std::path::{Path, PathBuf};

use raw::{structured, tool_error, Raw, BIN};
use rmcp::model::CallToolRequestParams;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::ServiceExt;
use serde_json::{json, Value};

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn repo_root() -> PathBuf {
    manifest_dir().parent().unwrap().to_path_buf()
}

async fn client(root: &Path) -> rmcp::service::RunningService<rmcp::RoleClient, ()> {
    let root = root.to_path_buf();
    let transport = TokioChildProcess::new(tokio::process::Command::new(BIN).configure(|cmd| {
        cmd.arg("--root").arg(&root);
    }))
    .unwrap();
    ().serve(transport).await.unwrap()
}

fn args(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().unwrap().clone()
}

#[tokio::test]
async fn tools_list_matches_snapshot_and_shared_schemas() {
    let client = client(&repo_root()).await;
    let tools = client.list_all_tools().await.unwrap();
    let names: Vec<_> = tools.iter().map(|t| t.name.to_string()).collect();
    assert_eq!(names, ["chunk", "parse", "scan"]);
    let wire = serde_json::to_value(&tools).unwrap();
    let snapshot = manifest_dir().join("tests/snapshots/tools_list.json");
    let rendered = format!("{}\n", serde_json::to_string_pretty(&wire).unwrap());
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&snapshot, &rendered).unwrap();
    }
    assert_eq!(
        rendered,
        std::fs::read_to_string(&snapshot).unwrap(),
        "tools/list wire JSON changed"
    );
    // Every advertised schema is byte-for-byte the file in shared-schemas/.
    let shared = repo_root().join("shared-schemas");
    for tool in &tools {
        for (suffix, schema) in [
            ("input", Some(&tool.input_schema)),
            ("output", tool.output_schema.as_ref()),
        ] {
            let schema = schema.unwrap_or_else(|| panic!("{} has no {suffix} schema", tool.name));
            let file = shared.join(format!("{}.{suffix}.schema.json", tool.name));
            let on_disk: Value = serde_json::from_str(
                &std::fs::read_to_string(&file)
                    .unwrap_or_else(|_| panic!("missing {}", file.display())),
            )
            .unwrap();
            assert_eq!(Value::Object(schema.as_ref().clone()), on_disk, "schema drift: {} differs from what the server advertises; run `codeloci-ast schema --write shared-schemas`", file.display());
            assert_eq!(
                on_disk["$schema"],
                "https://json-schema.org/draft/2020-12/schema"
            );
        }
    }
    client.cancel().await.unwrap();
}

#[test]
fn schema_command_writes_exactly_the_shared_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(BIN)
        .args(["schema", "--write"])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let shared = repo_root().join("shared-schemas");
    let mut written: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    written.sort();
    assert_eq!(written.len(), 9, "3 tools × input/output + 3 shared types");
    for name in written {
        let ours = std::fs::read_to_string(dir.path().join(&name)).unwrap();
        let theirs = std::fs::read_to_string(shared.join(&name)).unwrap_or_default();
        assert_eq!(
            ours,
            theirs,
            "shared-schemas/{} drifted",
            name.to_string_lossy()
        );
    }
}

#[tokio::test]
async fn chunk_returns_named_functions_of_this_repository_with_right_lines() {
    let root = repo_root();
    let client = client(&root).await;
    let scan = client.call_tool(CallToolRequestParams::new("scan").with_arguments(args(json!({"root": ".", "include": ["**/*.rs", "**/*.py"], "exclude": ["**/tests/fixtures/**"]})))).await.unwrap();
    let scanned = scan.structured_content.unwrap();
    let paths: Vec<String> = scanned["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    assert!(paths.iter().any(|p| p == "rust-server/src/chunk.rs"));
    assert!(
        paths.iter().any(|p| p.ends_with(".py")),
        "the repository has Python files"
    );
    let result = client
        .call_tool(
            CallToolRequestParams::new("chunk").with_arguments(args(json!({"paths": paths}))),
        )
        .await
        .unwrap();
    let out = result.structured_content.unwrap();
    assert_eq!(out["errors"], json!([]));
    let mut checked = 0;
    for chunk in out["chunks"].as_array().unwrap() {
        let kind = chunk["kind"].as_str().unwrap();
        // Whole definitions only: pieces of a split one do not all hold its `def` line.
        let whole = chunk["symbols"]
            .as_array()
            .unwrap()
            .contains(&chunk["qualified_name"]);
        if !matches!(kind, "function" | "method") || !whole {
            continue;
        }
        let name = chunk["name"].as_str().unwrap();
        let path = root.join(chunk["path"].as_str().unwrap());
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let (start, end) = (
            chunk["start_line"].as_u64().unwrap() as usize,
            chunk["end_line"].as_u64().unwrap() as usize,
        );
        let span = lines[start - 1..end].join("\n");
        let keyword = if path.extension().unwrap() == "py" {
            format!("def {name}(")
        } else {
            format!("fn {name}")
        };
        assert!(
            span.contains(&keyword),
            "{}:{start}-{end} should define {name}",
            path.display()
        );
        checked += 1;
    }
    assert!(checked > 100, "checked {checked} functions");
    let chunk_rs = out["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["qualified_name"] == "chunk_text")
        .unwrap();
    assert_eq!(chunk_rs["path"], "rust-server/src/chunk.rs");
    assert_eq!(chunk_rs["kind"], "function");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn parse_outlines_a_file_and_inline_content() {
    let client = client(&manifest_dir().join("tests/fixtures")).await;
    let r = client
        .call_tool(
            CallToolRequestParams::new("parse").with_arguments(args(json!({"path": "sample.py"}))),
        )
        .await
        .unwrap();
    let o = r.structured_content.unwrap();
    assert_eq!(o["language"], "python");
    assert_eq!(o["definitions"][0]["qualified_name"], "add");
    let r = client
        .call_tool(CallToolRequestParams::new("parse").with_arguments(args(
            json!({"content": "fn a() {}\nfn b() {}\n", "language": "rust"}),
        )))
        .await
        .unwrap();
    let o = r.structured_content.unwrap();
    assert_eq!(o["path"], Value::Null);
    assert_eq!(o["definitions"].as_array().unwrap().len(), 2);
    client.cancel().await.unwrap();
}

struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new() -> Tree {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        std::fs::create_dir_all(root.join("src/nested")).unwrap();
        std::fs::create_dir_all(root.join("build")).unwrap();
        std::fs::write(root.join(".gitignore"), "build/\n*.log\n").unwrap();
        std::fs::write(root.join("src/a.py"), "def a():\n    return 1\n").unwrap();
        std::fs::write(root.join("src/nested/b.rs"), "fn b() {}\n").unwrap();
        std::fs::write(root.join("build/out.py"), "ignored = True\n").unwrap();
        std::fs::write(root.join("debug.log"), "ignored\n").unwrap();
        std::fs::write(root.join("image.png"), b"\x89PNG\r\n\x1a\n\0\0\0binary").unwrap();
        std::fs::write(root.join(".env"), "SECRET=1\n").unwrap();
        std::fs::write(root.join("empty.py"), "").unwrap();
        std::fs::write(root.join("big.txt"), "x".repeat(2000)).unwrap();
        std::fs::write(dir.path().join("outside.txt"), "secret outside\n").unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(root.join("src"), root.join("src/nested/loop")).unwrap();
            std::os::unix::fs::symlink(dir.path().join("outside.txt"), root.join("escape.txt"))
                .unwrap();
        }
        Tree { dir }
    }
    fn root(&self) -> PathBuf {
        self.dir.path().join("repo")
    }
}

#[test]
fn scan_lists_skips_and_diffs_against_previous() {
    let tree = Tree::new();
    let mut raw = Raw::spawn(&[&tree.root()]);
    let r = raw.call(1, "scan", json!({"root": ".", "max_file_bytes": 1000}));
    let s = structured(&r).clone();
    let files: Vec<&str> = s["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        [".gitignore", "empty.py", "src/a.py", "src/nested/b.rs"]
    );
    let skipped: Vec<(String, String)> = s["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().into(),
                f["reason"].as_str().unwrap().into(),
            )
        })
        .collect();
    for expected in [
        (".env", "secret_file"),
        ("big.txt", "too_large"),
        ("escape.txt", "symlink"),
        ("image.png", "binary"),
        ("src/nested/loop", "symlink"),
    ] {
        assert!(
            skipped.contains(&(expected.0.to_string(), expected.1.to_string())),
            "{expected:?} in {skipped:?}"
        );
    }
    let a = &s["files"][2];
    assert_eq!(a["language"], "python");
    assert_eq!(a["hash"].as_str().unwrap().len(), 64);
    assert_eq!(s["stats"]["hashed"], 4);

    // Same tree again with the manifest: nothing re-read.
    let previous: serde_json::Map<String, Value> = s["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                json!({"hash": f["hash"], "size": f["size"], "mtime_ns": f["mtime_ns"]}),
            )
        })
        .collect();
    let r = raw.call(
        2,
        "scan",
        json!({"root": ".", "max_file_bytes": 1000, "previous": previous}),
    );
    let s2 = structured(&r);
    assert_eq!(s2["stats"]["hashed"], 0, "unchanged files are not re-read");
    assert_eq!(s2["unchanged"].as_array().unwrap().len(), 4);

    // Change one, remove one, add one.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(tree.root().join("src/a.py"), "def a():\n    return 2\n").unwrap();
    std::fs::remove_file(tree.root().join("src/nested/b.rs")).unwrap();
    std::fs::write(tree.root().join("src/c.go"), "package c\n").unwrap();
    let r = raw.call(
        3,
        "scan",
        json!({"root": ".", "max_file_bytes": 1000, "previous": previous}),
    );
    let s3 = structured(&r);
    assert_eq!(s3["changed"], json!(["src/a.py"]));
    assert_eq!(s3["removed"], json!(["src/nested/b.rs"]));
    assert_eq!(s3["added"], json!(["src/c.go"]));
    assert_eq!(s3["stats"]["hashed"], 2);

    // changes_only: the same answer, without the unchanged entries on the wire.
    let r = raw.call(
        4,
        "scan",
        json!({"root": ".", "max_file_bytes": 1000, "previous": previous, "changes_only": true}),
    );
    let s4 = structured(&r);
    let listed: Vec<&str> = s4["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["src/a.py", "src/c.go"]);
    assert_eq!(s4["unchanged"], json!([]));
    assert_eq!(s4["stats"]["unchanged"], 2);
    assert_eq!(
        s4["skipped"],
        json!([]),
        "skipped files the manifest never had are not news"
    );
    assert_eq!(s4["stats"]["skipped"], 5);
    assert_eq!(s4["stats"]["files"], 4);
    assert_eq!(s4["removed"], json!(["src/nested/b.rs"]));
    assert!(
        tool_error(&raw.call(5, "scan", json!({"root": ".", "changes_only": true})))
            .contains("needs `previous`")
    );
}

#[test]
fn paths_outside_the_roots_are_refused_naming_path_and_roots() {
    let tree = Tree::new();
    let mut raw = Raw::spawn(&[&tree.root()]);
    let outside = tree.dir.path().join("outside.txt");
    let cases = [
        ("parse", json!({"path": "../outside.txt"})),
        ("parse", json!({"path": outside.to_str().unwrap()})),
        ("parse", json!({"path": "escape.txt"})),
        (
            "chunk",
            json!({"paths": ["src/nested/loop/../../outside.txt"]}),
        ),
        ("scan", json!({"root": ".."})),
    ];
    for (i, (tool, a)) in cases.into_iter().enumerate() {
        let r = raw.call(10 + i as u64, tool, a.clone());
        let text = if tool == "chunk" {
            structured(&r)["errors"][0]["error"]
                .as_str()
                .unwrap()
                .to_string()
        } else {
            tool_error(&r)
        };
        assert!(
            text.contains("outside the allowed roots"),
            "{tool} {a}: {text}"
        );
        assert!(
            text.contains(tree.root().canonicalize().unwrap().to_str().unwrap()),
            "names the roots: {text}"
        );
    }
    for (i, bad) in ["~/x", "a\u{0}b", ""].into_iter().enumerate() {
        let text = tool_error(&raw.call(20 + i as u64, "parse", json!({"path": bad})));
        assert!(text.contains("invalid path"), "{text}");
    }
    assert!(raw.alive());
}

#[test]
fn bad_inputs_get_specific_errors_and_the_server_keeps_serving() {
    let tree = Tree::new();
    let root = tree.root();
    std::fs::write(root.join("latin1.py"), b"x = '\xe9'\n").unwrap();
    let huge = std::fs::File::create(root.join("huge.js")).unwrap();
    huge.set_len(50 * 1024 * 1024).unwrap(); // a 50 MB (sparse) file
    let mut raw = Raw::spawn(&[&root]);
    let expect = |raw: &mut Raw, id, tool: &str, a: Value, needle: &str| {
        let r = raw.call(id, tool, a);
        let text = if tool == "chunk" {
            structured(&r)["errors"][0]["error"]
                .as_str()
                .unwrap_or("")
                .to_string()
        } else {
            tool_error(&r)
        };
        assert!(
            text.contains(needle),
            "{tool}: expected {needle:?} in {text:?}"
        );
    };
    expect(
        &mut raw,
        1,
        "parse",
        json!({"path": "nope.py"}),
        "path not found: nope.py",
    );
    expect(
        &mut raw,
        2,
        "parse",
        json!({"path": "src"}),
        "is a directory, not a file",
    );
    expect(
        &mut raw,
        3,
        "parse",
        json!({"content": "x", "language": "cobol"}),
        "unknown language \"cobol\"",
    );
    expect(
        &mut raw,
        4,
        "parse",
        json!({"content": "x"}),
        "`content` needs `language`",
    );
    expect(
        &mut raw,
        5,
        "parse",
        json!({"path": "latin1.py"}),
        "not valid UTF-8 (first invalid byte at offset 5)",
    );
    expect(
        &mut raw,
        6,
        "chunk",
        json!({"paths": ["huge.js"]}),
        "over the limit 16777216 (MAX_FILE_BYTES)",
    );
    expect(
        &mut raw,
        7,
        "chunk",
        json!({"paths": ["image.png"]}),
        "looks binary",
    );
    expect(
        &mut raw,
        8,
        "scan",
        json!({"root": "src/a.py"}),
        "is not a directory",
    );
    expect(
        &mut raw,
        9,
        "scan",
        json!({"root": ".", "include": ["a[b"]}),
        "invalid argument `include`",
    );
    expect(
        &mut raw,
        91,
        "chunk",
        json!({"paths": [".env"]}),
        "holds secrets by convention",
    );
    expect(
        &mut raw,
        92,
        "parse",
        json!({"path": ".env"}),
        "holds secrets by convention",
    );
    // Wrong argument types and unknown fields: a JSON-RPC error naming the problem.
    let r = raw.call(10, "chunk", json!({"paths": "src/a.py"}));
    assert!(r.to_string().contains("invalid type"), "{r}");
    let r = raw.call(11, "scan", json!({"root": ".", "colour": "red"}));
    assert!(r.to_string().contains("unknown field `colour`"), "{r}");
    // Unknown tool.
    let r = raw.call(12, "frobnicate", json!({}));
    assert!(r.to_string().contains("frobnicate"), "{r}");
    // Malformed JSON-RPC lines are ignored; the next request is answered.
    raw.send_line("{this is not json");
    raw.send_line("[1, 2");
    raw.send_line(&"x".repeat(100_000));
    let r = raw.call(13, "parse", json!({"path": "empty.py"}));
    assert_eq!(structured(&r)["definitions"], json!([]));
    assert!(raw.alive());
}

#[test]
fn limits_hold_at_their_edges() {
    let tree = Tree::new();
    let root = tree.root();
    let mut raw = Raw::spawn(&[&root]);
    // MAX_PATHS_PER_CALL: 1000 accepted, 1001 refused.
    let paths: Vec<String> = (0..1000).map(|_| "src/a.py".to_string()).collect();
    let r = raw.call(1, "chunk", json!({"paths": paths}));
    assert_eq!(structured(&r)["files"].as_array().unwrap().len(), 1000);
    let paths: Vec<String> = (0..1001).map(|_| "src/a.py".to_string()).collect();
    assert!(
        tool_error(&raw.call(2, "chunk", json!({"paths": paths}))).contains("MAX_PATHS_PER_CALL")
    );
    // max_chunk_chars: 200 and 20000 accepted, 199 and 20001 refused.
    for (id, max, ok) in [
        (3, 200, true),
        (4, 20_000, true),
        (5, 199, false),
        (6, 20_001, false),
    ] {
        let r = raw.call(
            id,
            "chunk",
            json!({"paths": ["src/a.py"], "max_chunk_chars": max}),
        );
        if ok {
            structured(&r);
        } else {
            assert!(tool_error(&r).contains("max_chunk_chars"));
        }
    }
    // MAX_FILE_BYTES: exactly 16 MiB is chunked, one byte more is refused.
    let line = "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz_\n";
    assert_eq!(line.len(), 64);
    let at_limit = line.repeat(16 * 1024 * 1024 / 64);
    std::fs::write(root.join("at_limit.txt"), &at_limit).unwrap();
    std::fs::write(root.join("over_limit.txt"), format!("{at_limit}x")).unwrap();
    let r = raw.call(
        7,
        "chunk",
        json!({"paths": ["at_limit.txt"], "max_chunk_chars": 20000}),
    );
    assert_eq!(structured(&r)["errors"], json!([]));
    assert_eq!(structured(&r)["files"][0]["bytes"], 16 * 1024 * 1024);
    let r = raw.call(8, "chunk", json!({"paths": ["over_limit.txt"]}));
    assert!(structured(&r)["errors"][0]["error"]
        .as_str()
        .unwrap()
        .contains("MAX_FILE_BYTES"));
    // scan's max_file_bytes: a file of exactly the cap is listed, one byte over is skipped.
    let r = raw.call(
        9,
        "scan",
        json!({"root": ".", "max_file_bytes": 2000, "include": ["big.txt"]}),
    );
    assert_eq!(structured(&r)["files"][0]["path"], "big.txt");
    let r = raw.call(
        10,
        "scan",
        json!({"root": ".", "max_file_bytes": 1999, "include": ["big.txt"]}),
    );
    assert_eq!(structured(&r)["skipped"][0]["reason"], "too_large");
    assert!(tool_error(&raw.call(
        11,
        "scan",
        json!({"root": ".", "max_file_bytes": 16 * 1024 * 1024 + 1})
    ))
    .contains("max_file_bytes"));
}

#[test]
fn minified_one_line_file_chunks_correctly() {
    let tree = Tree::new();
    let root = tree.root();
    // ~5 MB of minified JavaScript on one line.
    let unit = "function f(a){return a.map(function(x){return x*2}).filter(Boolean)};var o={k:[1,2,3],s:'str'};";
    let text = unit.repeat(5 * 1024 * 1024 / unit.len());
    std::fs::write(root.join("app.min.js"), &text).unwrap();
    let mut raw = Raw::spawn(&[&root]);
    let r = raw.call(1, "chunk", json!({"paths": ["app.min.js"]}));
    let out = structured(&r);
    assert_eq!(out["errors"], json!([]));
    let chunks = out["chunks"].as_array().unwrap();
    let joined: String = chunks
        .iter()
        .map(|c| c["content"].as_str().unwrap())
        .collect();
    assert_eq!(joined.len(), text.len());
    assert!(joined == text, "chunks tile the minified file");
    assert!(chunks
        .iter()
        .all(|c| c["start_line"] == 1 && c["end_line"] == 1));
}

#[test]
fn a_large_result_has_a_summary_as_its_text_and_a_small_one_its_json() {
    let tree = Tree::new();
    let root = tree.root();
    let body: String = (0..2000)
        .map(|i| format!("def function_{i}(x):\n    return x + {i}\n\n\n"))
        .collect();
    std::fs::write(root.join("many.py"), &body).unwrap();
    let mut raw = Raw::spawn(&[&root]);

    let small = raw.call(1, "chunk", json!({"paths": ["src/a.py"]}));
    let text = small["result"]["content"][0]["text"].as_str().unwrap();
    let copy: Value = serde_json::from_str(text).unwrap();
    assert_eq!(
        &copy,
        structured(&small),
        "a small result's text is its JSON"
    );

    let large = raw.call(2, "chunk", json!({"paths": ["many.py", "src/a.py"]}));
    let out = structured(&large);
    let chunks = out["chunks"].as_array().unwrap();
    let tiled: String = chunks
        .iter()
        .filter(|c| c["path"] == "many.py")
        .map(|c| c["content"].as_str().unwrap())
        .collect();
    assert_eq!(tiled, body, "structuredContent holds every chunk");
    let content = large["result"]["content"].as_array().unwrap();
    assert_eq!(content.len(), 1);
    let text = content[0]["text"].as_str().unwrap();
    assert!(text.len() < 400, "{text}");
    for part in [
        format!("{} chunks", chunks.len()),
        "0 errors".into(),
        "2 files".into(),
    ] {
        assert!(text.contains(&part), "{part:?} in {text}");
    }
    assert!(text.contains("structuredContent") && text.contains("MAX_TEXT_COPY_BYTES"));
}

#[test]
fn progress_is_reported_per_file_and_cancellation_keeps_the_server_alive() {
    let tree = Tree::new();
    let mut raw = Raw::spawn(&[&tree.root()]);
    raw.send_line(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "chunk", "arguments": {"paths": ["src/a.py", "src/nested/b.rs", "empty.py"]}, "_meta": {"progressToken": "tok-1"}}}).to_string());
    let r = raw.response(1);
    structured(&r);
    let progress: Vec<&Value> = raw
        .notifications
        .iter()
        .filter(|n| n["method"] == "notifications/progress")
        .collect();
    assert_eq!(
        progress.len(),
        3,
        "one progress notification per file: {progress:?}"
    );
    assert!(progress
        .iter()
        .all(|p| p["params"]["progressToken"] == "tok-1" && p["params"]["total"] == 3.0));
    assert_eq!(progress.last().unwrap()["params"]["progress"], 3.0);

    // Cancel a large request right away; whatever it answered, the next call works.
    let paths: Vec<String> = (0..1000).map(|_| "big.txt".to_string()).collect();
    raw.send_line(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "chunk", "arguments": {"paths": paths, "max_chunk_chars": 200}}}).to_string());
    raw.send_line(&json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 2, "reason": "test"}}).to_string());
    let r = raw.call(3, "parse", json!({"path": "src/a.py"}));
    assert_eq!(structured(&r)["definitions"][0]["name"], "a");
    assert!(raw.alive());
}

#[test]
fn a_call_over_the_deadline_is_stopped_with_an_error_naming_it_and_the_server_keeps_serving() {
    let tree = Tree::new();
    // ~2 MB of Python: each chunk of it takes far longer than the 300 ms deadline in total.
    let body: String = (0..40_000)
        .map(|i| format!("def f{i}(x):\n    return x + {i}\n"))
        .collect();
    std::fs::write(tree.root().join("huge.py"), body).unwrap();
    let mut raw = Raw::spawn_with(&[&tree.root()], &["--call-timeout-ms", "300"]);
    let started = std::time::Instant::now();
    let paths: Vec<&str> = (0..100).map(|_| "huge.py").collect();
    let r = raw.call(1, "chunk", json!({"paths": paths}));
    let error = tool_error(&r);
    assert!(
        error.contains("longer than 300 ms") && error.contains("CALL_TIMEOUT_MS"),
        "{error}"
    );
    // Stopped, not run to the end (100 files of 2 MB take minutes in a debug build).
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    // The same deadline covers scan and parse; quick calls pass under it.
    let r = raw.call(2, "parse", json!({"path": "src/a.py"}));
    assert_eq!(structured(&r)["definitions"][0]["name"], "a");
    let r = raw.call(3, "scan", json!({"root": "src"}));
    assert_eq!(structured(&r)["files"].as_array().unwrap().len(), 2);
    assert!(raw.alive());

    // The deadline itself is bounded: 0 and over an hour are refused at start-up.
    for bad in ["0", "3600001"] {
        let out = std::process::Command::new(BIN)
            .args(["--call-timeout-ms", bad, "schema"])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("--call-timeout-ms") && stderr.contains("1..=3600000"),
            "{stderr}"
        );
    }
}

#[test]
fn secrets_are_redacted_from_chunks_by_default() {
    let tree = Tree::new();
    let root = tree.root();
    std::fs::write(
        root.join("settings.py"),
        "AWS_KEY = 'AKIAIOSFODNN7EXAMPLE'\nDB = 'postgres://app:S3cr3tP4ss@db:5432/app'\n\n\ndef connect():\n    return DB\n",
    )
    .unwrap();
    let mut raw = Raw::spawn(&[&root]);
    let r = raw.call(1, "chunk", json!({"paths": ["settings.py"]}));
    let out = structured(&r);
    let text: String = out["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["content"].as_str().unwrap())
        .collect();
    assert!(
        !text.contains("AKIAIOSFODNN7EXAMPLE") && !text.contains("S3cr3tP4ss"),
        "{text}"
    );
    assert!(
        text.contains("[REDACTED:aws_access_key_id]")
            && text.contains("postgres://app:[REDACTED:connection_string_password]@db")
    );
    assert_eq!(out["files"][0]["redactions"], 2);
    let first = &out["chunks"][0];
    assert_eq!(first["redactions"][0]["kind"], "aws_access_key_id");
    // Ranges still refer to the file on disk.
    assert_eq!(first["redactions"][0]["start_byte"], 11);
    let r = raw.call(
        2,
        "chunk",
        json!({"paths": ["settings.py"], "redact_secrets": false}),
    );
    let raw_text: String = structured(&r)["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        raw_text,
        std::fs::read_to_string(root.join("settings.py")).unwrap()
    );
}

#[test]
fn a_message_over_the_cap_gets_an_error_naming_it_and_the_server_keeps_serving() {
    use codeloci_ast::limits::MAX_MESSAGE_BYTES;
    let tree = Tree::new();
    let mut raw = Raw::spawn(&[&tree.root()]);
    let line_of = |id: u64, len: usize| {
        let head = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"parse","arguments":{{"language":"text","content":""#
        );
        let tail = r#""}}}"#;
        format!("{head}{}{tail}", "a".repeat(len - head.len() - tail.len()))
    };
    // Exactly at the cap: read and answered by the tool (its content is over MAX_FILE_BYTES).
    let at_cap = line_of(1, MAX_MESSAGE_BYTES);
    assert_eq!(at_cap.len(), MAX_MESSAGE_BYTES);
    raw.send_line(&at_cap);
    assert!(tool_error(&raw.response(1)).contains("MAX_FILE_BYTES"));
    // One byte over: answered with an error naming MAX_MESSAGE_BYTES, under the same id.
    raw.send_line(&line_of(2, MAX_MESSAGE_BYTES + 1));
    let r = raw.response(2);
    let message = r["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("MAX_MESSAGE_BYTES") && message.contains(&MAX_MESSAGE_BYTES.to_string()),
        "{r}"
    );
    let r = raw.call(3, "parse", json!({"path": "src/a.py"}));
    assert_eq!(structured(&r)["definitions"][0]["name"], "a");
}

#[test]
fn glob_and_chunk_count_limits_hold_at_their_edges() {
    use codeloci_ast::limits::{MAX_CHUNKS_PER_RESPONSE, MAX_GLOBS};
    let tree = Tree::new();
    let root = tree.root();
    let mut raw = Raw::spawn(&[&root]);
    let globs = |n: usize| (0..n).map(|i| format!("**/*.x{i}")).collect::<Vec<_>>();
    structured(&raw.call(1, "scan", json!({"root": ".", "exclude": globs(MAX_GLOBS)})));
    let err = tool_error(&raw.call(
        2,
        "scan",
        json!({"root": ".", "exclude": globs(MAX_GLOBS + 1)}),
    ));
    assert!(err.contains("MAX_GLOBS"), "{err}");
    // Lines of exactly 200 characters chunked at 200: one chunk per line.
    let line = format!("{}\n", "x".repeat(199));
    let half = MAX_CHUNKS_PER_RESPONSE / 2;
    std::fs::write(root.join("one.txt"), line.repeat(half)).unwrap();
    std::fs::write(root.join("two.txt"), line.repeat(half)).unwrap();
    std::fs::write(root.join("three.txt"), line.repeat(half + 1)).unwrap();
    let r = raw.call(
        3,
        "chunk",
        json!({"paths": ["one.txt", "two.txt"], "max_chunk_chars": 200}),
    );
    assert_eq!(
        structured(&r)["chunks"].as_array().unwrap().len(),
        MAX_CHUNKS_PER_RESPONSE
    );
    let err = tool_error(&raw.call(
        4,
        "chunk",
        json!({"paths": ["one.txt", "three.txt"], "max_chunk_chars": 200}),
    ));
    assert!(err.contains("MAX_CHUNKS_PER_RESPONSE"), "{err}");
}
