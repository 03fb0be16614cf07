//! Replay overhead: the built-in demo for 100 ticks with recording off
//! and on (world hash every tick, the file written to memory), same run.
//!
//! `cargo bench --bench replay`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)] // benchmark harness

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use moonbox::{ReplayFile, ReplayInputs as Inputs, Simulation};
use moonbox::{ScriptEngine, demo};

const TICKS: u64 = 100;

fn replay_overhead(c: &mut Criterion) {
    let engine = ScriptEngine::new().unwrap();
    let registry = Arc::new(demo::registry().unwrap());
    let inputs = Inputs::demo(&registry, 0, TICKS, 1.0 / 60.0).unwrap();
    let mut group = c.benchmark_group("demo_100_ticks");
    group.sample_size(10);
    group.bench_function("record_off", |b| {
        b.iter(|| {
            let mut sim = Simulation::new(&engine, Arc::clone(&registry), &inputs).unwrap();
            while !sim.is_done() {
                sim.step(false).unwrap();
            }
        });
    });
    group.bench_function("record_on", |b| {
        b.iter(|| {
            let mut sim = Simulation::new(&engine, Arc::clone(&registry), &inputs).unwrap();
            let mut file = ReplayFile::new(inputs.clone());
            file.ticks.push(sim.start().unwrap());
            while !sim.is_done() {
                file.ticks.push(sim.step(true).unwrap());
            }
            file.to_text()
        });
    });
    group.finish();
}

criterion_group!(benches, replay_overhead);
criterion_main!(benches);
