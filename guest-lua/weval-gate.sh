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

# specialise OUT CHUNK...: the per-mod step, as ScriptEngine::specialised
# does it (a snapshot with the chunks' requests, then weval), into
# $out/OUT.wasm; prints the chunks' size and each step's time.
seconds() { awk "BEGIN { printf \"%.2f\", $2 - $1 }"; }
specialise() {
  local name=$1 t0 t1 t2
  shift
  t0=$(date +%s.%N)
  "$root/target/debug/guest-snapshot" "$variant" "$out/$name.requests.wasm" \
    --specialise "$@" 2>/dev/null
  t1=$(date +%s.%N)
  "$weval" weval -i "$out/$name.requests.wasm" -o "$out/$name.wasm"
  t2=$(date +%s.%N)
  echo "$name: $(cat "$@" | wc -l) lines, $(cat "$@" | wc -c) bytes;" \
    "snapshot with requests $(seconds "$t0" "$t1") s, weval $(seconds "$t1" "$t2") s;" \
    "$(wc -c <"$out/$name.wasm") bytes"
}

# The gate's functions.
specialise weval "$root/benches/weval_gate.lua"

# The Lua suite (benches/lua) as mods: each program on its own, for the cost
# of the step against the mod's size, then all of them in one guest for
# `cargo bench --bench weval_suite`.
mkdir -p "$out/suite"
for program in "$root"/benches/lua/*.lua; do
  specialise "suite/$(basename "$program" .lua)" "$program"
done
specialise suite "$root"/benches/lua/*.lua

# A mod of about 1,000 lines: every Lua file of the repository, each as a
# function (compiled, never run), for the cost of the step against size.
big="$out/mod1000.lua"
: >"$big"
i=0
while IFS= read -r file; do
  i=$((i + 1))
  { echo "local function chunk$i(...)"; cat "$file"; echo; echo "end"; } >>"$big"
done < <(cd "$root" && git ls-files '*.lua' | sort)
specialise mod1000 "$big"
echo "next: cargo bench --bench weval_gate; cargo bench --bench weval_suite"
