//! The MCP face of the crate: an rmcp [`ServerHandler`] exposing `scan`, `parse` and `chunk`
//! with input and output schemas, structured results, progress notifications and cancellation.
//! The heavy work runs on blocking threads (rayon inside) so the protocol loop stays responsive.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ProgressNotificationParam,
    ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{tool, tool_handler, tool_router, ErrorData, RoleServer, ServerHandler};
use tokio_util::sync::CancellationToken;

use crate::chunk::Chunk;
use crate::error::Error;
use crate::outline::Outline;
use crate::paths::Roots;
use crate::scan::ScanResult;
use crate::tools::{self, ChunkArgs, ChunkResult, ParseArgs, ScanArgs};

/// The `codeloci-ast` MCP server.
#[derive(Clone)]
pub struct AstServer {
    roots: Arc<Roots>,
    call_timeout: Duration,
    tool_router: ToolRouter<AstServer>,
}

/// Sets a flag, for code on blocking threads, when the request's cancellation token fires or
/// when the per-call deadline passes; remembers which of the two it was.
struct CancelFlag {
    flag: Arc<AtomicBool>,
    timed_out: Arc<AtomicBool>,
    limit: Duration,
    watcher: tokio::task::JoinHandle<()>,
}

impl CancelFlag {
    fn watch(ct: CancellationToken, limit: Duration) -> CancelFlag {
        let flag = Arc::new(AtomicBool::new(false));
        let timed_out = Arc::new(AtomicBool::new(false));
        let (set, late) = (flag.clone(), timed_out.clone());
        let watcher = tokio::spawn(async move {
            tokio::select! {
                _ = ct.cancelled() => {}
                _ = tokio::time::sleep(limit) => late.store(true, Ordering::Relaxed),
            }
            set.store(true, Ordering::Relaxed);
        });
        CancelFlag {
            flag,
            timed_out,
            limit,
            watcher,
        }
    }

    /// Runs `work` on a blocking thread with this flag; a call stopped by the deadline fails
    /// with [`Error::CallTimeout`] whatever error the interrupted work reported.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&AtomicBool) -> crate::error::Result<T> + Send + 'static,
    ) -> Result<T, String> {
        let flag = self.flag.clone();
        let result = match tokio::task::spawn_blocking(move || work(&flag)).await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(e) => Err(format!("internal error: the worker thread failed: {e}")),
        };
        match result {
            Err(_) if self.timed_out.load(Ordering::Relaxed) => Err(Error::CallTimeout {
                limit_ms: self.limit.as_millis() as u64,
            }
            .to_string()),
            other => other,
        }
    }
}

impl Drop for CancelFlag {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

#[tool_router]
impl AstServer {
    /// A server confined to `roots`, with the default per-call deadline
    /// ([`CALL_TIMEOUT_MS`](crate::limits::CALL_TIMEOUT_MS)).
    pub fn new(roots: Roots) -> AstServer {
        AstServer {
            roots: Arc::new(roots),
            call_timeout: Duration::from_millis(crate::limits::CALL_TIMEOUT_MS),
            tool_router: Self::tool_router(),
        }
    }

    /// The same server with another per-call deadline: a call still running after `limit` is
    /// stopped and fails with an error naming `CALL_TIMEOUT_MS`.
    pub fn with_call_timeout(mut self, limit: Duration) -> AstServer {
        self.call_timeout = limit;
        self
    }

    /// The tools with their schemas, exactly as `tools/list` advertises them.
    pub fn tools(&self) -> Vec<rmcp::model::Tool> {
        self.tool_router
            .list_all()
            .into_iter()
            .map(|mut tool| {
                tool.input_schema = Arc::new(portable(&tool.input_schema));
                tool.output_schema = tool.output_schema.map(|s| Arc::new(portable(&s)));
                tool
            })
            .collect()
    }

    #[tool(
        name = "scan",
        description = "List files (honouring .gitignore): language, size, mtime, blake3; skipped files with a reason. With `previous`: added/changed/removed/unchanged.",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn scan(
        &self,
        Parameters(args): Parameters<ScanArgs>,
        ct: CancellationToken,
    ) -> Result<Json<ScanResult>, String> {
        let roots = self.roots.clone();
        CancelFlag::watch(ct, self.call_timeout)
            .run(move |flag| tools::run_scan(&roots, args, Some(flag)))
            .await
            .map(Json)
    }

    #[tool(
        name = "parse",
        description = "Tree-sitter outline of a file or `content`: definitions (kind, name, qualified name, signature, docstring, lines, bytes), imports, syntax errors.",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn parse(
        &self,
        Parameters(args): Parameters<ParseArgs>,
        ct: CancellationToken,
    ) -> Result<Json<Outline>, String> {
        let roots = self.roots.clone();
        CancelFlag::watch(ct, self.call_timeout)
            .run(move |flag| tools::run_parse(&roots, args, Some(flag)))
            .await
            .map(Json)
    }

    #[tool(
        name = "chunk",
        description = "Semantic chunks tiling each file: id, qualified name, signature, docstring, parent, lines, bytes, content, hash, called names. Per-file errors; progress per file.",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn chunk(
        &self,
        Parameters(args): Parameters<ChunkArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<ChunkResult>, String> {
        tools::check_chunk_args(&args).map_err(|e| e.to_string())?;
        let roots = self.roots.clone();
        let cancel = CancelFlag::watch(ctx.ct.clone(), self.call_timeout);
        let total = args.paths.len();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let progress = ctx.meta.get_progress_token().map(|token| {
            let peer = ctx.peer.clone();
            tokio::spawn(async move {
                let mut done = 0usize;
                while let Some(path) = rx.recv().await {
                    done += 1;
                    let param = ProgressNotificationParam::new(token.clone(), done as f64)
                        .with_total(total as f64)
                        .with_message(format!("chunked {path}"));
                    if peer.notify_progress(param).await.is_err() {
                        break;
                    }
                }
            })
        });
        let result = cancel
            .run(move |flag| {
                let on_file = move |path: &str| {
                    let _ = tx.send(path.to_string());
                };
                tools::run_chunk(&roots, &args, Some(flag), &on_file)
            })
            .await;
        if let Some(task) = progress {
            // All senders are gone once the work is done, so the forwarder drains and ends.
            let _ = task.await;
        }
        result.map(Json)
    }
}

/// Drops schemars' non-standard integer/float `format`s (`uint`, `uint64`, `double`, …), which
/// JSON Schema 2020-12 validators such as ajv warn about; `minimum: 0` already says unsigned.
fn portable(schema: &rmcp::model::JsonObject) -> rmcp::model::JsonObject {
    fn walk(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                let numeric = map.get("format").and_then(|f| f.as_str()).is_some_and(|f| {
                    matches!(
                        f,
                        "uint"
                            | "uint8"
                            | "uint16"
                            | "uint32"
                            | "uint64"
                            | "int"
                            | "int8"
                            | "int16"
                            | "int32"
                            | "int64"
                            | "double"
                            | "float"
                    )
                });
                if numeric {
                    map.remove("format");
                }
                map.values_mut().for_each(walk);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    let mut value = serde_json::Value::Object(schema.clone());
    walk(&mut value);
    match value {
        serde_json::Value::Object(map) => map,
        _ => unreachable!("an object stays an object"),
    }
}

/// A successful result over [`MAX_TEXT_COPY_BYTES`](crate::limits::MAX_TEXT_COPY_BYTES) keeps
/// its `structuredContent` and gets a one-line summary as its text block instead of a second
/// copy of the JSON. The MCP spec asks for the copy with SHOULD, for clients that read only
/// text; a `chunk` answer runs to megabytes, and repeating it doubled what every client had to
/// transfer and parse, while the clients that matter read `structuredContent` (the
/// orchestrator, the TS and Python SDKs, Claude Code).
fn compact_text(mut response: CallToolResponse) -> CallToolResponse {
    let CallToolResponse::Complete(result) = &mut response else {
        return response;
    };
    let (Some(value), [copy]) = (&result.structured_content, result.content.as_slice()) else {
        return response;
    };
    let large = copy
        .as_text()
        .is_some_and(|t| t.text.len() > crate::limits::MAX_TEXT_COPY_BYTES);
    if result.is_error != Some(true) && large {
        result.content = vec![rmcp::model::ContentBlock::text(summary(
            value,
            copy_len(copy),
        ))];
    }
    response
}

fn copy_len(copy: &rmcp::model::ContentBlock) -> usize {
    copy.as_text().map_or(0, |t| t.text.len())
}

/// `"14 files, 9217 chunks, 0 errors (…)"`: the length of every top-level array and the value
/// of every top-level number, then where the whole result is.
fn summary(value: &serde_json::Value, bytes: usize) -> String {
    let mut parts = Vec::new();
    if let serde_json::Value::Object(map) = value {
        for (key, field) in map {
            match field {
                serde_json::Value::Array(items) => parts.push(format!("{} {key}", items.len())),
                serde_json::Value::Number(n) => parts.push(format!("{key}: {n}")),
                _ => {}
            }
        }
    }
    format!(
        "{}; the full result ({bytes} bytes of JSON) is in structuredContent, not repeated here (over MAX_TEXT_COPY_BYTES, {} bytes)",
        parts.join(", "),
        crate::limits::MAX_TEXT_COPY_BYTES
    )
}

#[tool_handler]
impl ServerHandler for AstServer {
    async fn list_tools(
        &self,
        _request: Option<rmcp::model::PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListToolsResult, ErrorData> {
        Ok(rmcp::model::ListToolsResult::with_all_items(self.tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if self.tool_router.get(&request.name).is_none() {
            let known: Vec<_> = self
                .tool_router
                .list_all()
                .into_iter()
                .map(|t| t.name.to_string())
                .collect();
            return Err(ErrorData::invalid_params(
                format!(
                    "unknown tool {:?}; this server has: {}",
                    request.name,
                    known.join(", ")
                ),
                None,
            ));
        }
        let response = self
            .tool_router
            .call(ToolCallContext::new(self, request, context))
            .await?;
        Ok(compact_text(response))
    }

    async fn on_custom_request(
        &self,
        request: rmcp::model::CustomRequest,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CustomResult, ErrorData> {
        if request.method == crate::transport::OVERSIZED_METHOD {
            let params = request.params.unwrap_or_default();
            return Err(ErrorData::invalid_request(
                format!(
                    "the message was {} bytes, over MAX_MESSAGE_BYTES ({}); it was discarded: send smaller requests (fewer paths per call, smaller content)",
                    params["bytes"], params["limit"]
                ),
                None,
            ));
        }
        Err(ErrorData::new(
            rmcp::model::ErrorCode::METHOD_NOT_FOUND,
            format!("unknown method {:?}", request.method),
            None,
        ))
    }

    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("codeloci-ast", env!("CARGO_PKG_VERSION")))
            .with_instructions(format!(
                "Code intelligence over the roots [{}]: `scan` lists files with hashes, `parse` outlines one file, `chunk` splits files into semantic units.",
                self.roots.describe()
            ))
    }
}

/// Shared types whose schemas are published beside the tools' (see `codeloci-ast schema`).
pub fn shared_type_schemas() -> Vec<(&'static str, serde_json::Value)> {
    fn schema<T: schemars::JsonSchema + 'static>() -> serde_json::Value {
        serde_json::Value::Object(portable(
            &rmcp::handler::server::tool::schema_for_type::<T>(),
        ))
    }
    vec![
        ("file_entry", schema::<crate::scan::FileEntry>()),
        ("outline", schema::<Outline>()),
        ("chunk", schema::<Chunk>()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::MAX_TEXT_COPY_BYTES;
    use rmcp::model::{CallToolResult, ContentBlock};

    fn answer(text_len: usize, is_error: bool) -> CallToolResponse {
        let value = serde_json::json!({"chunks": [1, 2, 3], "total": 7, "root": "x"});
        let mut result = CallToolResult::structured(value);
        result.content = vec![ContentBlock::text("x".repeat(text_len))];
        result.is_error = Some(is_error);
        result.into()
    }

    fn text(response: &CallToolResponse) -> &str {
        match response {
            CallToolResponse::Complete(r) => &r.content[0].as_text().unwrap().text,
            _ => unreachable!(),
        }
    }

    #[test]
    fn the_text_copy_is_kept_up_to_the_limit_and_summarised_above_it() {
        let kept = compact_text(answer(MAX_TEXT_COPY_BYTES, false));
        assert_eq!(text(&kept).len(), MAX_TEXT_COPY_BYTES);
        let summarised = compact_text(answer(MAX_TEXT_COPY_BYTES + 1, false));
        assert!(
            text(&summarised).starts_with("3 chunks, total: 7; the full result (65537 bytes"),
            "{}",
            text(&summarised)
        );
        let CallToolResponse::Complete(r) = &summarised else {
            unreachable!()
        };
        assert_eq!(
            r.structured_content.as_ref().unwrap()["chunks"],
            serde_json::json!([1, 2, 3])
        );
        // An error result is never shortened.
        let error = compact_text(answer(MAX_TEXT_COPY_BYTES + 1, true));
        assert_eq!(text(&error).len(), MAX_TEXT_COPY_BYTES + 1);
    }
}
