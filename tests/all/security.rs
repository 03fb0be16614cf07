//! Attack scripts run through the real sandbox. Each asserts the exact
//! outcome, then that the attacked sandbox is usable (or cleanly discarded
//! after a trap), that a bystander sandbox kept its state and an untouched
//! string library, and that a fresh sandbox still works.

use moonbox::LimitKind::{self, Fuel, Memory, Recursion, Stack};
use moonbox::{Limits, ScriptEngine, ScriptError};

use crate::support::{engine, printed, quick_limits, sandbox_on};

#[derive(Clone, Copy)]
enum Expect {
    Runtime,
    Syntax,
    Limit(LimitKind),
    Violation,
    /// The attack runs to completion and prints exactly these lines.
    Prints(&'static [&'static str]),
}

/// One attack script and how it must end.
struct Attack {
    name: &'static str,
    source: Vec<u8>,
    expect: Expect,
}

/// Runs `attack` on a sandbox of `engine` and checks its outcome, then the
/// victim, a bystander and a fresh sandbox of the same engine. Returns the
/// fuel the attack used.
fn attack(engine: &ScriptEngine, attack: &Attack) -> u64 {
    let Attack {
        name,
        source,
        expect,
    } = attack;
    let mut bystander = sandbox_on(engine, Limits::default());
    bystander.run("bystander.lua", b"canary = 'alive'").unwrap();

    let mut victim = sandbox_on(engine, quick_limits());
    let result = victim.run(name, source);
    let fuel = victim.last_fuel_used();
    match (expect, &result) {
        (Expect::Runtime, Err(ScriptError::Runtime { .. }))
        | (Expect::Syntax, Err(ScriptError::Syntax { .. }))
        | (Expect::Violation, Err(ScriptError::SecurityViolation { .. })) => {}
        (Expect::Limit(kind), Err(ScriptError::ResourceLimitExceeded { kind: got, .. }))
            if kind == got => {}
        (Expect::Prints(lines), Ok(())) => assert_eq!(printed(&victim), *lines, "{name}: output"),
        _ => panic!("{name}: unexpected outcome {result:?}"),
    }

    // The victim: usable after a Lua error, discarded after a trap.
    let after = victim.run("after.lua", b"print('still here')");
    if victim.is_poisoned() {
        assert!(
            matches!(after, Err(ScriptError::SandboxPoisoned { .. })),
            "{name}: {after:?}"
        );
    } else {
        after.unwrap_or_else(|e| panic!("{name}: victim unusable after the attack: {e}"));
    }
    // The bystander: same state, pristine standard library.
    bystander
        .run(
            "bystander-check.lua",
            b"assert(canary == 'alive') assert(('abc'):upper() == 'ABC') assert(string.rep('a', 3) == 'aaa')
              assert(os == nil and io == nil and debug == nil)",
        )
        .unwrap_or_else(|e| panic!("{name}: bystander disturbed: {e}"));
    // The host: still makes working sandboxes.
    let mut fresh = sandbox_on(engine, Limits::default());
    fresh.run("fresh.lua", b"print(1 + 1)").unwrap();
    assert_eq!(printed(&fresh), ["2"], "{name}: fresh sandbox");
    fuel
}

/// One test per attack on the built-in guest, and `$group()`: all of them,
/// for running them on other guests.
macro_rules! attacks {
    ($group:ident { $($name:ident: $expect:expr, $source:expr;)* }) => {
        $(
            #[test]
            fn $name() {
                attack(engine(), &Attack { name: stringify!($name), source: $source.into(), expect: $expect });
            }
        )*

        fn $group() -> Vec<Attack> {
            vec![$(Attack { name: stringify!($name), source: $source.into(), expect: $expect }),*]
        }
    };
}

fn nested(open: &str, middle: &str, close: &str, depth: usize) -> String {
    format!(
        "return {}{middle}{}",
        open.repeat(depth),
        close.repeat(depth)
    )
}

// Escapes: reaching the host, other code, or unsafe parts of Lua.
attacks! { escapes {
    string_dump_is_absent: Expect::Runtime, "return string.dump(function() end)";
    load_refuses_bytecode: Expect::Runtime, "assert(load('\\27LuaT\\0\\25\\147\\r\\n\\26\\n'))";
    load_with_binary_mode_loads_nothing: Expect::Prints(&["nil\ttrue"]),
        "local f, err = load('return 1', 'x', 'b') print(f, err ~= nil)";
    load_with_mixed_mode_still_refuses_bytecode: Expect::Prints(&["nil"]), "print((load('\\27Lua', 'x', 'bt')))";
    binary_script_is_refused_before_running: Expect::Violation, b"\x1bLua\x54\x00\x19\x93\r\n\x1a\n".to_vec();
    debug_sethook_is_absent: Expect::Runtime, "debug.sethook(function() end, 'l')";
    debug_getregistry_is_absent: Expect::Runtime, "local r = debug.getregistry() print(r)";
    package_loadlib_is_absent: Expect::Runtime, "package.loadlib('/lib/x86_64-linux-gnu/libc.so.6', 'system')";
    require_is_absent: Expect::Runtime, "local os = require('os') os.execute('id')";
    os_execute_is_absent: Expect::Runtime, "os.execute('id')";
    os_getenv_is_absent: Expect::Runtime, "print(os.getenv('HOME'))";
    io_open_is_absent: Expect::Runtime, "print(io.open('/etc/passwd'):read('a'))";
    io_popen_is_absent: Expect::Runtime, "io.popen('id')";
    dofile_is_absent: Expect::Runtime, "dofile('/etc/passwd')";
    loadfile_is_absent: Expect::Runtime, "loadfile('/etc/passwd')()";
    setfenv_is_absent: Expect::Runtime, "setfenv(1, {})";
    getfenv_is_absent: Expect::Runtime, "print(getfenv(0))";
    legacy_and_unsafe_functions_are_nil: Expect::Prints(&["nil\tnil\tnil\tnil\tnil\tnil"]),
        "print(loadstring, unpack, module, gcinfo, newproxy, rawget(_G, 'debug'))";
    // The collector's mode and tuning are the script's; its cap is not.
    collectgarbage_modes_and_tuning_are_accepted: Expect::Prints(&["incremental\tgenerational\ttrue\tfalse\ttrue"]),
        "local a = collectgarbage('generational', 20, 100) local b = collectgarbage('incremental', 1000, 400, 13) \
         collectgarbage('setpause', 100000) collectgarbage('setstepmul', 0) \
         local x = collectgarbage('step', 1e9) collectgarbage('stop') local r = collectgarbage('isrunning') \
         collectgarbage('restart') print(a, b, x ~= nil, r, collectgarbage('isrunning'))";
    collectgarbage_stopped_still_stops_at_the_cap: Expect::Limit(Memory),
        "collectgarbage('stop') local t = {} while true do t[#t + 1] = {} end";
    collectgarbage_generational_still_stops_at_the_cap: Expect::Limit(Memory),
        "collectgarbage('generational', 1, 1000) local t = {} while true do t[#t + 1] = {} end";
    collectgarbage_stopped_garbage_is_still_reclaimed_in_an_emergency: Expect::Prints(&["done"]),
        "collectgarbage('stop') local unit = string.rep('x', 1000) \
         for i = 1, 30 do local s = string.rep(unit, 200 + i) end print('done')";
    collectgarbage_unknown_options_are_errors: Expect::Runtime, "collectgarbage('explode')";
    string_metatable_tampering_finds_nothing: Expect::Prints(&["nil"]),
        "getmetatable('').__index = function(s, k) return os end print(('abc').execute)";
    string_metatable_tampering_stays_in_its_sandbox: Expect::Runtime,
        "getmetatable('').__index = {} return ('x'):upper()";
    env_tricks_see_no_hidden_libraries: Expect::Prints(&["nil\tnil\tnil\tnil"]),
        "local G = _G local _ENV = {print = print} print(G.os, G.io, G.debug, G.package)";
    no_dangerous_function_anywhere_in_reach: Expect::Prints(&["clean"]), r#"
        local bad = {execute = 1, popen = 1, open = 1, getenv = 1, loadlib = 1, sethook = 1, getregistry = 1,
                     dump = 1, dofile = 1, loadfile = 1, exit = 1, rename = 1, tmpname = 1}
        local found, seen = {}, {}
        local function walk(t, path, depth)
          if seen[t] or depth > 3 then return end
          seen[t] = true
          for k, v in pairs(t) do
            if bad[k] then found[#found + 1] = path .. k end
            if type(v) == "table" then walk(v, path .. tostring(k) .. ".", depth + 1) end
          end
          local mt = getmetatable(t)
          if type(mt) == "table" then walk(mt, path .. "<mt>.", depth + 1) end
        end
        walk(_G, "", 0)
        walk(getmetatable(""), "<string mt>.", 0)
        print(#found == 0 and "clean" or table.concat(found, ","))"#;
    error_object_tostring_cannot_reach_os: Expect::Runtime,
        "error(setmetatable({}, {__tostring = function() return os.getenv('HOME') end}))";
    error_object_tostring_loop_runs_out_of_fuel: Expect::Limit(Fuel),
        "error(setmetatable({}, {__tostring = function() while true do end end}))";
    error_object_huge_tostring_is_truncated: Expect::Runtime,
        "error(setmetatable({}, {__tostring = function() return string.rep('y', 1e6) end}))";
    coroutines_see_the_same_safe_globals: Expect::Prints(&["nil\tnil\tnil"]),
        "print(coroutine.wrap(function() return os, io, debug end)())";
    require_finds_no_library_or_file: Expect::Prints(&[
        "false\tmodule 'os' not found (a mod may require only its own files)",
        "false\tmodule '/etc/passwd' not found (a mod may require only its own files)",
    ]), "print(pcall(require, 'os')) print(pcall(require, '/etc/passwd'))";
    nul_bytes_are_plain_data: Expect::Prints(&["3\t1"]), "print(('a\\0b'):len(), select(2, ('a\\0b'):gsub('%z', '')))";
}}

// Denial of service: exhausting CPU, memory, stacks or the host.
attacks! { denial_of_service {
    infinite_loop: Expect::Limit(Fuel), "while true do end";
    infinite_loop_inside_pcall: Expect::Limit(Fuel), "while true do pcall(function() while true do end end) end";
    error_loop_inside_pcall: Expect::Limit(Fuel), "while true do pcall(error, 'x') end";
    recursion_retried_forever_in_pcall: Expect::Limit(Fuel),
        "local function f() return f() + 1 end while true do pcall(f) end";
    string_rep_bomb: Expect::Limit(Memory), "local s = string.rep('x', 100 * 1024 * 1024) print(#s)";
    string_rep_separator_bomb: Expect::Limit(Memory), "local s = string.rep('x', 1e8, ',') print(#s)";
    string_doubling: Expect::Limit(Memory), "local s = 'x' while true do s = s .. s end";
    table_concat_bomb: Expect::Limit(Memory),
        "local t = {} for i = 1, 1e7 do t[i] = 'xxxxxxxxxx' end print(#table.concat(t))";
    gsub_amplification: Expect::Limit(Memory), "local s = ('x'):rep(1e6):gsub('.', ('y'):rep(100)) print(#s)";
    unbounded_table_growth: Expect::Limit(Memory), "local t = {} for i = 1, math.huge do t[i] = i end";
    table_unpack_bomb: Expect::Runtime, "return table.unpack({}, 1, 1e8)";
    huge_varargs_from_unpack: Expect::Runtime,
        "local function f(...) return select('#', ...) end return f(table.unpack({}, 1, 1e6))";
    huge_varargs_from_string_byte: Expect::Limit(Stack), "return string.byte(string.rep('x', 1e6), 1, -1)";
    pattern_backtracking_blowup: Expect::Limit(Fuel), "print(('a'):rep(40):find(('a*'):rep(40) .. 'b'))";
    pattern_too_complex: Expect::Runtime, "print(string.find(string.rep('a', 1e5), string.rep('a?', 1e5)))";
    string_format_huge_width: Expect::Runtime, "print(string.format('%099999d', 1))";
    deep_recursion: Expect::Limit(Recursion), "local function f(n) return f(n + 1) + 1 end f(1)";
    mutual_recursion: Expect::Limit(Recursion),
        "local a, b function a(n) return b(n) + 1 end function b(n) return a(n) + 1 end a(1)";
    index_metamethod_recursion: Expect::Limit(Recursion),
        "local t = setmetatable({}, {__index = function(t, k) return t[k] end}) return t.x";
    tostring_metamethod_recursion: Expect::Limit(Recursion),
        "local t = setmetatable({}, {}) getmetatable(t).__tostring = function(x) return tostring(x) end print(t)";
    concat_metamethod_recursion: Expect::Limit(Recursion),
        "local mt = {} mt.__concat = function(a, b) return a .. b end local t = setmetatable({}, mt) local _ = t .. t";
    index_chain_loop: Expect::Runtime, "local t = setmetatable({}, {}) getmetatable(t).__index = t print(t.x)";
    error_handler_recursion_ends: Expect::Prints(&["false\terror in error handling"]),
        "local function h(m) return h(m) .. '' end print(xpcall(error, h))";
    deeply_nested_parentheses: Expect::Limit(Stack), nested("(", "1", ")", 100_000);
    deeply_nested_tables: Expect::Limit(Stack), nested("{", "", "}", 100_000);
    deeply_nested_functions: Expect::Limit(Stack), nested("function() return ", "1", " end", 1000);
    deeply_nested_blocks: Expect::Limit(Stack), format!("{}{}", "do ".repeat(100_000), "end ".repeat(100_000));
    too_many_locals: Expect::Syntax,
        (0..300).map(|i| format!("local a{i} = 1\n")).collect::<String>();
    coroutine_bomb: Expect::Limit(Memory),
        "local t = {} while true do t[#t + 1] = coroutine.create(function() end) end";
    coroutine_resume_chain: Expect::Limit(Stack),
        "local function nest(n) return coroutine.wrap(function() return nest(n + 1)() end) end nest(1)()";
    yield_across_the_top: Expect::Runtime, "coroutine.yield()";
    gc_finalizer_loop: Expect::Limit(Fuel), "setmetatable({}, {__gc = function() while true do end end}) collectgarbage()";
    gc_resurrection_loop: Expect::Limit(Fuel),
        "local mt = {} mt.__gc = function() setmetatable({}, mt) end setmetatable({}, mt) for i = 1, 1e9 do local _ = {} end";
    endless_load_reader: Expect::Limit(Fuel), "print(load(function() return 'x = 1 ' end))";
    print_spam: Expect::Limit(Fuel), "for i = 1, 1e6 do print(string.rep('x', 1e4)) end";
    memory_error_is_recoverable: Expect::Prints(&["false\tnot enough memory", "recovered"]),
        "print(pcall(string.rep, 'x', 1e8)) print('recovered')";
}}

/// The attacks that compile, on a guest that weval specialised for them
/// (`ScriptEngine::specialised`): the specialised interpreter must end each
/// one as the built-in guest does and leave the host as healthy.
#[test]
fn every_attack_that_compiles_ends_the_same_on_a_guest_specialised_for_it() {
    let Some(weval) = crate::specialise::weval() else {
        return;
    };
    let (attacks, left_out): (Vec<Attack>, Vec<Attack>) = escapes()
        .into_iter()
        .chain(denial_of_service())
        .partition(compiles);
    let left_out: Vec<&str> = left_out.iter().map(|a| a.name).collect();
    assert_eq!(
        left_out,
        [
            "binary_script_is_refused_before_running",
            "deeply_nested_parentheses",
            "deeply_nested_tables",
            "deeply_nested_functions",
            "deeply_nested_blocks",
            "too_many_locals",
        ]
    );
    let chunks: Vec<(String, Vec<u8>)> = attacks
        .iter()
        .map(|a| (format!("{}.lua", a.name), a.source.clone()))
        .collect();
    let specialised = engine().specialised(&weval, &chunks).unwrap();
    let (mut specialised_fuel, mut built_in_fuel) = (0, 0);
    for a in &attacks {
        let fuel = attack(&specialised, a);
        if matches!(a.expect, Expect::Prints(_)) {
            specialised_fuel += fuel;
            built_in_fuel += attack(engine(), a);
        }
    }
    // The attacks that run to their end ran specialised: less fuel.
    assert!(
        specialised_fuel < built_in_fuel,
        "specialised {specialised_fuel} against built-in {built_in_fuel}"
    );
}

/// Whether `attack` compiles (as text: a chunk that does not compile has
/// nothing to specialise, and `specialised` refuses it).
fn compiles(attack: &Attack) -> bool {
    mlua::Lua::new()
        .load(&attack.source[..])
        .set_mode(mlua::chunk::ChunkMode::Text)
        .into_function()
        .is_ok()
}
