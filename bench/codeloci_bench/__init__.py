"""The codeloci benchmark harness (see bench/README.md). Bench-only: the product never imports it."""
