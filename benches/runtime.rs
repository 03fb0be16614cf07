//! Runtime benchmarks: the same Lua run natively (mlua, vendored Lua 5.4) and
//! in a Moonbox sandbox (fuel on, default limits), in the same run, so that
//! the report shows the ratio; plus sandbox creation and an empty call.
//!
//! `cargo bench --bench runtime`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)] // benchmark harness

#[path = "../tests/common/native_lua.rs"]
mod native_lua;

use criterion::{Criterion, criterion_group, criterion_main};
use moonbox::{EngineConfig, Limits, PoolingConfig, SandboxConfig, ScriptEngine};

const FIB: &str = "local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end return fib(N)";

fn fib_source(n: u32) -> String {
    FIB.replace('N', &n.to_string())
}

fn fib(c: &mut Criterion) {
    let engine = ScriptEngine::new().expect("engine");
    let source = fib_source(30);
    let mut group = c.benchmark_group("fib30");
    group.sample_size(10);
    let lua = native_lua::safe_native_lua().expect("native Lua");
    group.bench_function("native", |b| {
        b.iter(|| lua.load(&source).exec().expect("native fib"));
    });
    // fib(30) needs about 1.4e9 fuel, more than one default call allows.
    let config = SandboxConfig {
        limits: Limits {
            fuel: 10_000_000_000,
            ..Limits::default()
        },
        ..SandboxConfig::default()
    };
    let mut sandbox = engine.sandbox(&config).expect("sandbox");
    group.bench_function("sandbox", |b| {
        b.iter(|| {
            sandbox
                .run("fib.lua", source.as_bytes())
                .expect("sandboxed fib")
        });
    });
    group.finish();
}

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
    let mut sandbox = engine.sandbox(&config).expect("sandbox");
    sandbox
        .run("mod.lua", b"function on_tick() end")
        .expect("handler");
    c.bench_function("sandbox/call_empty_handler", |b| {
        b.iter(|| sandbox.call("on_tick").expect("call"));
    });
}

criterion_group!(benches, fib, sandbox_lifecycle);
criterion_main!(benches);
