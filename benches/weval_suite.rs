//! The Lua suite with weval (issue 18): every program of `benches/lua`
//! natively (mlua), on the built-in guest and on the weval variant
//! specialised for the suite's programs as mods (`target/guest-weval/
//! suite.wasm`: a snapshot in which the guest compiled each program and
//! requested its functions' specialisation, then weval). The sandboxes load
//! the programs as usual; their functions find the specialised code by their
//! bytecode. Outputs must agree before anything is measured.
//!
//! `guest-lua/weval-gate.sh && cargo bench --bench weval_suite`
//!
//! Then the per-mod costs for `target/guest-weval/mod1000.wasm` (a mod of
//! about 1,000 lines, specialised by the same script): compiling the
//! specialised guest, and loading it compiled (what a cache hit costs).
//!
//! Without the variant it says so and measures nothing.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)] // benchmark harness

#[path = "../tests/common/lua_suite.rs"]
mod lua_suite;
#[path = "../tests/common/native_lua.rs"]
mod native_lua;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use lua_suite::{PROGRAMS, run_native, run_sandboxed, suite_native, suite_sandbox};
use moonbox::{EngineConfig, ScriptEngine};

/// `target/guest-weval/NAME` (made by `guest-lua/weval-gate.sh`) and its
/// bytes; `None`, after saying so, when it is missing.
fn built(name: &str) -> Option<(PathBuf, Vec<u8>)> {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/guest-weval")
        .join(name);
    match std::fs::read(&file) {
        Ok(bytes) => Some((file, bytes)),
        Err(_) => {
            eprintln!(
                "weval_suite: no {}; run guest-lua/weval-gate.sh first",
                file.display()
            );
            None
        }
    }
}

fn suite(c: &mut Criterion) {
    let Some((file, bytes)) = built("suite.wasm") else {
        return;
    };
    let config = EngineConfig::default();
    let built_in = ScriptEngine::with_config(&config).expect("engine");
    let start = Instant::now();
    let weval = ScriptEngine::with_guest_variant(&config, &bytes).expect("weval engine");
    eprintln!(
        "weval_suite: compiling {} ({} bytes) took {:.2} s",
        file.display(),
        bytes.len(),
        start.elapsed().as_secs_f64()
    );
    let lua = suite_native(false).expect("native Lua");
    let mut plain = suite_sandbox(&built_in, false).expect("sandbox");
    let mut specialised = suite_sandbox(&weval, false).expect("weval sandbox");
    for program in PROGRAMS {
        let native = run_native(&lua, program).expect("native run");
        let sandboxed = run_sandboxed(&mut plain, program).expect("sandboxed run");
        let plain_fuel = plain.last_fuel_used();
        let weval_out = run_sandboxed(&mut specialised, program).expect("weval run");
        eprintln!(
            "{}: fuel built-in {plain_fuel}, weval {}",
            program.name,
            specialised.last_fuel_used()
        );
        assert_eq!(native, sandboxed, "{}: outputs differ", program.name);
        assert_eq!(native, weval_out, "{}: weval output differs", program.name);

        let mut group = c.benchmark_group(format!("weval/{}", program.name));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3));
        group.bench_function("native", |b| {
            b.iter(|| run_native(&lua, program).expect("native run"));
        });
        group.bench_function("sandbox", |b| {
            b.iter(|| run_sandboxed(&mut plain, program).expect("sandboxed run"));
        });
        group.bench_function("weval", |b| {
            b.iter(|| run_sandboxed(&mut specialised, program).expect("weval run"));
        });
        group.finish();
    }
}

/// Compiling the guest specialised for a 1,000-line mod, and deserialising
/// it compiled, with wasmtime configured as the engine configures it.
#[allow(unsafe_code)] // deserialising what this engine compiled
fn per_mod(c: &mut Criterion) {
    let Some((file, bytes)) = built("mod1000.wasm") else {
        return;
    };
    let mut config = wasmtime::Config::new();
    config
        .wasm_exceptions(true)
        .consume_fuel(true)
        .concurrency_support(false)
        .cranelift_nan_canonicalization(true)
        .cranelift_opt_level(wasmtime::OptLevel::Speed);
    let engine = wasmtime::Engine::new(&config).unwrap();
    let mut group = c.benchmark_group("weval/mod1000");
    group.sample_size(10);
    // The unspecialised variant, for what the mod's functions add.
    if let Ok(plain) = std::fs::read(file.with_file_name("plain.wasm")) {
        group.bench_function("compile_unspecialised", |b| {
            b.iter(|| wasmtime::component::Component::new(&engine, &plain).unwrap())
        });
    }
    group.bench_function("compile", |b| {
        b.iter(|| wasmtime::component::Component::new(&engine, &bytes).unwrap())
    });
    let compiled = wasmtime::component::Component::new(&engine, &bytes)
        .unwrap()
        .serialize()
        .unwrap();
    eprintln!("weval_suite: mod1000 compiled: {} bytes", compiled.len());
    group.bench_function("load_compiled", |b| {
        // SAFETY: bytes this engine serialised a moment ago.
        b.iter(|| unsafe {
            wasmtime::component::Component::deserialize(&engine, &compiled).unwrap()
        })
    });
    group.finish();
    in_process(c);
}

/// `ScriptEngine::specialised` for the 1,000-line mod in-process: as an
/// engine's first mod, after another mod (the suite's programs), when the
/// compiled functions the two share are in the engine's store, and as the
/// first mod of an engine whose cache folder holds the compiled
/// instrumented variant; then
/// when the compiled guest is in the cache folder: what loading a
/// specialised mod costs after the first time (hashing the sources,
/// reading and checking the entry, deserialising, linking).
fn in_process(c: &mut Criterion) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let weval = root.join("target/weval-tool/target/release/weval");
    let Ok(source) = std::fs::read(root.join("target/guest-weval/mod1000.lua")) else {
        return;
    };
    let chunks = [("mod1000.lua".to_owned(), source)];
    let timed = |what: &str, engine: &ScriptEngine, chunks: &[(String, Vec<u8>)]| {
        let start = Instant::now();
        engine.specialised(&weval, chunks).unwrap();
        let stats = engine.function_cache_stats();
        eprintln!(
            "weval_suite: specialising {what} took {:.2} s (store: {} functions, {} bytes, {} hits, {} compiled)",
            start.elapsed().as_secs_f64(),
            stats.functions,
            stats.bytes,
            stats.hits,
            stats.misses,
        );
    };
    // Engines that specialise every mod, as a game's would.
    let first = ScriptEngine::with_config(&EngineConfig {
        weval: Some(weval.clone()),
        ..EngineConfig::default()
    })
    .unwrap();
    timed("mod1000, the engine's first mod", &first, &chunks);
    drop(first);

    let folder = tempfile::tempdir().unwrap();
    let base = ScriptEngine::with_config(&EngineConfig {
        cache: Some(folder.path().to_path_buf()),
        weval: Some(weval.clone()),
        ..EngineConfig::default()
    })
    .unwrap();
    let suite: Vec<_> = PROGRAMS
        .iter()
        .map(|p| (format!("{}.lua", p.name), p.source.as_bytes().to_vec()))
        .collect();
    timed(
        "the suite's programs, the engine's first mod",
        &base,
        &suite,
    );
    timed("mod1000 after them", &base, &chunks);
    // A new engine (process) on the same folder: the instrumented variant
    // comes from it, the compiled functions do not.
    let restarted = ScriptEngine::with_config(&EngineConfig {
        cache: Some(folder.path().to_path_buf()),
        weval: Some(weval.clone()),
        ..EngineConfig::default()
    })
    .unwrap();
    let mut changed = chunks.clone();
    changed[0].1.extend_from_slice(b"\n-- another mod\n");
    timed(
        "mod1000, changed, first mod of a new engine on the folder",
        &restarted,
        &changed,
    );
    c.bench_function("weval/mod1000/specialised_cache_hit", |b| {
        b.iter(|| base.specialised(&weval, &chunks).unwrap())
    });
}

criterion_group!(benches, per_mod, suite);
criterion_main!(benches);
