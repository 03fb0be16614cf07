//! Start-up: creating an engine (compiling the guest, or loading it from the
//! compiled-guest cache) and whole `moonbox run examples/hello.lua`
//! processes, cold and warm, against a native Lua process running the same
//! script in the same run (this benchmark's own executable, started with
//! `--native-lua FILE`: mlua with the vendored Lua 5.4 and the sandbox's
//! libraries, so both sides pay for starting a Rust process).
//!
//! `cargo bench --bench startup`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)] // benchmark harness

use std::path::{Path, PathBuf};
use std::process::Command;

use criterion::Criterion;
use moonbox::{CacheOutcome, EngineConfig, ScriptEngine};

#[path = "../tests/common/native_lua.rs"]
mod native_lua;

const HELLO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/hello.lua");

fn engine_start(c: &mut Criterion, cache: &Path) {
    let mut group = c.benchmark_group("engine_start");
    group.sample_size(10);
    group.bench_function("compile", |b| {
        b.iter(|| ScriptEngine::new().expect("engine"));
    });
    let config = EngineConfig {
        cache: Some(cache.to_path_buf()),
        ..EngineConfig::default()
    };
    let warm = ScriptEngine::with_config(&config).expect("engine");
    drop(warm);
    group.bench_function("cached", |b| {
        b.iter(|| {
            let engine = ScriptEngine::with_config(&config).expect("engine");
            assert!(matches!(
                engine.cache_outcome(),
                CacheOutcome::Loaded { .. }
            ));
            engine
        });
    });
    group.finish();
}

fn run_hello(c: &mut Criterion, cache: &Path) {
    let mut group = c.benchmark_group("run_hello");
    group.sample_size(20);
    let moonbox = |extra: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_moonbox"))
            .args(extra)
            .args(["run", HELLO])
            .env("MOONBOX_CACHE", cache)
            .output()
            .expect("moonbox runs");
        assert!(
            output.status.success() && output.stderr.is_empty(),
            "{output:?}"
        );
        output
    };
    let native = || {
        let output = Command::new(std::env::current_exe().expect("own path"))
            .args(["--native-lua", HELLO])
            .output()
            .expect("native Lua runs");
        assert!(output.status.success(), "{output:?}");
        output
    };
    // Same script, same output (the seeded dice roll aside).
    let lines = |out: &[u8]| {
        String::from_utf8_lossy(out)
            .lines()
            .take(4)
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(lines(&moonbox(&[]).stdout), lines(&native().stdout));
    group.bench_function("native", |b| b.iter(native));
    group.bench_function("moonbox_cached", |b| b.iter(|| moonbox(&[])));
    group.bench_function("moonbox_no_cache", |b| b.iter(|| moonbox(&["--no-cache"])));
    group.finish();
}

/// `--native-lua FILE`: runs FILE in native Lua and exits.
fn native_lua_run(file: &str) {
    let lua = native_lua::safe_native_lua().expect("native Lua");
    let source = std::fs::read(file).expect("script");
    lua.load(&source)
        .set_name(file)
        .exec()
        .expect("script runs");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, file, ..] = args.as_slice()
        && flag == "--native-lua"
    {
        native_lua_run(file);
        return;
    }
    let cache = tempfile::tempdir().expect("cache folder");
    let folder: PathBuf = cache.path().join("moonbox");
    let mut c = Criterion::default().configure_from_args();
    engine_start(&mut c, &folder);
    run_hello(&mut c, &folder);
    c.final_summary();
}
