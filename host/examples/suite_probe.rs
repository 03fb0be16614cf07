//! Same-run probe of two specialised suite guests against native Lua
//! (BENCHMARKS.md, "A call site's rare paths out of line"): on a noisy
//! machine, steadier than criterion's medians, because every program runs
//! natively, on guest A and on guest B in turn, in one process, and the
//! best of the rounds is kept.
//!
//! ```sh
//! guest-lua/weval-gate.sh        # target/guest-weval/suite.wasm
//! cargo run --release --example suite_probe -- A.wasm B.wasm [ROUNDS [FILE.lua...]]
//! ```
//!
//! A and B are guests made like `target/guest-weval/suite.wasm` (save one
//! before changing the guest and running the script again). Prints each
//! program's fuel on both (after the programs before it ran ROUNDS times,
//! default 15, in the same sandbox) and its best time on each as a ratio to
//! native, then the geometric means. Outputs must agree with native Lua.
//! Lua files after ROUNDS are run instead of the suite (with guests
//! specialised for them, or the built-in one, `host/guest/moonbox_guest.wasm`).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)] // a measuring tool

#[path = "../../tests/common/lua_suite.rs"]
mod lua_suite;
#[allow(dead_code)] // only the suite's runners are used
#[path = "../../tests/common/native_lua.rs"]
mod native_lua;

use std::time::{Duration, Instant};

use lua_suite::{PROGRAMS, Program, run_native, run_sandboxed, suite_native, suite_sandbox};
use moonbox::{EngineConfig, ScriptEngine};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(a), Some(b)) = (args.first(), args.get(1)) else {
        eprintln!("usage: suite_probe A.wasm B.wasm [ROUNDS]");
        std::process::exit(2);
    };
    let rounds: usize = args.get(2).map_or(15, |n| n.parse().expect("ROUNDS"));
    let files: Vec<Program> = args
        .iter()
        .skip(3)
        .map(|file| Program {
            name: Box::leak(file.clone().into_boxed_str()),
            source: Box::leak(
                std::fs::read_to_string(file)
                    .expect("Lua file")
                    .into_boxed_str(),
            ),
        })
        .collect();
    let programs = if files.is_empty() {
        PROGRAMS
    } else {
        &files[..]
    };
    let config = EngineConfig::default();
    let engines: Vec<ScriptEngine> = [a, b]
        .iter()
        .map(|file| {
            let bytes = std::fs::read(file).expect("guest file");
            let start = Instant::now();
            let engine = ScriptEngine::with_guest_variant(&config, &bytes).expect("guest");
            eprintln!("{file}: compiled in {:.2} s", start.elapsed().as_secs_f64());
            engine
        })
        .collect();
    let lua = suite_native(false).expect("native Lua");
    let mut sandboxes: Vec<_> = engines
        .iter()
        .map(|engine| suite_sandbox(engine, false).expect("sandbox"))
        .collect();
    let timed = |run: &mut dyn FnMut()| {
        let start = Instant::now();
        run();
        start.elapsed()
    };
    let mut log_ratios = [0.0f64; 2];
    for program in programs {
        let native = run_native(&lua, program).expect("native run");
        let mut fuel = [0u64; 2];
        for (sandbox, fuel) in sandboxes.iter_mut().zip(&mut fuel) {
            let output = run_sandboxed(sandbox, program).expect("sandboxed run");
            assert_eq!(output, native, "{}: output differs", program.name);
            *fuel = sandbox.last_fuel_used();
        }
        let mut times = [Duration::MAX; 3]; // A, B, native
        for _ in 0..rounds {
            let native = timed(&mut || drop(run_native(&lua, program).expect("native run")));
            times[2] = times[2].min(native);
            for (sandbox, time) in sandboxes.iter_mut().zip(&mut times) {
                let run = timed(&mut || drop(run_sandboxed(sandbox, program).expect("run")));
                *time = (*time).min(run);
            }
        }
        let ratio = |k: usize| times[k].as_secs_f64() / times[2].as_secs_f64();
        log_ratios[0] += ratio(0).ln();
        log_ratios[1] += ratio(1).ln();
        println!(
            "{:14} fuel A {:>14} B {:>14} ({:+.2}%)  native {:7.1} ms  A {:.3}x  B {:.3}x",
            program.name,
            fuel[0],
            fuel[1],
            (fuel[1] as f64 / fuel[0] as f64 - 1.0) * 100.0,
            times[2].as_secs_f64() * 1e3,
            ratio(0),
            ratio(1),
        );
    }
    let n = programs.len() as f64;
    println!(
        "geometric mean A {:.3}x B {:.3}x",
        (log_ratios[0] / n).exp(),
        (log_ratios[1] / n).exp()
    );
}
