# Sourced by the build scripts: which compiler builds the wasm32 target, and the wasm-bindgen version to match.
# WASM_TOOLCHAIN is `rustup` where rustup has the wasm32 std, else `debian` (see setup-toolchain.sh).
WASM_BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = { version = "=\([0-9.]*\)".*/\1/p' crates/strata-wasm/Cargo.toml)
if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  WASM_TOOLCHAIN=rustup
else
  WASM_TOOLCHAIN=debian
fi
export WASM_BINDGEN_VERSION WASM_TOOLCHAIN
