#!/usr/bin/env bash
# Makes this machine able to build both targets: the native addon (host rustup toolchain) and WebAssembly.
#
# On a machine with internet, `rustup target add wasm32-unknown-unknown` is all it takes. The machines this project
# is developed and tested on reach only package registries (crates.io, npm, Debian), so rustup cannot download the
# wasm32 standard library there. The fallback (../shared/TOOLCHAIN.md) uses Debian's second Rust compiler
# (rustc-web) and its vendored std sources to build std for wasm32 once, offline, into that compiler's sysroot.
#
# Idempotent: every step checks whether it is already done, so a second run takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/wasm-env.sh

log() { printf '[setup-toolchain] %s\n' "$*"; }

wasm_std_ready() {
  if [ "$WASM_TOOLCHAIN" = rustup ]; then return 0; fi
  ls /usr/lib/rustlib/wasm32-unknown-unknown/lib/libstd-*.rlib >/dev/null 2>&1
}

if [ "$WASM_TOOLCHAIN" = rustup ]; then
  log "rustup already has wasm32-unknown-unknown"
elif rustup target add wasm32-unknown-unknown >/dev/null 2>&1; then
  log "installed wasm32-unknown-unknown with rustup"
else
  log "rustup cannot download wasm32 std here; using Debian rustc-web (TOOLCHAIN.md recipe)"
  if ! [ -x /usr/bin/cargo ] || ! [ -d /usr/src/rustc-1.96.0/library/vendor ] || ! command -v wasm-ld-22 >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends rustc-web cargo-web rust-web-src lld-22 >/dev/null
  fi
  if ! ls /usr/lib/rustlib/wasm32-unknown-unknown/lib/libstd-*.rlib >/dev/null 2>&1; then
    # std is built from the vendored sources in a scratch crate, then copied into the Debian compiler's sysroot.
    scratch=$(mktemp -d)
    mkdir -p "$scratch/src" "$scratch/.cargo"
    printf '[package]\nname = "std-builder"\nversion = "0.0.0"\nedition = "2021"\n[lib]\npath = "src/lib.rs"\n' > "$scratch/Cargo.toml"
    printf '#![no_std]\n' > "$scratch/src/lib.rs"
    printf '[source.crates-io]\nreplace-with = "vendored-sources"\n[source.vendored-sources]\ndirectory = "/usr/src/rustc-1.96.0/library/vendor"\n' > "$scratch/.cargo/config.toml"
    # embed-bitcode: the release profile uses LTO, which needs the bitcode of std too.
    (cd "$scratch" && PATH=/usr/bin:$PATH RUSTC_BOOTSTRAP=1 RUSTFLAGS=-Cembed-bitcode=yes /usr/bin/cargo build -q \
      --release --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort,panic_unwind)
    mkdir -p /usr/lib/rustlib/wasm32-unknown-unknown/lib
    cp "$scratch"/target/wasm32-unknown-unknown/release/deps/*.rlib /usr/lib/rustlib/wasm32-unknown-unknown/lib/
    rm -rf "$scratch"
    log "built std for wasm32 into /usr/lib/rustlib"
  fi
fi

# wasm-bindgen's CLI must match the crate version pinned in crates/strata-wasm/Cargo.toml exactly.
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
  # Not --locked: its lockfile pins crates newer than some registry mirrors carry; the version itself is exact.
  cargo install -q wasm-bindgen-cli --version "=$WASM_BINDGEN_VERSION"
fi
log "ready: native via rustup $(rustc --version | awk '{print $2}'), wasm via $WASM_TOOLCHAIN, wasm-bindgen $WASM_BINDGEN_VERSION"
