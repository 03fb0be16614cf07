//! Fuel, output and one run's time of a Lua file on one or more guests:
//! the probe behind BENCHMARKS.md's per-script fuel figures, for comparing
//! a guest specialised for the file (before and after a change to the
//! guest) with the built-in one.
//!
//! ```sh
//! target/debug/guest-snapshot host/guest/moonbox_guest_weval.wasm R.wasm --specialise F.lua
//! target/weval-tool/target/release/weval weval -i R.wasm -o S.wasm
//! cargo run --release --example fuel_probe -- F.lua S.wasm host/guest/moonbox_guest.wasm
//! ```
//!
//! Fuel is exact and the same on every run; the time is one run's, first
//! run included, so only large differences in it mean anything (use
//! criterion or `suite_probe` for speed).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)] // a measuring tool

use std::time::Instant;

use moonbox::{EngineConfig, Limits, SandboxConfig, ScriptEngine};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((file, guests)) = args.split_first().filter(|(_, g)| !g.is_empty()) else {
        eprintln!("usage: fuel_probe FILE.lua GUEST.wasm...");
        std::process::exit(2);
    };
    let source = std::fs::read(file).expect("Lua file");
    let config = SandboxConfig {
        limits: Limits {
            fuel: 100_000_000_000,
            ..Limits::default()
        },
        ..SandboxConfig::default()
    };
    for guest in guests {
        let bytes = std::fs::read(guest).expect("guest file");
        let engine =
            ScriptEngine::with_guest_variant(&EngineConfig::default(), &bytes).expect("guest");
        let mut sandbox = engine.sandbox(&config).expect("sandbox");
        let start = Instant::now();
        let result = sandbox.run(file, &source);
        let elapsed = start.elapsed().as_secs_f64() * 1e3;
        let output: Vec<String> = sandbox
            .console_mut()
            .drain()
            .into_iter()
            .map(|line| line.text)
            .collect();
        println!(
            "{guest}: fuel {} in {elapsed:.1} ms, {}: {}",
            sandbox.last_fuel_used(),
            result.map_or_else(|e| format!("error {e}"), |()| "ok".to_owned()),
            output.join(" | ")
        );
    }
}
