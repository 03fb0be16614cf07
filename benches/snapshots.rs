//! Snapshots: taking and restoring the demo's whole simulation (four mods,
//! 300 entities, after 100 ticks) and 1,000 sandboxes with a small Lua
//! state each. Prints each snapshot's size once.
//!
//! `cargo bench --bench snapshots`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)] // benchmark harness

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use moonbox::{Moonbox, Policy, SandboxConfig, ScriptEngine};

const SANDBOXES: usize = 1_000;

const STATE: &[u8] = br#"
scores = {}
for i = 1, 200 do scores[i] = { id = i, name = "player" .. i, hp = i % 17 } end
local calls = 0
function bump() calls = calls + 1 scores[calls % 200 + 1].hp = calls end
"#;

fn demo(c: &mut Criterion) {
    let registry = Arc::new(moonbox::demo::registry().unwrap());
    let mut host = Moonbox::builder(Arc::clone(&registry))
        .policy(Policy::allow_all(&registry))
        .build()
        .unwrap();
    for source in moonbox::demo::example_mods().unwrap() {
        host.load(source).unwrap();
    }
    let mut world = moonbox::demo::world(0, moonbox::demo::DEMO_ENTITIES);
    for _ in 0..100 {
        host.tick(&mut world, 1.0 / 60.0);
    }
    let snapshot = host.snapshot(&world).unwrap();
    eprintln!(
        "demo snapshot after 100 ticks: {} bytes in all",
        snapshot.to_bytes().len()
    );
    for (name, sandbox) in snapshot.sandboxes() {
        eprintln!(
            "  {name}: {} bytes of memory differ from a fresh sandbox, {} stored",
            sandbox.memory_bytes(),
            sandbox.stored_bytes()
        );
    }
    let mut group = c.benchmark_group("snapshot_demo");
    group.bench_function("snapshot", |b| b.iter(|| host.snapshot(&world).unwrap()));
    group.bench_function("restore", |b| {
        b.iter(|| host.restore(&mut world, &snapshot).unwrap());
    });
    group.bench_function("to_bytes", |b| b.iter(|| snapshot.to_bytes()));
    group.finish();
}

fn sandboxes(c: &mut Criterion) {
    let engine = ScriptEngine::new().unwrap();
    let config = SandboxConfig::default();
    let mut all: Vec<_> = (0..SANDBOXES)
        .map(|_| {
            let mut sandbox = engine.sandbox(&config).unwrap();
            sandbox.run("state.lua", STATE).unwrap();
            sandbox.call("bump").unwrap();
            sandbox
        })
        .collect();
    let snapshots: Vec<_> = all.iter_mut().map(|s| s.snapshot().unwrap()).collect();
    let stored: usize = snapshots.iter().map(|s| s.stored_bytes()).sum();
    let differ: u64 = snapshots.iter().map(|s| s.memory_bytes()).sum();
    eprintln!("{SANDBOXES} sandboxes: {differ} bytes of memory differ, {stored} stored");
    let mut group = c.benchmark_group("snapshot_1000_sandboxes");
    group.sample_size(10);
    group.bench_function("snapshot", |b| {
        b.iter(|| {
            all.iter_mut()
                .map(|s| s.snapshot().unwrap())
                .collect::<Vec<_>>()
        });
    });
    group.bench_function("restore", |b| {
        b.iter(|| {
            snapshots
                .iter()
                .map(|s| engine.restore_sandbox(&config, s).unwrap())
                .collect::<Vec<_>>()
        });
    });
    group.finish();
}

criterion_group!(benches, demo, sandboxes);
criterion_main!(benches);
