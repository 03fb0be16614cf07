//! Guests specialised for a mod with weval (`ScriptEngine::specialised`):
//! the same results as the built-in guest, less fuel, the same fuel on every
//! run, and clear errors when specialisation cannot happen.
//!
//! The tests that run weval need its executable: `scripts/build-weval`
//! builds it where [`weval`] looks. Without it they say so and pass, unless
//! `MOONBOX_REQUIRE_WEVAL` is set, as CI sets it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use moonbox::{
    LimitKind, Limits, MAX_SPECIALISED_SOURCE, Sandbox, SandboxConfig, ScriptEngine,
    SpecialiseError,
};

use crate::support::{engine, generic_engine, printed, run_native};

/// A mod with calls, loops, a tail call, a closure, errors and deep
/// recursion: what specialised code must get exactly right.
const MOD: &str = r#"
function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
function sum(n) local s = 0 for i = 1, n do s = s + i * 0.5 end return s end
local function count(n, acc) if n == 0 then return acc end return count(n - 1, acc + 1) end
function tail(n) return count(n, 0) end
function counter() local c = 0 return function() c = c + 1 return c end end
function field(t) return t.x.y end
function deep(n) if n == 0 then return 0 end return 1 + deep(n - 1) end
function spin() while true do end end
function kinds(s)
  local callable = setmetatable({}, { __call = function(_, a) return a + 1 end })
  local co = coroutine.wrap(function(a) local b = coroutine.yield(a + 1) return b * 2 end)
  local function two(a, b) return b end
  local ok, err = pcall(function() return s:nosuch() end)
  return s:upper(), #s:rep(3, ","), callable(41), co(1), co(5), two(1), ok, err
end
function tasks(n)
  local function wait(v) local got = coroutine.yield(v) return got end
  local s = 0
  for i = 1, n do
    local task = coroutine.wrap(function(a)
      local b = wait(a)
      local c = coroutine.yield(b + 1)
      return a + b + c
    end)
    s = s + task(i) + task(i) + task(1)
  end
  local co = coroutine.wrap(function()
    local ok, v = pcall(coroutine.yield, 1)
    local t = setmetatable({}, { __index = function(_, k) local v = coroutine.yield(k) return v end })
    return ok, v, t.key
  end)
  return s, co(), co(2), co(3)
end
"#;

const CALLS: &str = r#"
print(fib(20), sum(1000), tail(5000))
local next = counter() next() print(next())
print(pcall(field, {}))
print(pcall(deep, 500))
"#;

/// The weval executable, if built; `None` (after saying why) when missing
/// and not required.
pub fn weval() -> Option<PathBuf> {
    let path = std::env::var_os("MOONBOX_WEVAL").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/weval-tool/target/release/weval"),
        PathBuf::from,
    );
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var_os("MOONBOX_REQUIRE_WEVAL").is_none(),
        "weval is required but {} is missing: run scripts/build-weval",
        path.display()
    );
    eprintln!(
        "skipped: no weval at {}; run scripts/build-weval",
        path.display()
    );
    None
}

/// One engine specialised for [`MOD`], shared by the tests.
fn specialised() -> Option<&'static ScriptEngine> {
    static ENGINE: OnceLock<ScriptEngine> = OnceLock::new();
    let weval = weval()?;
    Some(ENGINE.get_or_init(|| {
        engine()
            .specialised(&weval, &chunks(MOD))
            .expect("the mod specialises")
    }))
}

fn chunks(source: &str) -> Vec<(String, Vec<u8>)> {
    vec![("mod.lua".to_owned(), source.as_bytes().to_vec())]
}

fn loaded(engine: &ScriptEngine, limits: Limits) -> Sandbox {
    let mut sandbox = engine
        .sandbox(&SandboxConfig {
            limits,
            ..SandboxConfig::default()
        })
        .unwrap();
    sandbox.run("mod.lua", MOD.as_bytes()).unwrap();
    sandbox
}

#[test]
fn specialised_mod_prints_the_same_and_uses_less_fuel() {
    let Some(fast) = specialised() else { return };
    let mut generic = loaded(engine(), Limits::default());
    let mut special = loaded(fast, Limits::default());
    generic.run("calls.lua", CALLS.as_bytes()).unwrap();
    special.run("calls.lua", CALLS.as_bytes()).unwrap();
    assert_eq!(printed(&special), printed(&generic));
    assert_eq!(
        printed(&generic)[2],
        "false\tmod.lua:7: attempt to index a nil value (field 'x')",
        "the error names the line, from the pc specialised code saved"
    );
    let (generic_fuel, special_fuel) = (generic.last_fuel_used(), special.last_fuel_used());
    assert!(
        special_fuel < generic_fuel,
        "specialised {special_fuel} fuel, generic {generic_fuel}"
    );
    // Calls are where it gains most: fib(30) takes 13% less (BENCHMARKS.md).
    let fib = fuel_of(fast, "", "fib(20)");
    assert!(
        fib < fuel_of(engine(), "", "fib(20)") * 9 / 10,
        "fib: {fib} fuel"
    );
}

#[test]
fn specialised_fuel_is_the_same_on_every_run_and_every_specialisation() {
    let Some(weval) = weval() else { return };
    let Some(fast) = specialised() else { return };
    let again = engine().specialised(&weval, &chunks(MOD)).unwrap();
    let fuel = |engine: &ScriptEngine| {
        let mut sandbox = loaded(engine, Limits::default());
        sandbox.run("calls.lua", CALLS.as_bytes()).unwrap();
        sandbox.last_fuel_used()
    };
    let first = fuel(fast);
    assert_eq!(fuel(fast), first);
    assert_eq!(fuel(&again), first);
}

#[test]
fn later_specialisations_reuse_compiled_functions_and_run_the_same() {
    let Some(weval) = weval() else { return };
    let other = "function loop(n) local s = 0 for i = 1, n do s = s + i % 7 end return s end";
    let run = |engine: &ScriptEngine| {
        let mut sandbox = engine.sandbox(&SandboxConfig::default()).unwrap();
        sandbox.run("other.lua", other.as_bytes()).unwrap();
        sandbox.run("call.lua", b"print(loop(100000))").unwrap();
        (printed(&sandbox), sandbox.last_fuel_used())
    };
    // Engines that specialise every mod keep compiled functions: `warm`
    // specialises MOD, then `other`; `cold` only `other`.
    let specialising = || {
        ScriptEngine::with_config(&moonbox::EngineConfig {
            weval: Some(weval.clone()),
            ..moonbox::EngineConfig::default()
        })
        .unwrap()
    };
    let warm = specialising();
    let none = warm.function_cache_stats();
    assert_eq!((none.functions, none.hits), (0, 0), "nothing kept before");
    warm.specialised(&weval, &chunks(MOD)).unwrap();
    let first = warm.function_cache_stats();
    assert!(first.functions > 1000, "{first:?}");
    let reused = warm.specialised(&weval, &chunks(other)).unwrap();
    let second = warm.function_cache_stats();
    let (hits, misses) = (second.hits - first.hits, second.misses - first.misses);
    assert!(
        hits > 2 * misses,
        "second: {hits} hits, {misses} compiled; {first:?} {second:?}"
    );
    assert!(second.bytes <= moonbox::FUNCTION_CACHE_BYTES);

    let cold = specialising();
    let fresh = cold.specialised(&weval, &chunks(other)).unwrap();
    // (Identical functions within one guest hit even on the first, and the
    // counts vary by a few: parallel compilation may miss the same
    // function twice. The code does not vary.)
    let alone = cold.function_cache_stats().misses;
    assert!(
        alone > 2 * misses,
        "alone: {alone} compiled, warm {misses}: {first:?} {second:?}"
    );
    let (out, fuel) = run(&reused);
    assert_eq!((out.clone(), fuel), run(&fresh), "the same code either way");
    assert_eq!(out, run(engine()).0);
    assert!(fuel < run(engine()).1, "specialised: {fuel} fuel");

    // Other engines keep none: asking the store would slow their compiles.
    let plain = ScriptEngine::new().unwrap();
    plain.specialised(&weval, &chunks(other)).unwrap();
    let stats = plain.function_cache_stats();
    assert_eq!((stats.functions, stats.hits, stats.misses), (0, 0, 0));
}

/// Fuel of `call` in a sandbox of `engine` that loaded [`MOD`] and `extra`.
fn fuel_of(engine: &ScriptEngine, extra: &str, call: &str) -> u64 {
    let mut sandbox = loaded(engine, Limits::default());
    sandbox.run("extra.lua", extra.as_bytes()).unwrap();
    sandbox.run("call.lua", call.as_bytes()).unwrap();
    sandbox.last_fuel_used()
}

#[test]
fn code_is_specialised_by_its_instructions_alone() {
    let Some(fast) = specialised() else { return };
    let sum = fuel_of(fast, "", "sum(100000)");
    assert!(
        sum < fuel_of(engine(), "", "sum(100000)") * 95 / 100,
        "specialised sum: {sum} fuel"
    );
    // The same instructions under another name, with another constant (the
    // constants are not in the code), loaded later: specialised too. (The
    // call's own chunk, compiled in the call, differs by a character.)
    let same = "function sum3(n) local s = 0 for i = 1, n do s = s + i * 0.25 end return s end";
    let sum3 = fuel_of(fast, same, "sum3(100000)");
    assert!(sum3.abs_diff(sum) < 1000, "sum3: {sum3} fuel, sum: {sum}");
    // One instruction more: generic, as on the built-in guest (the variant's
    // generic interpreter costs the same in a loop without calls).
    let other = "function sum4(n) local s = 0 for i = 1, n do s = s + i * 0.5 + 1 end return s end";
    let generic = fuel_of(fast, other, "sum4(100000)");
    let built_in = fuel_of(engine(), other, "sum4(100000)");
    assert!(
        generic.abs_diff(built_in) < built_in / 100,
        "sum4: {generic} fuel on the variant, {built_in} built-in"
    );
}

/// `long` is `sum` with more than 1,000 instructions after its loop (the
/// guest's MOONBOX_SPEC_MAXCODE): too long to be worth specialising.
fn long_mod() -> String {
    let filler = "if n < 0 then s = s + n end\n".repeat(300);
    format!(
        "function long(n) local s = 0 for i = 1, n do s = s + i * 0.5 end\n{filler}return s end\n\
         function short(n) local s = 0 for i = 1, n do s = s + i * 0.5 end return s end\n"
    )
}

#[test]
fn functions_too_long_to_specialise_run_generic() {
    let Some(weval) = weval() else { return };
    let source = long_mod();
    let fast = engine().specialised(&weval, &chunks(&source)).unwrap();
    let fuel = |engine: &ScriptEngine, call: &str| {
        let mut sandbox = engine.sandbox(&SandboxConfig::default()).unwrap();
        sandbox.run("long.lua", source.as_bytes()).unwrap();
        sandbox.run("call.lua", call.as_bytes()).unwrap();
        (sandbox.last_fuel_used(), printed(&sandbox))
    };
    let (long, long_printed) = fuel(&fast, "print(long(100000))");
    let (long_built_in, built_in_printed) = fuel(engine(), "print(long(100000))");
    assert_eq!(long_printed, built_in_printed);
    assert!(
        long.abs_diff(long_built_in) < long_built_in / 100,
        "long: {long} fuel on the variant, {long_built_in} built-in"
    );
    let (short, _) = fuel(&fast, "print(short(100000))");
    let (short_built_in, _) = fuel(engine(), "print(short(100000))");
    assert!(
        short < short_built_in * 95 / 100,
        "short: {short} fuel specialised, {short_built_in} built-in"
    );
}

#[test]
fn limits_hold_in_specialised_code() {
    let Some(fast) = specialised() else { return };
    let mut sandbox = loaded(
        fast,
        Limits {
            fuel: 50_000_000,
            ..Limits::default()
        },
    );
    let error = sandbox.run("spin.lua", b"spin()").unwrap_err();
    assert_eq!(error.limit_kind(), Some(LimitKind::Fuel));
    assert_eq!(sandbox.last_fuel_used(), 50_000_000);

    let mut sandbox = loaded(fast, Limits::default());
    let error = sandbox.run("deep.lua", b"deep(1000)").unwrap_err();
    assert_eq!(error.limit_kind(), Some(LimitKind::Recursion));
    // The depth limit raises a Lua error, not a trap: the sandbox runs on.
    sandbox.run("ok.lua", b"print(deep(50))").unwrap();
    assert_eq!(printed(&sandbox).last().map(String::as_str), Some("50"));
}

#[test]
fn a_chunk_that_does_not_compile_is_named() {
    // Found before weval runs (any readable file names the tool).
    let error = engine()
        .specialised(
            Path::new("/bin/false"),
            &[("broken.lua".to_owned(), b"x = = 1".to_vec())],
        )
        .unwrap_err();
    let SpecialiseError::Chunk { message } = &error else {
        panic!("expected a chunk error, got {error:?}");
    };
    assert!(message.starts_with("broken.lua: "), "{message}");
    assert!(message.contains("unexpected symbol"), "{message}");
}

#[test]
fn too_much_source_is_refused_before_any_work() {
    let big = vec![b' '; MAX_SPECIALISED_SOURCE + 1];
    let error = engine()
        .specialised(
            Path::new("/nonexistent/weval"),
            &[("big.lua".to_owned(), big)],
        )
        .unwrap_err();
    assert!(
        matches!(error, SpecialiseError::TooLarge { bytes, max } if bytes == max + 1),
        "{error:?}"
    );
}

#[test]
fn a_missing_or_failing_weval_is_reported() {
    let error = engine()
        .specialised(Path::new("/nonexistent/weval"), &chunks(MOD))
        .unwrap_err();
    let SpecialiseError::Weval { program, message } = &error else {
        panic!("expected a weval error, got {error:?}");
    };
    assert_eq!(program, Path::new("/nonexistent/weval"));
    assert!(message.contains("cannot read it"), "{message}");

    let error = engine()
        .specialised(Path::new("/bin/false"), &chunks(MOD))
        .unwrap_err();
    assert!(
        matches!(&error, SpecialiseError::Weval { message, .. } if message.contains("exit status: 1")),
        "{error:?}"
    );
}

/// The demo's inputs for `ticks` ticks.
fn demo_inputs(ticks: u64) -> moonbox::ReplayInputs {
    let registry = moonbox::demo::registry().unwrap();
    moonbox::ReplayInputs::demo(&registry, 3, ticks, 0.05).unwrap()
}

/// Runs `inputs` on `engine`: every tick's record.
fn run_demo(engine: &ScriptEngine, inputs: &moonbox::ReplayInputs) -> Vec<moonbox::TickRecord> {
    let registry = std::sync::Arc::new(moonbox::demo::registry().unwrap());
    let mut sim = moonbox::Simulation::new(engine, registry, inputs).unwrap();
    let mut ticks = vec![sim.start().unwrap()];
    while !sim.is_done() {
        ticks.push(sim.step(true).unwrap());
    }
    assert!(
        sim.manager()
            .mods()
            .all(|m| m.is_specialised() == engine.specialises())
    );
    ticks
}

#[test]
fn a_specialising_engine_runs_every_mod_specialised_and_replays_say_so() {
    let Some(weval) = weval() else { return };
    let specialising = ScriptEngine::with_config(&moonbox::EngineConfig {
        weval: Some(weval),
        ..moonbox::EngineConfig::default()
    })
    .unwrap();
    let generic = demo_inputs(20);
    let mut specialised = generic.clone();
    specialised.specialised = true;

    let slow = run_demo(generic_engine(), &generic);
    let fast = run_demo(&specialising, &specialised);
    for (slow, fast) in slow.iter().zip(&fast) {
        assert_eq!(fast.world_hash, slow.world_hash, "tick {}", fast.tick);
        assert_eq!(fast.disabled, slow.disabled, "tick {}", fast.tick);
    }
    let total = |ticks: &[moonbox::TickRecord], name: &str| -> u64 {
        ticks.iter().filter_map(|t| t.fuel.get(name)).sum()
    };
    assert!(total(&fast, "movement") < total(&slow, "movement"));
    assert_eq!(
        run_demo(&specialising, &specialised),
        fast,
        "bit-identical again"
    );

    // A run replays only on an engine that specialises as it did.
    let registry = || std::sync::Arc::new(moonbox::demo::registry().unwrap());
    let refused =
        |engine: &ScriptEngine, inputs: &moonbox::ReplayInputs| match moonbox::Simulation::new(
            engine,
            registry(),
            inputs,
        ) {
            Err(moonbox::ReplayError::Inputs { message }) => message,
            Err(other) => panic!("expected an inputs error, got {other}"),
            Ok(_) => panic!("expected an inputs error"),
        };
    assert!(refused(generic_engine(), &specialised).contains("specialised its mods"));
    assert!(refused(&specialising, &generic).contains("did not specialise"));
}

#[test]
fn a_cached_specialisation_is_loaded_and_runs_the_same() {
    let Some(weval) = weval() else { return };
    let Some(uncached) = specialised() else {
        return;
    };
    let folder = tempfile::tempdir().unwrap();
    let base = ScriptEngine::with_config(&moonbox::EngineConfig {
        cache: Some(folder.path().join("cache")),
        ..moonbox::EngineConfig::default()
    })
    .unwrap();
    let first = base.specialised(&weval, &chunks(MOD)).unwrap();
    assert!(
        matches!(
            first.cache_outcome(),
            moonbox::CacheOutcome::Compiled {
                not_stored: None,
                ..
            }
        ),
        "{:?}",
        first.cache_outcome()
    );
    let second = &base.specialised(&weval, &chunks(MOD)).unwrap();
    assert!(
        matches!(second.cache_outcome(), moonbox::CacheOutcome::Loaded { .. }),
        "{:?}",
        second.cache_outcome()
    );
    let fuel = |engine: &ScriptEngine| fuel_of(engine, "", "print(fib(15), sum(500))");
    assert_eq!(fuel(second), fuel(uncached));
    assert_eq!(fuel(&first), fuel(uncached));
    // Snapshots belong to the specialised guest, whichever way it came.
    let mut sandbox = loaded(second, Limits::default());
    let saved = sandbox.snapshot().unwrap();
    uncached
        .restore_sandbox(&SandboxConfig::default(), &saved)
        .unwrap();
    assert!(
        engine()
            .restore_sandbox(&SandboxConfig::default(), &saved)
            .is_err()
    );
    // Another mod is another entry.
    let other = base
        .specialised(&weval, &chunks("function other() return 1 end"))
        .unwrap();
    assert!(matches!(
        other.cache_outcome(),
        moonbox::CacheOutcome::Compiled { .. }
    ));
    // The instrumented variant that makes the requests is kept there too,
    // once, and a new engine's first specialisation loads it.
    let instrumented = || {
        std::fs::read_dir(folder.path().join("cache"))
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                name.to_string_lossy().starts_with("instrumented-")
            })
            .count()
    };
    assert_eq!(instrumented(), 1);
    let again = ScriptEngine::with_config(&moonbox::EngineConfig {
        cache: Some(folder.path().join("cache")),
        ..moonbox::EngineConfig::default()
    })
    .unwrap();
    let third = "function third(n) return n * 3 end";
    let from_new = again.specialised(&weval, &chunks(third)).unwrap();
    assert_eq!(instrumented(), 1);
    let fuel = |engine: &ScriptEngine| fuel_of(engine, third, "print(third(4))");
    let fresh = engine().specialised(&weval, &chunks(third)).unwrap();
    assert_eq!(fuel(&from_new), fuel(&fresh));
}

#[test]
fn specialised_engines_share_their_base_engine_and_its_pool() {
    let Some(weval) = weval() else { return };
    let base = ScriptEngine::with_config(&moonbox::EngineConfig {
        pooling: Some(moonbox::PoolingConfig {
            max_sandboxes: 2,
            ..moonbox::PoolingConfig::default()
        }),
        ..moonbox::EngineConfig::default()
    })
    .unwrap();
    let fast = base.specialised(&weval, &chunks(MOD)).unwrap();
    assert!(fast.is_specialised() && !base.is_specialised());
    // One pool for both: two sandboxes fill it, whichever engine made them.
    let _one = loaded(&fast, Limits::default());
    let _two = base.sandbox(&SandboxConfig::default()).unwrap();
    let third = fast.sandbox(&SandboxConfig::default());
    assert!(
        matches!(third, Err(moonbox::ScriptError::Host { .. })),
        "a third sandbox must not fit the pool of two"
    );
}

#[test]
fn tail_calls_stay_in_specialised_code_without_nesting() {
    let Some(fast) = specialised() else { return };
    // 200,000 tail calls: far past the 150 nested calls specialised code
    // allows itself, so they must not nest.
    let call = "print(tail(200000))";
    let specialised = fuel_of(fast, "", call);
    let generic = fuel_of(engine(), "", call);
    // Each tail call leaves specialised code and enters the callee's (it
    // cost 7% more than the built-in guest when it went through the generic
    // interpreter's own frame).
    assert!(
        specialised < generic * 95 / 100,
        "tail calls: specialised {specialised} fuel, generic {generic}"
    );
    let mut sandbox = loaded(fast, Limits::default());
    sandbox.run("call.lua", call.as_bytes()).unwrap();
    assert_eq!(printed(&sandbox), ["200000"]);
}

#[test]
fn calls_of_every_kind_run_the_same_in_specialised_code() {
    let Some(fast) = specialised() else { return };
    // From specialised code: a string method (looked up without
    // luaV_finishget), a missing one, a `__call` metamethod, a C function
    // that resumes a coroutine whose specialised body yields, and a Lua
    // callee given fewer arguments than it has parameters; then the same
    // after the strings' `__index` became a function, which the direct
    // lookup leaves to luaV_finishget.
    let call = r#"
        print(kinds("ab"))
        getmetatable("").__index = function(_, k) return function() return k end end
        print(kinds("ab"))
    "#;
    let run = |engine: &ScriptEngine| {
        let mut sandbox = loaded(engine, Limits::default());
        sandbox.run("call.lua", call.as_bytes()).unwrap();
        printed(&sandbox)
    };
    let special = run(fast);
    assert_eq!(special, run(engine()));
    assert_eq!(
        special,
        [
            "AB\t8\t42\t2\t10\tnil\tfalse\tmod.lua:14: attempt to call a nil value (method 'nosuch')",
            "upper\t3\t42\t2\t10\tnil\ttrue\tnosuch",
        ]
    );
}

#[test]
fn yields_return_through_specialised_frames() {
    let Some(fast) = specialised() else { return };
    // Short tasks, each a new coroutine that yields from a helper (a
    // specialised frame inside the specialised body) and from its body:
    // every such yield returns through the specialised frames, as it does
    // through the generic interpreter's, instead of a long jump (which cost
    // twice the built-in guest's fuel). Then a yield across `pcall` and one
    // from an `__index` metamethod, which need the long jump in both.
    let call = "print(tasks(2000))";
    let run = |engine: &ScriptEngine| {
        let mut sandbox = loaded(engine, Limits::default());
        sandbox.run("call.lua", call.as_bytes()).unwrap();
        (printed(&sandbox), sandbox.last_fuel_used())
    };
    let (special, special_fuel) = run(fast);
    let (generic, generic_fuel) = run(engine());
    assert_eq!(special, generic);
    assert_eq!(special, ["8008000\t1\tkey\ttrue\t2\t3"]);
    assert!(
        special_fuel < generic_fuel * 110 / 100,
        "specialised {special_fuel} fuel, built-in {generic_fuel}"
    );
}

#[test]
fn the_lua_semantics_scripts_print_what_native_lua_prints_when_specialised() {
    let Some(weval) = weval() else { return };
    // Every script of tests/lua/semantics (tests/all/semantics.rs runs them
    // on the built-in guest), on one guest specialised for all of them.
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/lua/semantics");
    let mut scripts: Vec<(String, Vec<u8>)> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .filter(|(name, _)| name.ends_with(".lua"))
        .collect();
    scripts.sort();
    assert!(scripts.len() >= 10, "{} scripts", scripts.len());
    let fast = engine().specialised(&weval, &scripts).unwrap();
    for (name, source) in &scripts {
        let text = std::str::from_utf8(source).unwrap();
        let expected = run_native(name, text).unwrap();
        let mut sandbox = fast.sandbox(&SandboxConfig::default()).unwrap();
        sandbox
            .run(name, source)
            .unwrap_or_else(|e| panic!("{name} fails specialised: {e}"));
        assert_eq!(printed(&sandbox), expected, "{name}, specialised");
    }
}
