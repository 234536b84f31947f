#!/usr/bin/env bash
# Formatting and lints for Rust, type checking for TypeScript (tests, examples and benchmarks included).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo fmt --all --check
cargo clippy -q -p strata-core -p strata-node --all-targets -- -D warnings
npx tsc -p tsconfig.json
