#!/usr/bin/env bash
# The engine crate must not depend on any JavaScript binding crate, not even behind a feature.
set -euo pipefail
cd "$(dirname "$0")/../.."
if cargo tree -p strata-core --all-features -e normal,build 2>/dev/null | grep -E '\b(napi|napi-derive|wasm-bindgen|js-sys|web-sys)\b'; then
  echo "strata-core depends on a JavaScript binding crate (above); move that code to crates/strata-node or crates/strata-wasm" >&2
  exit 1
fi
echo "strata-core depends on no binding crate"
