//! The Lua benchmark suite (`benches/lua/*.lua`): every program runs natively
//! (mlua, vendored Lua 5.4, same libraries) and in a Moonbox sandbox (fuel on,
//! default limits but a budget big enough for the program), in the same run,
//! so that `scripts/bench-summary` can print the ratio.
//!
//! `cargo bench --bench lua_suite`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)] // benchmark harness

#[path = "../tests/common/lua_suite.rs"]
mod lua_suite;
#[path = "../tests/common/native_lua.rs"]
mod native_lua;

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use lua_suite::{PROGRAMS, run_native, run_sandboxed, suite_native, suite_sandbox};
use moonbox::ScriptEngine;

fn suite(c: &mut Criterion) {
    let engine = ScriptEngine::new().expect("engine");
    let lua = suite_native(false).expect("native Lua");
    let mut sandbox = suite_sandbox(&engine, false).expect("sandbox");
    for program in PROGRAMS {
        // Both must compute the same thing, or the ratio means nothing.
        let native = run_native(&lua, program).expect("native run");
        let sandboxed = run_sandboxed(&mut sandbox, program).expect("sandboxed run");
        assert_eq!(native, sandboxed, "{}: outputs differ", program.name);

        let mut group = c.benchmark_group(format!("lua/{}", program.name));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3));
        group.bench_function("native", |b| {
            b.iter(|| run_native(&lua, program).expect("native run"));
        });
        group.bench_function("sandbox", |b| {
            b.iter(|| run_sandboxed(&mut sandbox, program).expect("sandboxed run"));
        });
        group.finish();
    }
}

criterion_group!(benches, suite);
criterion_main!(benches);
