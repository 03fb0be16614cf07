//! Fuel, memory, depth, stack and wall-clock limits, and what a trap does.

use std::time::Duration;

use moonbox::{EngineConfig, LimitKind, Limits, SandboxConfig, ScriptEngine, ScriptError};

use crate::support::{printed, quick_limits, sandbox, sandbox_with};

#[test]
fn infinite_loop_runs_out_of_fuel_and_pcall_cannot_catch_it() {
    let mut sandbox = sandbox_with(quick_limits());
    let error = sandbox
        .run(
            "spin.lua",
            b"while true do pcall(function() while true do end end) end",
        )
        .unwrap_err();
    assert_eq!(error.limit_kind(), Some(LimitKind::Fuel));
    assert_eq!(sandbox.last_fuel_used(), quick_limits().fuel);
}

#[test]
fn each_call_gets_a_full_fuel_budget() {
    let mut sandbox = sandbox_with(Limits {
        fuel: 20_000_000,
        ..Limits::default()
    });
    sandbox
        .run(
            "def.lua",
            b"function work() local x = 0 for i = 1, 20000 do x = x + i end return x end",
        )
        .unwrap();
    for _ in 0..5 {
        assert!(sandbox.call("work").unwrap());
    }
    assert!(sandbox.fuel_used() > 5 * sandbox.last_fuel_used() / 2);
}

#[test]
fn lua_memory_limit_is_a_catchable_error_and_the_sandbox_survives() {
    let mut sandbox = sandbox();
    sandbox
        .run(
            "mem.lua",
            b"local ok, err = pcall(string.rep, 'x', 64 * 1024 * 1024) print(ok, err) big = nil collectgarbage()",
        )
        .unwrap();
    assert_eq!(printed(&sandbox), ["false\tnot enough memory"]);
    sandbox
        .run("after.lua", b"local t = {} for i = 1, 1000 do t[i] = i end")
        .unwrap();
}

#[test]
fn uncaught_lua_memory_error_reports_the_memory_limit() {
    let mut sandbox = sandbox();
    let error = sandbox
        .run("grow.lua", b"local s = 'x' while true do s = s .. s end")
        .unwrap_err();
    assert_eq!(error.limit_kind(), Some(LimitKind::Memory));
    assert!(!sandbox.is_poisoned(), "a Lua-level limit is not a trap");
    assert!(sandbox.lua_memory().unwrap() <= Limits::default().memory);
}

#[test]
fn hard_memory_cap_traps_and_discards_the_sandbox() {
    // The Lua limit is set above the hard cap so that the cap is met first.
    let mut sandbox = sandbox_with(Limits {
        memory: 256 * 1024 * 1024,
        hard_memory: Some(8 * 1024 * 1024),
        ..Limits::default()
    });
    let error = sandbox
        .run("grow.lua", b"local s = 'x' while true do s = s .. s end")
        .unwrap_err();
    assert_eq!(error.limit_kind(), Some(LimitKind::Memory));
    assert_eq!(sandbox.poisoned_by(), Some(LimitKind::Memory));
    assert!(sandbox.memory_peak() <= 8 * 1024 * 1024);
}

#[test]
fn recursion_limit_counts_call_levels_exactly() {
    let script = |n: u32| {
        format!(
            "local function f(n) if n == 0 then return 0 end return 1 + f(n - 1) end print(f({n}))"
        )
    };
    let mut sandbox = sandbox();
    // The main chunk is one level and f(n) adds n + 1: f(98) needs exactly 100.
    sandbox.run("ok.lua", script(98).as_bytes()).unwrap();
    assert_eq!(printed(&sandbox), ["98"]);
    let error = sandbox.run("deep.lua", script(99).as_bytes()).unwrap_err();
    assert_eq!(error.limit_kind(), Some(LimitKind::Recursion));
    assert!(error.to_string().contains("100 call levels"), "{error}");
}

#[test]
fn recursion_limit_is_catchable_and_configurable() {
    let mut sandbox = sandbox_with(Limits {
        max_depth: 1000,
        ..Limits::default()
    });
    sandbox
        .run(
            "deep.lua",
            b"local function f(n) if n == 0 then return 0 end return 1 + f(n - 1) end
              print(f(900)) print(pcall(f, 5000))",
        )
        .unwrap();
    let lines = printed(&sandbox);
    assert_eq!(lines[0], "900");
    assert!(lines[1].starts_with("false\t") && lines[1].contains("recursion depth limit"));
}

#[test]
fn recursion_limit_applies_inside_coroutines() {
    let mut sandbox = sandbox();
    let error = sandbox
        .run(
            "co.lua",
            b"local function f(n) return 1 + f(n + 1) end
              local co = coroutine.wrap(function() return f(1) end) co()",
        )
        .unwrap_err();
    assert_eq!(error.limit_kind(), Some(LimitKind::Recursion));
}

#[test]
fn tail_calls_do_not_count_as_levels() {
    let mut sandbox = sandbox();
    sandbox
        .run("tail.lua", b"local function loop(n) if n == 0 then return 'done' end return loop(n - 1) end print(loop(100000))")
        .unwrap();
    assert_eq!(printed(&sandbox), ["done"]);
}

#[test]
fn deeply_nested_source_is_a_stack_limit() {
    let mut sandbox = sandbox();
    let source = format!("return {}1{}", "(".repeat(100_000), ")".repeat(100_000));
    let error = sandbox.run("nested.lua", source.as_bytes()).unwrap_err();
    assert_eq!(error.limit_kind(), Some(LimitKind::Stack));
}

#[test]
fn wasm_stack_exhaustion_traps_as_a_stack_limit() -> anyhow::Result<()> {
    // A tiny wasm stack, so that C recursion in the parser runs out of it
    // before Lua's own C-stack check (200 levels) fires.
    let engine = ScriptEngine::with_config(&EngineConfig {
        max_wasm_stack: 48 * 1024,
        ..EngineConfig::default()
    })?;
    let mut sandbox = engine.sandbox(&SandboxConfig::default())?;
    let source = format!("return {}1{}", "(".repeat(190), ")".repeat(190));
    let error = sandbox.run("nested.lua", source.as_bytes()).unwrap_err();
    assert_eq!(error.limit_kind(), Some(LimitKind::Stack), "{error}");
    assert_eq!(sandbox.poisoned_by(), Some(LimitKind::Stack));
    Ok(())
}

#[test]
fn wall_clock_backstop_stops_a_script_with_fuel_to_spare() -> Result<(), ScriptError> {
    let engine = ScriptEngine::with_config(&EngineConfig {
        wall_clock_backstop: true,
        ..EngineConfig::default()
    })?;
    let limits = Limits {
        fuel: u64::MAX / 2,
        wall_clock: Duration::from_millis(50),
        ..Limits::default()
    };
    let config = SandboxConfig {
        limits,
        ..SandboxConfig::default()
    };
    let mut sandbox = engine.sandbox(&config)?;
    let error = sandbox.run("spin.lua", b"while true do end").unwrap_err();
    assert_eq!(error.limit_kind(), Some(LimitKind::WallClock));
    Ok(())
}

#[test]
fn without_the_backstop_fuel_alone_ends_a_runaway_script() -> Result<(), ScriptError> {
    // The default engine has no epoch checks: fuel is the bound.
    let mut sandbox = sandbox_with(Limits {
        fuel: 50_000_000,
        wall_clock: Duration::from_nanos(1),
        ..Limits::default()
    });
    let error = sandbox.run("spin.lua", b"while true do end").unwrap_err();
    assert_eq!(error.limit_kind(), Some(LimitKind::Fuel), "{error}");
    Ok(())
}

#[test]
fn a_trap_poisons_only_its_own_sandbox_and_skips_finalizers() {
    let mut victim = sandbox_with(quick_limits());
    let mut bystander = sandbox();
    bystander.run("b.lua", b"state = 41").unwrap();
    victim
        .run(
            "gc.lua",
            b"keep = setmetatable({}, {__gc = function() print('finalized') end})",
        )
        .unwrap();
    let error = victim.run("spin.lua", b"while true do end").unwrap_err();
    assert_eq!(error.limit_kind(), Some(LimitKind::Fuel));
    assert_eq!(
        victim.run("again.lua", b"print('hi')"),
        Err(ScriptError::SandboxPoisoned {
            cause: Some(LimitKind::Fuel)
        })
    );
    assert_eq!(
        victim.call("anything"),
        Err(ScriptError::SandboxPoisoned {
            cause: Some(LimitKind::Fuel)
        })
    );
    assert!(
        printed(&victim).is_empty(),
        "no finalizer may run on discard"
    );
    bystander
        .run("b2.lua", b"state = state + 1 print(state)")
        .unwrap();
    assert_eq!(printed(&bystander), ["42"]);
}

#[test]
fn invalid_limits_are_rejected_with_a_clear_error() {
    let engine = crate::support::engine();
    for limits in [
        Limits {
            fuel: 0,
            ..Limits::default()
        },
        Limits {
            memory: 1024,
            ..Limits::default()
        },
        Limits {
            hard_memory: Some(1024),
            ..Limits::default()
        },
        Limits {
            wall_clock: Duration::ZERO,
            ..Limits::default()
        },
    ] {
        let result = engine.sandbox(&SandboxConfig {
            limits: limits.clone(),
            ..SandboxConfig::default()
        });
        assert!(
            matches!(result, Err(ScriptError::InvalidConfig { .. })),
            "{limits:?} was accepted"
        );
    }
}

#[test]
fn default_limits_match_the_documented_values() {
    let limits = Limits::default();
    assert_eq!(limits.memory, 16 * 1024 * 1024);
    assert_eq!(limits.max_depth, 100);
    assert_eq!(limits.fuel, moonbox::DEFAULT_FUEL);
    assert!(
        limits.hard_memory_cap() >= 2 * limits.memory,
        "the Lua error must come first"
    );
    let mut sandbox = sandbox();
    sandbox.run("ok.lua", b"print('fine')").unwrap();
}

#[test]
fn a_limit_is_reported_only_if_it_was_hit_never_from_message_text() {
    // Before: the guest classified by message, so these forged errors were
    // reported as limits (a memory limit, exit code 3 in the CLI).
    for forged in [
        "error('not enough memory', 0)",
        "error('stack overflow', 0)",
        "error('C stack overflow', 0)",
        "error('recursion depth limit exceeded (200 call levels)', 0)",
    ] {
        let mut sandbox = crate::support::sandbox();
        let error = sandbox.run("forge.lua", forged.as_bytes()).unwrap_err();
        assert!(
            matches!(error, ScriptError::Runtime { .. }),
            "{forged}: {error:?}"
        );
    }
    // A limit hit earlier in the call, caught, then re-raised stays a limit.
    let mut sandbox = crate::support::sandbox();
    let error = sandbox
        .run(
            "rethrow.lua",
            b"local ok, e = pcall(string.rep, 'x', 64 * 1024 * 1024) error(e, 0)",
        )
        .unwrap_err();
    assert_eq!(error.limit_kind(), Some(LimitKind::Memory), "{error:?}");
    // But a limit caught in one call does not make the next call's forgery real.
    let mut sandbox = crate::support::sandbox();
    sandbox
        .run(
            "caught.lua",
            b"print(pcall(string.rep, 'x', 64 * 1024 * 1024))",
        )
        .unwrap();
    let error = sandbox
        .run("forge.lua", b"error('not enough memory', 0)")
        .unwrap_err();
    assert!(matches!(error, ScriptError::Runtime { .. }), "{error:?}");
}

#[test]
fn every_lua_error_thrown_pays_for_its_unwinding() {
    // Throwing unwinds the wasm stack in the runtime, outside the fuel
    // counter: before, a pcall/error loop ran 15 times slower per unit of
    // fuel than plain Lua.
    let mut sandbox = sandbox();
    sandbox
        .run("quiet.lua", b"for i = 1, 1000 do pcall(tostring, i) end")
        .unwrap();
    let quiet = sandbox.last_fuel_used();
    sandbox
        .run("throwing.lua", b"for i = 1, 1000 do pcall(error, i) end")
        .unwrap();
    let throwing = sandbox.last_fuel_used();
    assert!(
        throwing - quiet >= 1000 * moonbox::HOST_FUEL_PRICES.unwind,
        "{quiet} vs {throwing}"
    );
}

/// `fuel_left()` tells a script what its call has left: the budget less
/// what it used so far, host work included, the same on every run.
#[test]
fn fuel_left_is_the_budget_less_what_the_call_used() {
    let script = b"local a = fuel_left() local t = {} for i = 1, 2000 do t[i] = tostring(i) end \
                   local b = fuel_left() print(a > b, math.type(b)) last = b";
    let mut sandbox = sandbox_with(quick_limits());
    sandbox.run("pace.lua", script).unwrap();
    assert_eq!(printed(&sandbox), ["true\tinteger"]);
    let used = sandbox.last_fuel_used();
    let mut again = sandbox_with(quick_limits());
    again.run("pace.lua", script).unwrap();
    assert_eq!(again.last_fuel_used(), used, "deterministic");
    // What was left at `fuel_left()` is what the rest of the call did not
    // use: here the `print` after it (a console line: a host call, its
    // bytes and the string work), under 20,000 units.
    let probe = b"print(fuel_left())";
    let mut fresh = sandbox_with(quick_limits());
    fresh.run("probe.lua", probe).unwrap();
    let left: u64 = printed(&fresh)[0].parse().unwrap();
    let spent = quick_limits().fuel - left;
    assert!(
        spent <= fresh.last_fuel_used(),
        "{spent} > {}",
        fresh.last_fuel_used()
    );
    assert!(
        fresh.last_fuel_used() - spent < 20_000,
        "{spent} vs {}",
        fresh.last_fuel_used()
    );
}
