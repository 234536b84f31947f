#!/usr/bin/env bash
# Formatting and lints for Rust, type checking for TypeScript (tests, examples and benchmarks included).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo fmt --all --check
cargo clippy -q -p strata-core -p strata-node --all-targets -- -D warnings
npx tsc -p tsconfig.json
# A CommonJS consumer under node16 resolution, where the ESM declarations alone are refused to a `require`.
npx tsc --noEmit --strict --module node16 --moduleResolution node16 --target es2022 --types node --skipLibCheck test/commonjs-types.cts
