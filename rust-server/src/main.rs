//! The `codeloci-ast` binary: MCP over stdio (default) or streamable HTTP, or `schema` to print
//! the published JSON Schemas.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use codeloci_ast::http_auth;
use codeloci_ast::limits::{
    CALL_TIMEOUT_MS, MAX_CALL_TIMEOUT_MS, MAX_MESSAGE_BYTES, MIN_CALL_TIMEOUT_MS,
};
use codeloci_ast::paths::Roots;
use codeloci_ast::server::{shared_type_schemas, AstServer};
use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::transport::streamable_http_server::{
    session::local::LocalSessionManager, StreamableHttpServerConfig, StreamableHttpService,
};
use rmcp::ServiceExt;

/// Scan, parse and chunk repositories with tree-sitter, as an MCP server.
#[derive(Debug, Parser)]
#[command(name = "codeloci-ast", version, about)]
struct Cli {
    /// A directory every tool is confined to (repeatable; default: the working directory).
    #[arg(long = "root", value_name = "DIR", global = true)]
    roots: Vec<PathBuf>,
    /// Serve streamable HTTP at this address (e.g. 127.0.0.1:8765) instead of stdio; the
    /// endpoint is /mcp.
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// With --http: require `Authorization: Bearer <token>` on every request, the token being
    /// this file's content (whitespace trimmed; the file must be private, e.g. mode 0600).
    /// Default: $CODELOCI_AUTH_TOKEN_FILE. Required to bind a non-loopback address.
    #[arg(long, value_name = "PATH")]
    auth_token_file: Option<PathBuf>,
    /// With --http: also accept requests from browser pages of this Origin (repeatable;
    /// scheme://host[:port], `:*` for any port). Loopback origins and the bound address are
    /// always accepted; requests without an Origin header are not affected.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    allow_origins: Vec<String>,
    /// Stop a tool call still running after this many milliseconds, with an error naming
    /// CALL_TIMEOUT_MS (default 120000; 1 to 3600000).
    #[arg(long, value_name = "MS", default_value_t = CALL_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(MIN_CALL_TIMEOUT_MS..=MAX_CALL_TIMEOUT_MS))]
    call_timeout_ms: u64,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Time the library in-process for `just bench` (prints JSON).
    #[command(hide = true)]
    Bench {
        #[command(subcommand)]
        what: BenchCommand,
    },
    /// Print the JSON Schemas of every tool input and output and of the shared types.
    Schema {
        /// Write one file per schema into this directory instead of printing.
        #[arg(long, value_name = "DIR")]
        write: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Chunk the files listed (one path per line) in FILE.
    Chunk {
        /// File with one path per line.
        list: PathBuf,
        /// Chunk cap in characters.
        #[arg(long, default_value_t = 1500)]
        max_chunk_chars: usize,
        /// Worker threads.
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Timed repetitions.
        #[arg(long, default_value_t = 3)]
        repeat: usize,
    },
    /// Scan and hash a directory.
    Scan {
        /// The directory.
        dir: PathBuf,
        /// Timed repetitions after one warm-up.
        #[arg(long, default_value_t = 5)]
        repeat: usize,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CODELOCI_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let cli = Cli::parse();
    let roots = if cli.roots.is_empty() {
        vec![std::env::current_dir().context("reading the working directory")?]
    } else {
        cli.roots.clone()
    };
    let roots = Roots::new(&roots).context("checking --root")?;
    let server = AstServer::new(roots)
        .with_call_timeout(std::time::Duration::from_millis(cli.call_timeout_ms));
    match cli.command {
        Some(Command::Schema { write }) => return print_schemas(&server, write),
        Some(Command::Bench { what }) => {
            let report = match what {
                BenchCommand::Chunk {
                    list,
                    max_chunk_chars,
                    threads,
                    repeat,
                } => {
                    let files: Vec<PathBuf> = std::fs::read_to_string(&list)?
                        .lines()
                        .filter(|l| !l.is_empty())
                        .map(PathBuf::from)
                        .collect();
                    codeloci_ast::bench::chunk_files(&files, max_chunk_chars, threads, repeat)
                }
                BenchCommand::Scan { dir, repeat } => codeloci_ast::bench::scan_dir(&dir, repeat),
            };
            println!("{report}");
            return Ok(());
        }
        None => {}
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        match cli.http {
            Some(addr) => serve_http(server, addr, http_access(&cli, addr)?).await,
            None => serve_stdio(server).await,
        }
    })
}

async fn serve_stdio(server: AstServer) -> anyhow::Result<()> {
    // stdin → bound_lines → pipe → rmcp: oversized messages get an error answer, not silence.
    let (pipe_in, pipe_out) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Err(e) =
            codeloci_ast::transport::bound_lines(tokio::io::stdin(), pipe_in, MAX_MESSAGE_BYTES)
                .await
        {
            tracing::error!("reading stdin: {e}");
        }
    });
    let transport = AsyncRwTransport::new_server(pipe_out, tokio::io::stdout())
        .with_max_line_length(usize::MAX);
    let service = server
        .serve(transport)
        .await
        .context("MCP initialisation over stdio")?;
    service.waiting().await?;
    Ok(())
}

/// Who may use the HTTP server: its token (if any) and its Origin and Host allowlists.
struct HttpAccess {
    token: Option<http_auth::AuthToken>,
    origins: Vec<String>,
    hosts: Option<Vec<String>>,
}

/// Reads the token file and checks the allowlists before anything is bound.
fn http_access(cli: &Cli, addr: SocketAddr) -> anyhow::Result<HttpAccess> {
    let token_file = cli.auth_token_file.clone().or_else(|| {
        std::env::var_os(http_auth::AUTH_TOKEN_FILE_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    let token = token_file
        .as_deref()
        .map(http_auth::AuthToken::from_file)
        .transpose()?;
    http_auth::require_token_off_loopback(addr, token.as_ref())?;
    Ok(HttpAccess {
        token,
        origins: http_auth::allowed_origins(addr, &cli.allow_origins)?,
        hosts: http_auth::allowed_hosts(addr),
    })
}

async fn serve_http(server: AstServer, addr: SocketAddr, access: HttpAccess) -> anyhow::Result<()> {
    let ct = tokio_util::sync::CancellationToken::new();
    let config = StreamableHttpServerConfig::default()
        .with_cancellation_token(ct.child_token())
        .with_allowed_origins(access.origins)
        .enforce_origin_validation();
    let config = match access.hosts {
        Some(hosts) => config.with_allowed_hosts(hosts),
        None => config.disable_allowed_hosts(),
    };
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        LocalSessionManager::default().into(),
        config,
    );
    let mut router = axum::Router::new().nest_service("/mcp", service);
    if let Some(token) = access.token {
        router = router.layer(axum::middleware::from_fn(move |request, next| {
            http_auth::require_bearer(token.clone(), request, next)
        }));
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let local = listener.local_addr()?;
    eprintln!("codeloci-ast listening on http://{local}/mcp");
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            let _ = tokio::signal::ctrl_c().await;
            ct.cancel();
        })
        .await?;
    Ok(())
}

fn print_schemas(server: &AstServer, write: Option<PathBuf>) -> anyhow::Result<()> {
    let mut files: Vec<(String, serde_json::Value)> = Vec::new();
    for tool in server.tools() {
        files.push((
            format!("{}.input", tool.name),
            serde_json::Value::Object(tool.input_schema.as_ref().clone()),
        ));
        if let Some(out) = &tool.output_schema {
            files.push((
                format!("{}.output", tool.name),
                serde_json::Value::Object(out.as_ref().clone()),
            ));
        }
    }
    for (name, schema) in shared_type_schemas() {
        files.push((name.to_string(), schema));
    }
    match write {
        Some(dir) => {
            std::fs::create_dir_all(&dir)?;
            for (name, schema) in files {
                let path = dir.join(format!("{name}.schema.json"));
                std::fs::write(
                    &path,
                    format!("{}\n", serde_json::to_string_pretty(&schema)?),
                )?;
                eprintln!("wrote {}", path.display());
            }
        }
        None => {
            let all: serde_json::Map<String, serde_json::Value> = files.into_iter().collect();
            println!("{}", serde_json::to_string_pretty(&all)?);
        }
    }
    Ok(())
}
