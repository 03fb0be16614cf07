#!/usr/bin/env bash
# The weval gate and suite (issue 18): builds weval (scripts/build-weval),
# then specialises the guest's committed weval variant for "mods", as
# ScriptEngine::specialised does: a snapshot in which the guest compiled the
# mod and requested its functions' specialisation, then weval on that
# snapshot. A sandbox of the result that loads the mod runs its functions
# specialised (the requests are keyed by bytecode, lvm.c). The mods: the
# benchmark functions of benches/weval_gate.lua; each program of the Lua
# suite, and all of them together; a mod of about 1,000 lines.
#
#   target/guest-weval/plain.wasm   the variant, unspecialised
#   target/guest-weval/weval.wasm   the variant specialised for the mod
#
# Then `cargo bench --bench weval_gate` compares them with the built-in guest.
# Nothing here changes the committed guest. scripts/build-weval needs curl
# and network access to crates.io the first time.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
weval="$root/target/weval-tool/target/release/weval"
out="$root/target/guest-weval"

bash "$root/scripts/build-weval"

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
