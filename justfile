# codeloci task runner. `./dev setup` installs just itself into .venv; run recipes as
# `.venv/bin/just RECIPE` or with .venv/bin on PATH.

set shell := ["bash", "-euo", "pipefail", "-c"]
export PATH := justfile_directory() / ".venv/bin" + ":" + env_var("PATH")

cargo_manifest := "rust-server/Cargo.toml"

# List the recipes.
default:
    @just --list

# Install everything into .venv (same as ./dev setup).
setup:
    ./dev setup

# The whole test suite: lint, Rust, Python, end to end. CI runs this.
test: lint test-rust test-python e2e

# Rust: unit, golden, property and integration tests (real binary over stdio and HTTP).
test-rust:
    cargo nextest run --manifest-path {{cargo_manifest}} --no-fail-fast

# Python: the orchestrator, driven over real stdio.
test-python:
    cd python-orchestrator && python -m pytest -q

# End to end with real MCP clients nobody here wrote.
e2e:
    python -m pytest -q tests/e2e

# Index this repository and answer a query about it (the quick-start demo).
demo:
    codeloci index . && codeloci find "where are chunks split at child boundaries"

# Benchmarks; writes BENCHMARKS.md. `just bench --quick` for a short run.
bench *ARGS:
    python bench/run.py {{ARGS}}

# Rust-only benchmark (scan and chunk against the anchors).
bench-rust *ARGS:
    python bench/run.py --only rust {{ARGS}}

# Retrieval-quality evaluation (lexical, dense, fused).
eval:
    python bench/run.py --only quality

# Serve the orchestrator over stdio.
serve *ARGS:
    codeloci serve {{ARGS}}

# Index a repository.
index PATH:
    codeloci index {{PATH}}

# Rebuild the retrieval gate's dataset and model (deterministic; tools in python-orchestrator/devtools).
train-gate:
    cd python-orchestrator && python -m devtools.gate.dataset && python -m devtools.gate.train

# Format everything.
fmt:
    cargo fmt --manifest-path {{cargo_manifest}}
    cd python-orchestrator && ruff format src tests devtools

# Lint: clippy with warnings as errors, rustfmt check, ruff, mypy --strict, the import contracts
# (layers, no cycles, devtools never imported by codeloci: see ARCHITECTURE.md "Layers").
lint:
    cargo fmt --manifest-path {{cargo_manifest}} --check
    cargo clippy --manifest-path {{cargo_manifest}} --all-targets -- -D warnings
    cd python-orchestrator && ruff check src tests devtools && ruff format --check src tests devtools
    cd python-orchestrator && mypy --strict src devtools && lint-imports --no-cache --no-logo

# Regenerate shared-schemas/ from the Rust server (then review the diff).
schemas:
    cargo run -q --manifest-path {{cargo_manifest}} -- schema --write shared-schemas

# cargo-fuzz on parse/chunk (needs nightly + cargo-fuzz), the stable replay of seeds and
# regressions, then the Hypothesis suites (every tool input model, the secret patterns) round
# after round with a new seed until SECONDS pass.

# Fuzz each target for SECONDS (not in CI).
fuzz SECONDS="600":
    mkdir -p rust-server/fuzz/corpus/chunk_any
    cd rust-server && cargo +nightly fuzz run chunk_any --features libfuzzer fuzz/corpus/chunk_any fuzz/seeds/chunk_any -- -max_total_time={{SECONDS}} -rss_limit_mb=4096 -timeout=30
    cargo test --manifest-path rust-server/fuzz/Cargo.toml
    just fuzz-hypothesis {{SECONDS}}

# The Hypothesis suites for SECONDS, one seed per round; stops at the first failure.
fuzz-hypothesis SECONDS="600":
    #!/usr/bin/env bash
    set -euo pipefail
    cd python-orchestrator
    end=$(( $(date +%s) + {{SECONDS}} )); round=0
    while [ "$(date +%s)" -lt "$end" ]; do
      round=$((round + 1))
      CODELOCI_HYPOTHESIS_EXAMPLES=1000 python -m pytest -q -p no:cacheprovider \
        --hypothesis-seed="$round" tests/test_models_hypothesis.py tests/test_secrets.py
    done
    echo "hypothesis: $round rounds, {{SECONDS}} s, clean"
