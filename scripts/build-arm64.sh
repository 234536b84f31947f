#!/usr/bin/env bash
# Cross-compiles the native addon for linux-arm64-gnu (aarch64-unknown-linux-gnu) on an x86_64 Linux host, so the
# arm64 build can be tested here under qemu (`node test/packaging/run.mjs arm64`). Releases build arm64 on an arm64 runner
# instead (.github/workflows/release.yml); this script is for testing.
#
#   bash scripts/build-arm64.sh      -> npm/linux-arm64-gnu/stratadb.linux-arm64-gnu.node
#
# The .node lands where `napi artifacts` puts it in a release, so `npm pack npm/linux-arm64-gnu` gives the
# platform package. What it needs, installed when missing (idempotent; a second run with nothing changed takes a
# few seconds):
#
#   1. A cross linker and arm64 glibc: Debian's gcc-aarch64-linux-gnu and libc6-dev-arm64-cross; qemu-user to run
#      the result.
#   2. The Rust standard library for aarch64. `rustup target add` where rustup can download. Machines that reach only
#      package registries (../shared/TOOLCHAIN.md) cannot; there Debian's second compiler (rustc-web 1.96) builds std
#      for aarch64 once from its vendored sources (rust-web-src) into its own sysroot, as setup-toolchain.sh does for
#      wasm32, with LLVM bitcode embedded so the release profile's LTO works. STRATADB_ARM64_TOOLCHAIN=rustup|debian
#      forces one path.
#   3. `napi build --target aarch64-unknown-linux-gnu`, in its own cargo target dir (target/cross-arm64) so it
#      never waits on, or invalidates, the host build's lock and cache.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=aarch64-unknown-linux-gnu
OUT=npm/linux-arm64-gnu/stratadb.linux-arm64-gnu.node
DEBIAN_STD=/usr/lib/rustlib/$TARGET/lib
log() { printf '[build-arm64] %s\n' "$*"; }

# 1. Cross linker, arm64 libc, qemu.
missing=()
command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu)
[ -e /usr/aarch64-linux-gnu/lib/libc.so.6 ] || missing+=(libc6-dev-arm64-cross)
command -v qemu-aarch64 >/dev/null || missing+=(qemu-user)
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. The aarch64 standard library.
toolchain=${STRATADB_ARM64_TOOLCHAIN:-}
if [ -z "$toolchain" ]; then
  if rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
    toolchain=rustup
  elif rustup target add "$TARGET" >/dev/null 2>&1; then
    log "installed $TARGET with rustup"
    toolchain=rustup
  else
    toolchain=debian
  fi
fi
if [ "$toolchain" = debian ]; then
  if ! [ -x /usr/bin/cargo ] || ! [ -d /usr/src/rustc-1.96.0/library/vendor ]; then
    log "installing Debian rustc-web for the $TARGET std (TOOLCHAIN.md recipe)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends rustc-web cargo-web rust-web-src >/dev/null
  fi
  # Built with bitcode embedded, as rustup's std is: the workspace's release profile has `lto = true`, which needs
  # it (cargo's default for a non-LTO build, embed-bitcode=no, gives "failed to get bitcode ... for LTO"). The
  # marker file says this build of std has it.
  if ! [ -e "$DEBIAN_STD/.embed-bitcode" ]; then
    log "building std for $TARGET from the vendored sources (about a minute, once)"
    scratch=$(mktemp -d)
    mkdir -p "$scratch/src" "$scratch/.cargo"
    printf '[package]\nname = "std-builder"\nversion = "0.0.0"\nedition = "2021"\n[lib]\npath = "src/lib.rs"\n' > "$scratch/Cargo.toml"
    printf '#![no_std]\n' > "$scratch/src/lib.rs"
    printf '[source.crates-io]\nreplace-with = "vendored-sources"\n[source.vendored-sources]\ndirectory = "/usr/src/rustc-1.96.0/library/vendor"\n' > "$scratch/.cargo/config.toml"
    (cd "$scratch" && PATH=/usr/bin:$PATH RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 RUSTFLAGS=-Cembed-bitcode=yes \
      CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
      /usr/bin/cargo build -q --release --target "$TARGET" -Zbuild-std=std,panic_unwind)
    mkdir -p "$DEBIAN_STD"
    rm -f "$DEBIAN_STD"/*.rlib
    cp "$scratch/target/$TARGET/release/deps/"*.rlib "$DEBIAN_STD/"
    touch "$DEBIAN_STD/.embed-bitcode"
    rm -rf "$scratch" target/cross-arm64-debian # cargo does not notice a new std; what it built against the old one is stale
  fi
  # The std rlibs fit only that exact compiler: build with /usr/bin's cargo and rustc, in a target dir of their own.
  export PATH=/usr/bin:$PATH RUSTC=/usr/bin/rustc
  target_dir=target/cross-arm64-debian
elif [ "$toolchain" = rustup ]; then
  rustup target list --installed | grep -qx "$TARGET" || rustup target add "$TARGET"
  target_dir=target/cross-arm64
else
  log "STRATADB_ARM64_TOOLCHAIN=$toolchain: use rustup or debian" >&2
  exit 1
fi

# 3. Build. napi writes the .node and index.d.ts into a scratch output dir; only the .node is kept.
log "napi build --target $TARGET ($toolchain $(rustc --version | awk '{print $2}'))"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
out_dir=$target_dir/napi-out
npx napi build --platform --release --target "$TARGET" \
  --manifest-path crates/strata-node/Cargo.toml --package-json-path package.json \
  --target-dir "$target_dir" --output-dir "$out_dir" --no-js
mkdir -p "$(dirname "$OUT")"
cp "$out_dir/stratadb.linux-arm64-gnu.node" "$OUT"
log "ready: $OUT ($(file -b "$OUT" | cut -d, -f1-2))"
