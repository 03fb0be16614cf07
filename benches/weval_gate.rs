//! The weval gate (issue 18, stage 1): `fib(30)` and a 10-million-step loop
//! on the built-in guest, on the weval variant unspecialised and on the same
//! variant after weval, in one run. Checks first that all three give the
//! same results.
//!
//! `guest-lua/weval-gate.sh && cargo bench --bench weval_gate`
//!
//! Without the variants (target/guest-weval/) it says so and measures nothing.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)] // benchmark harness

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use moonbox::{EngineConfig, Limits, SandboxConfig, ScriptEngine};

const FUNCTIONS: &[u8] = include_bytes!("weval_gate.lua");

fn guests() -> Option<Vec<(&'static str, ScriptEngine)>> {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/guest-weval");
    let config = EngineConfig::default();
    let mut guests = vec![("built-in", ScriptEngine::with_config(&config).unwrap())];
    for (label, file) in [("plain", "plain.wasm"), ("weval", "weval.wasm")] {
        let Ok(bytes) = std::fs::read(folder.join(file)) else {
            eprintln!(
                "weval_gate: no {}; run guest-lua/weval-gate.sh first",
                folder.join(file).display()
            );
            return None;
        };
        guests.push((
            label,
            ScriptEngine::with_guest_variant(&config, &bytes).unwrap(),
        ));
    }
    Some(guests)
}

fn bench(c: &mut Criterion) {
    let Some(guests) = guests() else { return };
    let config = SandboxConfig {
        limits: Limits {
            fuel: 1 << 40,
            ..Limits::default()
        },
        ..SandboxConfig::default()
    };
    let mut sandboxes = Vec::new();
    let mut outputs = Vec::new();
    for (label, engine) in &guests {
        let mut sandbox = engine.sandbox(&config).unwrap();
        sandbox.run("weval_gate.lua", FUNCTIONS).unwrap();
        sandbox
            .run("check.lua", b"print(fib(25), loop(1000), fib(-1), loop(0))")
            .unwrap();
        let fuel = sandbox.last_fuel_used();
        let output: String = sandbox.console().lines().map(|l| l.text.clone()).collect();
        eprintln!("{label}: {output:?}, {fuel} fuel");
        outputs.push(output);
        sandboxes.push((*label, sandbox));
    }
    assert!(
        outputs.iter().all(|o| *o == outputs[0]),
        "outputs differ: {outputs:?}"
    );
    // With Lua's depth limit off, 100,000 nested calls: Lua's own stack
    // holds them; specialised calls nest on the wasm stack only up to a
    // bound (lvm.c, MOONBOX_SPEC_MAXCCALLS), so every guest gives the same
    // answer instead of a trap.
    let deep = SandboxConfig {
        limits: Limits {
            fuel: 1 << 40,
            max_depth: 0,
            memory: 64 << 20,
            ..Limits::default()
        },
        ..SandboxConfig::default()
    };
    for (label, engine) in &guests {
        let mut sandbox = engine.sandbox(&deep).unwrap();
        sandbox.run("weval_gate.lua", FUNCTIONS).unwrap();
        sandbox
            .run("deep.lua", b"print(depth(100000))")
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        let printed = sandbox.console().lines().last().map(|l| l.text.clone());
        assert_eq!(printed.as_deref(), Some("100000"), "{label}");
    }

    let mut group = c.benchmark_group("weval_gate");
    group.sample_size(10);
    for (label, sandbox) in &mut sandboxes {
        group.bench_function(format!("fib30/{label}"), |b| {
            b.iter(|| sandbox.call_with("fib", &(30,)).unwrap())
        });
        eprintln!("{label}: fib(30) {} fuel", sandbox.last_fuel_used());
        group.bench_function(format!("loop1e7/{label}"), |b| {
            b.iter(|| sandbox.call_with("loop", &(10_000_000,)).unwrap())
        });
        eprintln!("{label}: loop(1e7) {} fuel", sandbox.last_fuel_used());
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
