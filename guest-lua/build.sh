#!/usr/bin/env bash
# Builds the Lua guest component reproducibly, pre-initialises it, and
# installs it where the host library embeds it (host/guest/moonbox_guest.wasm).
# Builds its weval variant too (issue 18): the same guest with weval's
# intrinsics in the Lua VM and the `specialise` export, not pre-initialised,
# from which the host makes a guest specialised for a mod
# (host/guest/moonbox_guest_weval.wasm).
#
#   guest-lua/build.sh          build and install both
#   guest-lua/build.sh --check  build both and fail if a committed file differs
#   guest-lua/build.sh --lint   cargo fmt --check and clippy -D warnings on both
#
# Installs what it needs: the wasm32-wasip2 Rust target and a pinned zig (its
# clang compiles Lua) in a venv under target/. Output bytes depend only on the
# sources, Cargo.lock and the pinned tool versions, not on the checkout path.
set -euo pipefail

RUST_VERSION=1.95.0   # the committed artifact was built with this rustc
ZIGLANG_VERSION=0.15.2

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
artifact="$root/host/guest/moonbox_guest.wasm"
variant_artifact="$root/host/guest/moonbox_guest_weval.wasm"
toolchain_dir="$root/target/guest-toolchain"
venv="$toolchain_dir/venv"
check=0
lint=0
case "${1:-}" in
  --check) check=1 ;;
  --lint) lint=1 ;;
  "") ;;
  *) echo "usage: $0 [--check|--lint]" >&2; exit 2 ;;
esac

rustc_version=$(rustc --version | awk '{print $2}')
if [ "$rustc_version" != "$RUST_VERSION" ]; then
  echo "build.sh: rustc $rustc_version found, the guest is pinned to $RUST_VERSION;" >&2
  echo "          a different compiler gives different bytes." >&2
  [ "$check" = 1 ] && exit 1
fi
rustup target add wasm32-wasip2 >/dev/null

if ! "$venv/bin/python" -m ziglang version 2>/dev/null | grep -qx "$ZIGLANG_VERSION"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "ziglang==$ZIGLANG_VERSION"
fi

cargo_home=${CARGO_HOME:-$HOME/.cargo}
export MOONBOX_ZIG_PYTHON="$venv/bin/python"
export ZIG_GLOBAL_CACHE_DIR="$toolchain_dir/zig-cache"
export ZIG_LOCAL_CACHE_DIR="$toolchain_dir/zig-cache"
export CC_wasm32_wasip2="$root/guest-lua/toolchain/zig-cc"
export AR_wasm32_wasip2="$root/guest-lua/toolchain/zig-ar"
# -O2 for Lua; luai_makeseed fixes Lua's string-hash seed (it would mix the
# clock and addresses), so the same script costs the same fuel every time.
# The wasm backend turns every switch of two or more cases into a br_table,
# which Cranelift compiles to a bounds check, a table load and an indirect
# jump; the type-tag switches of the VM's arithmetic and call paths are
# faster as branches. A jump table only for (nearly) dense switches keeps
# the VM's main dispatch a br_table: suite 1.68x -> 1.60x (BENCHMARKS.md).
export CFLAGS_wasm32_wasip2="-O2 -mllvm -jump-table-density=95 -Dluai_makeseed(L)=0x6d6f6f6eu -ffile-prefix-map=$root=/moonbox -ffile-prefix-map=$cargo_home=/cargo"
export CARGO_ENCODED_RUSTFLAGS="--remap-path-prefix=$root=/moonbox"$'\x1f'"--remap-path-prefix=$cargo_home=/cargo"
unset RUSTFLAGS
export SOURCE_DATE_EPOCH=0
base_cflags=$CFLAGS_wasm32_wasip2
base_rustflags=$CARGO_ENCODED_RUSTFLAGS

# use_variant NAME: the flags, features and target folder of one build.
# "weval" is the Lua VM with weval's intrinsics (vendor/weval/include), and
# weval's imports satisfied by its stubs adapter (they do nothing until
# weval rewrites the module).
use_variant() {
  CFLAGS_wasm32_wasip2=$base_cflags
  CARGO_ENCODED_RUSTFLAGS=$base_rustflags
  if [ "$1" = weval ]; then
    CFLAGS_wasm32_wasip2+=" -DMOONBOX_WEVAL=1 -I$root/guest-lua/vendor/weval/include"
    CARGO_ENCODED_RUSTFLAGS+=$'\x1f'"-Clink-arg=--adapt"$'\x1f'"-Clink-arg=weval=$root/guest-lua/vendor/weval/weval-stubs.wasm"
    guest_target="$root/target/guest-weval"
    features=(--features weval)
  else
    guest_target="$root/target/guest"
    features=()
  fi
}

if [ "$lint" = 1 ]; then
  cargo fmt --manifest-path "$root/guest-lua/Cargo.toml" --check
  for variant in plain weval; do
    use_variant "$variant"
    cargo clippy --quiet --release --locked "${features[@]}" \
      --manifest-path "$root/guest-lua/Cargo.toml" \
      --target wasm32-wasip2 --target-dir "$guest_target" -- -D warnings
  done
  echo "guest lint clean"
  exit 0
fi

# build_variant NAME: compiles one variant; sets $compiled.
build_variant() {
  use_variant "$1"
  # Cargo tracks neither the C sources of the vendored Lua (only lua-src's
  # Rust file) nor the C flags, so rebuild mlua-sys whenever they change.
  local lua_stamp="$guest_target/lua-sources.sha256"
  local lua_sum
  lua_sum=$( (cd "$root/guest-lua/vendor" && find lua-src weval -type f -print0 | sort -z | xargs -0 sha256sum
    echo "$CFLAGS_wasm32_wasip2") | sha256sum)
  if [ "$(cat "$lua_stamp" 2>/dev/null)" != "$lua_sum" ]; then
    cargo clean --quiet --release --manifest-path "$root/guest-lua/Cargo.toml" \
      --target wasm32-wasip2 --target-dir "$guest_target" -p mlua-sys -p lua-src
  fi
  cargo build --quiet --release --locked "${features[@]}" \
    --manifest-path "$root/guest-lua/Cargo.toml" \
    --target wasm32-wasip2 \
    --target-dir "$guest_target"
  compiled="$guest_target/wasm32-wasip2/release/moonbox_guest.wasm"
  echo "$lua_sum" >"$lua_stamp"
}

# install_artifact BUILT ARTIFACT: copies, or with --check compares.
install_artifact() {
  if [ "$check" = 1 ]; then
    if ! cmp -s "$1" "$2"; then
      echo "build.sh: the committed guest $2 differs from a fresh build:" >&2
      sha256sum "$1" "$2" >&2 || true
      echo "          run guest-lua/build.sh and commit the result." >&2
      exit 1
    fi
    echo "guest artifact verified: $(sha256sum "$2" | cut -c1-16) ($(wc -c <"$2") bytes) $(basename "$2")"
  else
    mkdir -p "$(dirname "$2")"
    cp "$1" "$2"
    echo "guest built: $2 ($(wc -c <"$2") bytes, sha256 $(sha256sum "$2" | cut -c1-16))"
  fi
}

build_variant weval
install_artifact "$compiled" "$variant_artifact"
build_variant plain

# Pre-initialise: run the guest's `wizer-initialize` once and keep the memory
# it leaves, so a sandbox starts with its Lua state built (tools/guest-snapshot;
# sandbox/create 190 -> 71 us, BENCHMARKS.md). The tool is a host program of
# the main workspace: built without the guest's flags, so that `cargo test`
# reuses its wasmtime.
built="$guest_target/moonbox_guest.snapshot.wasm"
env -u CARGO_ENCODED_RUSTFLAGS -u SOURCE_DATE_EPOCH \
  cargo run --quiet --locked --manifest-path "$root/Cargo.toml" -p guest-snapshot -- \
  "$compiled" "$built"

install_artifact "$built" "$artifact"
