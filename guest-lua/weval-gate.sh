#!/usr/bin/env bash
# The weval gate (issue 18, stage 1): builds weval with Moonbox's waffle patch
# (guest-lua/vendor/weval/MOONBOX.md), a guest variant whose Lua VM has
# weval's intrinsics and whose prepared state holds two benchmark functions
# with specialisation requests, and that variant specialised by weval:
#
#   target/guest-weval/plain.wasm   the variant, unspecialised
#   target/guest-weval/weval.wasm   the same, after weval
#
# Then `cargo bench --bench weval_gate` compares them with the built-in guest.
# Nothing here changes the committed guest. Needs curl and network access to
# crates.io the first time.
set -euo pipefail

WEVAL_VERSION=0.5.1
WEVAL_SHA256=8555549abc368b54439afe838a69571dc8999e99702886f6e7c254a95c7e9dc6
WAFFLE_VERSION=0.2.0
WAFFLE_SHA256=8c7858ff0cecd90d1b22d4ddc3102f0721a80146ba08d3af5bd904699ed9f2c9

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
vendor="$root/guest-lua/vendor/weval"
tool="$root/target/weval-tool"
weval_src="$tool/weval-$WEVAL_VERSION"
waffle_src="$tool/waffle-$WAFFLE_VERSION"
weval="$tool/target/release/weval"
out="$root/target/guest-weval"

# fetch NAME VERSION SHA256: the crate's source, checked, unpacked in $tool.
fetch() {
  local crate="$tool/$1-$2.crate"
  if [ ! -f "$crate" ]; then
    mkdir -p "$tool"
    curl -sSfL "https://static.crates.io/crates/$1/$1-$2.crate" -o "$crate.part"
    mv "$crate.part" "$crate"
  fi
  echo "$3  $crate" | sha256sum --check --quiet
  rm -rf "$tool/$1-$2"
  tar -xzf "$crate" -C "$tool"
}

stamp="$tool/built.sha256"
want=$(cat "$vendor/waffle-tag-section.patch" "$vendor/Cargo.lock" | sha256sum)
if [ ! -x "$weval" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  fetch weval "$WEVAL_VERSION" "$WEVAL_SHA256"
  fetch waffle "$WAFFLE_VERSION" "$WAFFLE_SHA256"
  patch --quiet -p1 -d "$waffle_src" <"$vendor/waffle-tag-section.patch"
  # Both are their own workspaces (they sit inside Moonbox's target/).
  printf '\n[workspace]\n\n[patch.crates-io]\nwaffle = { path = "../waffle-%s" }\n' \
    "$WAFFLE_VERSION" >>"$weval_src/Cargo.toml"
  printf '\n[workspace]\n' >>"$waffle_src/Cargo.toml"
  cp "$vendor/Cargo.lock" "$weval_src/Cargo.lock"
  cargo build --quiet --release --locked \
    --manifest-path "$weval_src/Cargo.toml" --target-dir "$tool/target"
  echo "$want" >"$stamp"
fi

bash "$root/guest-lua/build.sh" --weval-gate "$weval_src"
start=$(date +%s.%N)
"$weval" weval -i "$out/plain.wasm" -o "$out/weval.wasm"
end=$(date +%s.%N)
echo "weval: $out/weval.wasm ($(wc -c <"$out/weval.wasm") bytes, $(awk "BEGIN { printf \"%.2f\", $end - $start }") s)"
echo "next: cargo bench --bench weval_gate"
