//! The Lua benchmark suite (`benches/lua/`): each program, its output run
//! natively, and its output run in a sandbox. Shared by the `lua_suite`
//! benchmark and the test that checks both agree.

use moonbox::{Limits, Sandbox, SandboxConfig, ScriptEngine, ScriptError};

/// One program of the suite.
pub struct Program {
    pub name: &'static str,
    pub source: &'static str,
}

macro_rules! programs {
    ($($name:literal),* $(,)?) => {
        &[$(Program { name: $name, source: include_str!(concat!("../../benches/lua/", $name, ".lua")) }),*]
    };
}

/// Every program, in the order the report lists them.
pub const PROGRAMS: &[Program] = programs![
    "fib",
    "binary_trees",
    "nbody",
    "spectral_norm",
    "fannkuch",
    "strings",
    "tables",
    "coroutines",
    "json",
];

/// Fuel for one run: the largest program needs about 1.5e10 at full size,
/// more than one default call allows. Every other limit is the default.
pub const SUITE_FUEL: u64 = 100_000_000_000;

/// A sandbox with default limits but [`SUITE_FUEL`], with `SMALL` set for
/// the reduced sizes the tests use.
pub fn suite_sandbox(engine: &ScriptEngine, small: bool) -> Result<Sandbox, ScriptError> {
    let config = SandboxConfig {
        limits: Limits {
            fuel: SUITE_FUEL,
            ..Limits::default()
        },
        ..SandboxConfig::default()
    };
    let mut sandbox = engine.sandbox(&config)?;
    sandbox.run("setup", format!("SMALL = {small}").as_bytes())?;
    Ok(sandbox)
}

/// Runs `program` in `sandbox` and returns what it printed.
pub fn run_sandboxed(sandbox: &mut Sandbox, program: &Program) -> Result<String, ScriptError> {
    sandbox.console_mut().drain();
    sandbox.run(program.name, program.source.as_bytes())?;
    let lines: Vec<String> = sandbox
        .console_mut()
        .drain()
        .into_iter()
        .map(|l| l.text)
        .collect();
    Ok(lines.join("\n"))
}

/// Native Lua (same libraries as the sandbox) whose `print` appends to a
/// buffer that [`run_native`] returns.
pub fn suite_native(small: bool) -> mlua::Result<mlua::Lua> {
    let lua = super::native_lua::safe_native_lua()?;
    lua.globals().set("SMALL", small)?;
    lua.load(
        "local out = {}
         print = function(...)
           local parts = table.pack(...)
           for i = 1, parts.n do parts[i] = tostring(parts[i]) end
           out[#out + 1] = table.concat(parts, '\\t', 1, parts.n)
         end
         function take_output() local s = table.concat(out, '\\n'); out = {}; return s end",
    )
    .exec()?;
    Ok(lua)
}

/// Runs `program` natively and returns what it printed.
pub fn run_native(lua: &mlua::Lua, program: &Program) -> mlua::Result<String> {
    lua.load(program.source).set_name(program.name).exec()?;
    lua.globals().get::<mlua::Function>("take_output")?.call(())
}
