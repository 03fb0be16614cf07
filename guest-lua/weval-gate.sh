#!/usr/bin/env bash
# The weval gate (issue 18): builds weval with Moonbox's waffle patch
# (guest-lua/vendor/weval/MOONBOX.md) and a guest variant whose Lua VM has
# weval's intrinsics, then specialises that variant for one "mod", the
# benchmark functions of benches/weval_gate.lua: a snapshot in which the
# guest compiled the mod and requested its functions' specialisation, then
# weval on that snapshot. A sandbox of the result that loads the mod runs
# its functions specialised (the requests are keyed by bytecode, lvm.c).
#
#   target/guest-weval/plain.wasm   the variant, unspecialised
#   target/guest-weval/weval.wasm   the variant specialised for the mod
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

# The variant is built with the guest (guest-lua/build.sh) and committed.
variant="$root/host/guest/moonbox_guest_weval.wasm"
mkdir -p "$out"
cargo build --quiet --locked --manifest-path "$root/Cargo.toml" -p guest-snapshot
"$root/target/debug/guest-snapshot" "$variant" "$out/plain.wasm"

# The per-mod step: snapshot with the mod's requests, then weval.
mod="$root/benches/weval_gate.lua"
seconds() { awk "BEGIN { printf \"%.2f\", $2 - $1 }"; }
t0=$(date +%s.%N)
"$root/target/debug/guest-snapshot" "$variant" \
  "$out/requests.wasm" --specialise "$mod"
t1=$(date +%s.%N)
"$weval" weval -i "$out/requests.wasm" -o "$out/weval.wasm"
t2=$(date +%s.%N)
echo "mod: $mod ($(wc -l <"$mod") lines, $(wc -c <"$mod") bytes)"
echo "snapshot with requests: $(seconds "$t0" "$t1") s; weval: $(seconds "$t1" "$t2") s"
echo "weval: $out/weval.wasm ($(wc -c <"$out/weval.wasm") bytes)"

# The Lua suite (benches/lua) as mods: each program on its own, for the cost
# of the step against the mod's size, then all of them in one guest for
# `cargo bench --bench weval_suite`.
mkdir -p "$out/suite"
for program in "$root"/benches/lua/*.lua; do
  name=$(basename "$program" .lua)
  t0=$(date +%s.%N)
  "$root/target/debug/guest-snapshot" "$variant" \
    "$out/suite/$name.requests.wasm" --specialise "$program" 2>/dev/null
  t1=$(date +%s.%N)
  "$weval" weval -i "$out/suite/$name.requests.wasm" -o "$out/suite/$name.wasm"
  t2=$(date +%s.%N)
  echo "suite/$name: $(wc -l <"$program") lines, snapshot $(seconds "$t0" "$t1") s, weval $(seconds "$t1" "$t2") s"
done
"$root/target/debug/guest-snapshot" "$variant" \
  "$out/suite.requests.wasm" --specialise "$root"/benches/lua/*.lua
"$weval" weval -i "$out/suite.requests.wasm" -o "$out/suite.wasm"
echo "suite: $out/suite.wasm ($(wc -c <"$out/suite.wasm") bytes)"

# A mod of about 1,000 lines: every Lua file of the repository, each as a
# function (compiled, never run), for the cost of the step against size.
big="$out/mod1000.lua"
: >"$big"
i=0
while IFS= read -r file; do
  i=$((i + 1))
  { echo "local function chunk$i(...)"; cat "$file"; echo; echo "end"; } >>"$big"
done < <(cd "$root" && git ls-files '*.lua' | sort)
t0=$(date +%s.%N)
"$root/target/debug/guest-snapshot" "$variant" \
  "$out/mod1000.requests.wasm" --specialise "$big"
t1=$(date +%s.%N)
"$weval" weval -i "$out/mod1000.requests.wasm" -o "$out/mod1000.wasm"
t2=$(date +%s.%N)
echo "mod1000: $(wc -l <"$big") lines, $(wc -c <"$big") bytes, snapshot $(seconds "$t0" "$t1") s, weval $(seconds "$t1" "$t2") s"
echo "next: cargo bench --bench weval_gate; cargo bench --bench weval_suite"
