//! Runtime benchmarks: creating sandboxes (plain and pooled, bare and with a
//! small mod loaded), an empty handler call, and 1000 sandboxes alive at once
//! (time and resident memory). The Lua programs are in `lua_suite.rs`.
//!
//! `cargo bench --bench runtime`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)] // benchmark harness

use criterion::{Criterion, criterion_group, criterion_main};
use moonbox::{EngineConfig, Limits, PoolingConfig, SandboxConfig, ScriptEngine};

fn sandbox_lifecycle(c: &mut Criterion) {
    let engine = ScriptEngine::new().expect("engine");
    let config = SandboxConfig {
        limits: Limits::default(),
        ..SandboxConfig::default()
    };
    c.bench_function("sandbox/create", |b| {
        b.iter(|| engine.sandbox(&config).expect("sandbox"));
    });
    let pooled = ScriptEngine::with_config(&EngineConfig {
        pooling: Some(PoolingConfig::default()),
        ..EngineConfig::default()
    })
    .expect("pooled engine");
    c.bench_function("sandbox/create_pooled", |b| {
        b.iter(|| pooled.sandbox(&config).expect("sandbox"));
    });
    // Ready to run a mod: created, and a small mod compiled and run.
    for (name, engine) in [
        ("create_with_mod", &engine),
        ("create_with_mod_pooled", &pooled),
    ] {
        c.bench_function(&format!("sandbox/{name}"), |b| {
            b.iter(|| {
                let mut sandbox = engine.sandbox(&config).expect("sandbox");
                sandbox.run("mod.lua", SMALL_MOD).expect("mod");
                sandbox
            });
        });
    }
    let mut sandbox = engine.sandbox(&config).expect("sandbox");
    sandbox
        .run("mod.lua", b"function on_tick() end")
        .expect("handler");
    c.bench_function("sandbox/call_empty_handler", |b| {
        b.iter(|| sandbox.call("on_tick").expect("call"));
    });
}

/// A small mod: a few locals and two handlers.
const SMALL_MOD: &[u8] = b"local speed, count = 2.5, 0
function on_load() count = 0 end
function on_tick(dt) count = count + speed * dt end";

/// Sandboxes alive at once in `many_sandboxes`.
const MANY: usize = 1000;

/// Creates [`MANY`] sandboxes, each with [`SMALL_MOD`] loaded, and keeps them
/// all alive: the time to make them, and the resident memory they add
/// (printed, and written to `target/criterion/moonbox-memory.json` for
/// `scripts/bench-summary`).
fn many_sandboxes(c: &mut Criterion) {
    let config = SandboxConfig::default();
    for (name, engine_config) in [
        ("many/1000_sandboxes", EngineConfig::default()),
        (
            "many/1000_sandboxes_pooled",
            EngineConfig {
                pooling: Some(PoolingConfig::default()),
                ..EngineConfig::default()
            },
        ),
    ] {
        let engine = ScriptEngine::with_config(&engine_config).expect("engine");
        let make_all = || {
            (0..MANY)
                .map(|_| {
                    let mut sandbox = engine.sandbox(&config).expect("sandbox");
                    sandbox.run("mod.lua", SMALL_MOD).expect("mod");
                    sandbox
                })
                .collect::<Vec<_>>()
        };
        drop(make_all()); // warm up: pages of the engine and allocator
        let before = resident_bytes();
        let alive = make_all();
        let after = resident_bytes();
        let lua_heap: u64 = alive
            .into_iter()
            .map(|mut s| s.lua_memory().expect("lua memory"))
            .sum();
        record_memory(name, after.saturating_sub(before), lua_heap);
        let mut group = c.benchmark_group("many");
        group.sample_size(10);
        group.bench_function(name.trim_start_matches("many/"), |b| b.iter(make_all));
        group.finish();
    }
}

/// Resident set size of this process, from `/proc/self/statm` (Linux).
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn record_memory(name: &str, resident: u64, lua_heap: u64) {
    println!(
        "{name}: {MANY} sandboxes add {:.1} MiB resident ({:.0} KiB each; Lua heap {:.0} KiB each)",
        resident as f64 / (1024.0 * 1024.0),
        resident as f64 / 1024.0 / MANY as f64,
        lua_heap as f64 / 1024.0 / MANY as f64,
    );
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/criterion");
    let path = dir.join("moonbox-memory.json");
    let mut all: serde_json::Map<String, serde_json::Value> = std::fs::read(&path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    all.insert(
        name.to_string(),
        serde_json::json!({ "sandboxes": MANY, "resident_bytes": resident, "lua_heap_bytes": lua_heap }),
    );
    std::fs::create_dir_all(&dir).expect("criterion directory");
    std::fs::write(&path, serde_json::to_vec_pretty(&all).expect("json")).expect("memory record");
}

criterion_group!(benches, sandbox_lifecycle, many_sandboxes);
criterion_main!(benches);
