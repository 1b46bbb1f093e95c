# syntax=docker/dockerfile:1
# codeloci as a container: the Rust server codeloci-ast built in stage 1, the Python orchestrator
# installed in stage 2 with the binary beside it. Serves MCP over streamable HTTP on :8765 (/mcp).
# Used by docker-compose.yml together with a Qdrant server (QDRANT_URL); run alone it keeps its
# memory in the embedded store under /data. It binds 0.0.0.0, so it starts only with a bearer
# token file (CODELOCI_AUTH_TOKEN_FILE, private, readable by uid 10001; see README).

# ---------------------------------------------------------------- stage 1: codeloci-ast
# Debian bookworm (glibc 2.36): the binary also runs on the newer glibc of python:3.11-slim.
FROM rust:1.95-slim-bookworm AS rust-build
# tree-sitter grammars compile C (and some C++) scanners.
RUN apt-get update \
    && apt-get install -y --no-install-recommends g++ \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# secrets.rs compiles shared-schemas/secret-patterns.json in (include_str!).
COPY shared-schemas/ shared-schemas/
COPY rust-server/ rust-server/
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/rust-server/target \
    cargo build --release --locked --manifest-path rust-server/Cargo.toml \
    && install -m 0755 rust-server/target/release/codeloci-ast /usr/local/bin/codeloci-ast

# ---------------------------------------------------------------- stage 2: the orchestrator
FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# git: the project root defaults to the git top level of the working directory.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/*
COPY python-orchestrator/ /opt/codeloci/python-orchestrator/
RUN pip install /opt/codeloci/python-orchestrator && rm -rf /opt/codeloci
COPY --from=rust-build /usr/local/bin/codeloci-ast /usr/local/bin/codeloci-ast

RUN groupadd --system --gid 10001 codeloci \
    && useradd --system --uid 10001 --gid codeloci --home-dir /home/codeloci --create-home \
       --shell /usr/sbin/nologin codeloci \
    && mkdir -p /data /workspace \
    && chown codeloci:codeloci /data
ENV CODELOCI_DATA_DIR=/data \
    CODELOCI_RUST_SERVER=/usr/local/bin/codeloci-ast \
    CODELOCI_PROJECT_ROOT=/workspace
VOLUME ["/data"]
WORKDIR /workspace
USER codeloci:codeloci
EXPOSE 8765
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=5 \
    CMD ["python", "-c", "import socket; socket.create_connection(('127.0.0.1', 8765), 3).close()"]
ENTRYPOINT ["codeloci"]
CMD ["serve", "--http", "0.0.0.0:8765"]
