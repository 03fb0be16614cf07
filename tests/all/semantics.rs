//! Lua semantics that must keep working in the sandbox: each script in
//! tests/lua/semantics prints the same lines as native Lua 5.4 does.

use crate::support::{printed, run_native, sandbox};

fn same_as_native(name: &str, source: &str) {
    let expected =
        run_native(name, source).unwrap_or_else(|e| panic!("{name} fails natively: {e}"));
    assert!(!expected.is_empty(), "{name} prints nothing to compare");
    let mut sandbox = sandbox();
    sandbox
        .run(name, source.as_bytes())
        .unwrap_or_else(|e| panic!("{name} fails in the sandbox: {e}"));
    assert_eq!(
        printed(&sandbox),
        expected,
        "{name}: sandbox output differs from native Lua"
    );
}

macro_rules! semantics_tests {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            same_as_native(
                concat!(stringify!($name), ".lua"),
                include_str!(concat!("../lua/semantics/", stringify!($name), ".lua")),
            );
        }
    )*};
}

semantics_tests!(
    metatables,
    closures,
    coroutines,
    coroutine_yields,
    patterns,
    pattern_starts,
    for_iterators,
    fastcalls,
    numbers,
    goto,
    utf8,
    load_env,
    tables,
    errors_pcall,
);

#[test]
fn globals_persist_between_calls_and_handlers_can_be_called() {
    let mut sandbox = sandbox();
    sandbox
        .run(
            "setup.lua",
            b"count = 0 function on_tick() count = count + 1 print(count) end",
        )
        .unwrap();
    assert!(sandbox.call("on_tick").unwrap());
    assert!(sandbox.call("on_tick").unwrap());
    assert!(!sandbox.call("missing_handler").unwrap());
    sandbox.run("check.lua", b"assert(count == 2)").unwrap();
    assert_eq!(printed(&sandbox), ["1", "2"]);
}

#[test]
fn math_random_is_seeded_from_the_config() {
    let roll = |seed: u64| {
        let mut sandbox = crate::support::engine()
            .sandbox(&moonbox::SandboxConfig {
                seed,
                ..moonbox::SandboxConfig::default()
            })
            .unwrap();
        sandbox
            .run("roll.lua", b"local t = {} for i = 1, 8 do t[i] = math.random(1000) end print(table.concat(t, ','))")
            .unwrap();
        printed(&sandbox)
    };
    assert_eq!(roll(7), roll(7));
    assert_ne!(roll(7), roll(8));
}

#[test]
fn randomseed_without_arguments_reseeds_deterministically() {
    let mut a = sandbox();
    let mut b = sandbox();
    let script = b"math.randomseed() local x = math.random(1 << 40) math.randomseed() print(x, math.random(1 << 40))";
    a.run("seed.lua", script).unwrap();
    b.run("seed.lua", script).unwrap();
    let (pa, pb) = (printed(&a), printed(&b));
    assert_eq!(pa, pb);
    let values: Vec<&str> = pa[0].split('\t').collect();
    assert_ne!(values[0], values[1], "two reseeds must give two sequences");
}

#[test]
fn only_the_safe_standard_library_is_present() {
    let mut sandbox = sandbox();
    sandbox
        .run(
            "globals.lua",
            br#"
            local present = {}
            for _, name in ipairs({"os", "io", "debug", "package", "dofile", "loadfile",
                                   "getfenv", "setfenv", "loadstring", "module", "unpack"}) do
              if _G[name] ~= nil then present[#present + 1] = name end
            end
            if string.dump then present[#present + 1] = "string.dump" end
            print(#present == 0 and "none" or table.concat(present, ","))
            print(type(table), type(string), type(math), type(coroutine), type(utf8), type(load), type(pcall))
            "#,
        )
        .unwrap();
    assert_eq!(
        printed(&sandbox),
        [
            "none",
            "table\ttable\ttable\ttable\ttable\tfunction\tfunction"
        ]
    );
}

/// The guest does `math.sqrt`, `math.abs`, `math.floor` and `type` with one
/// argument, and `s:sub(i, j)`, without a call (fastcalls.lua checks the
/// results); with one more argument the same functions go through the
/// call. The fast path must stay in effect (it saves a sixth or more of
/// this loop's fuel).
#[test]
fn library_fast_paths_cost_less_fuel_than_the_call() {
    let fuel = |call: &str| {
        let mut sandbox = sandbox();
        let source = format!(
            "local s, n = 'abcdef', 0 for i = 1, 20000 do local x = {call} if x then n = n + 1 end end print(n)"
        );
        sandbox.run("fast.lua", source.as_bytes()).unwrap();
        assert_eq!(printed(&sandbox), ["20000"], "{call}");
        sandbox.last_fuel_used()
    };
    for (fast, called) in [
        ("math.sqrt(i)", "math.sqrt(i, nil)"),
        ("math.abs(-i)", "math.abs(-i, nil)"),
        ("math.floor(i / 3)", "math.floor(i / 3, nil)"),
        ("type(i)", "type(i, nil)"),
        ("s:sub(2, 3)", "s:sub(2, 3, nil)"),
    ] {
        let (fast_fuel, called_fuel) = (fuel(fast), fuel(called));
        assert!(
            fast_fuel * 10 < called_fuel * 9,
            "{fast}: {fast_fuel} fuel, through the call {called_fuel}"
        );
    }
}
