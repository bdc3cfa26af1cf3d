#!/usr/bin/env bash
# Runs every test: formatting and lints, the Rust tests (unit, end-to-end,
# doc tests), and the Kotlin binding tests on the JVM. Installs what it needs
# when it is missing. This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

section() { printf '\n### %s\n' "$*"; }

section "tools"
scripts/install-test-tools.sh >/dev/null

section "format"
cargo fmt --all -- --check

section "lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

section "Rust tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast --lib --bins --tests
fi
cargo test --workspace --locked --doc -q

section "phone targets (cargo check)"
scripts/check-mobile-targets.sh

# The hosted-runner workflows cannot run here (no NDK, no Xcode): their
# YAML, the scripts they run and the packages those build are checked.
section "hosted workflows (checked, not run)"
python3 scripts/check-workflows.py

section "Kotlin binding tests (JVM)"
bindings/kotlin/test.sh

section "QA console in headless Chromium (Playwright)"
scripts/test-console.sh

section "API fuzzing of the mock (schemathesis, from its OpenAPI description)"
scripts/fuzz-api.sh

# The benchmarks run here briefly, to show they work; their figures come
# from full runs (BENCHMARKS.md says how).
section "benchmarks (smoke runs)"
# In the test profile: the Rust tests built everything they use, so no
# second, optimised build of the dependencies (real runs use `cargo bench`).
cargo test -q -p edgepoints-core --bench ingest --locked
cargo test -q -p edgepoints-protocol --bench coupons --bench rental --locked
EDGEPOINTS_REVIEW_KB=64 EDGEPOINTS_REVIEW_RUNS=1 cargo test -q -p edgepoints-mock-server --bench review --locked
EDGEPOINTS_ROUTING_SIZES=1000,100000 cargo test -q -p edgepoints-mock-server --bench routing --locked
cargo test -q -p edgepoints-mock-server --bench signature_batches --locked
PROFILE=debug DURATION=2s scripts/bench-serving.sh
PROFILE=debug LOAD_S=1 PHONES=4 ITEMS=40 FETCHES=10 THINK_MS=20 NODES=100 CONNECTIONS=4 \
  OUT=target/bench-swarm-smoke scripts/bench-swarm.sh
PROFILE=debug DURATION=5 SETTLE=2 scripts/measure-idle.sh
