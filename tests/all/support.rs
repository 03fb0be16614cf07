//! Shared helpers: one engine per test binary, sandboxes, outputs.

use std::sync::OnceLock;

use moonbox::{Channel, Limits, Sandbox, SandboxConfig, ScriptEngine};

/// Compiling the guest takes a noticeable moment, so the tests share one
/// engine. It is immutable once built (test-only; the library has no globals).
///
/// With `MOONBOX_TEST_SPECIALISE=WEVAL` (`scripts/test-specialised`) it
/// specialises every mod it loads with that weval (`EngineConfig::weval`),
/// so that the tests run their mods specialised.
pub fn engine() -> &'static ScriptEngine {
    static ENGINE: OnceLock<ScriptEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let weval = std::env::var_os("MOONBOX_TEST_SPECIALISE").map(std::path::PathBuf::from);
        ScriptEngine::with_config(&moonbox::EngineConfig {
            weval,
            ..moonbox::EngineConfig::default()
        })
        .expect("the engine builds")
    })
}

/// An engine that never specialises: [`engine`], unless that specialises.
pub fn generic_engine() -> &'static ScriptEngine {
    static ENGINE: OnceLock<ScriptEngine> = OnceLock::new();
    if !engine().specialises() {
        return engine();
    }
    ENGINE.get_or_init(|| ScriptEngine::new().expect("the engine builds"))
}

/// A front door over `registry` that grants everything, on the shared engine.
pub fn host(registry: &std::sync::Arc<moonbox::ComponentRegistry>) -> moonbox::Moonbox {
    moonbox::Moonbox::builder(std::sync::Arc::clone(registry))
        .policy(moonbox::Policy::allow_all(registry))
        .engine(engine().clone())
        .build()
        .expect("the host builds")
}

/// A sandbox with default limits.
pub fn sandbox() -> Sandbox {
    sandbox_with(Limits::default())
}

/// A sandbox with `limits`.
pub fn sandbox_with(limits: Limits) -> Sandbox {
    sandbox_on(engine(), limits)
}

/// A sandbox of `engine` with `limits`.
pub fn sandbox_on(engine: &ScriptEngine, limits: Limits) -> Sandbox {
    engine
        .sandbox(&SandboxConfig {
            limits,
            ..SandboxConfig::default()
        })
        .expect("a sandbox can be created")
}

/// Smaller budgets so that runaway scripts end quickly: a tenth of the
/// default fuel and a 4 MiB Lua heap.
pub fn quick_limits() -> Limits {
    Limits {
        fuel: 100_000_000,
        memory: 4 * 1024 * 1024,
        ..Limits::default()
    }
}

/// The `print` lines of a sandbox, oldest first.
pub fn printed(sandbox: &Sandbox) -> Vec<String> {
    sandbox
        .console()
        .lines()
        .filter(|line| line.channel == Channel::Out)
        .map(|line| line.text.clone())
        .collect()
}

/// Runs `source` natively (mlua, same Lua version, same libraries) and
/// returns what it printed: the reference for the sandbox's behaviour.
pub fn run_native(name: &str, source: &str) -> mlua::Result<Vec<String>> {
    use std::sync::{Arc, Mutex};
    let lua = crate::native_lua::safe_native_lua()?;
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    let tostring: mlua::Function = lua.globals().get("tostring")?;
    let print = lua.create_function(move |_, args: mlua::Variadic<mlua::Value>| {
        let mut parts = Vec::new();
        for arg in args {
            let text = tostring.call::<mlua::LuaString>(arg)?;
            // The sandbox console is UTF-8 with invalid bytes replaced.
            parts.push(String::from_utf8_lossy(&text.as_bytes()).into_owned());
        }
        sink.lock().expect("not poisoned").push(parts.join("\t"));
        Ok(())
    })?;
    lua.globals().set("print", print)?;
    lua.load(source).set_name(format!("={name}")).exec()?;
    let printed = lines.lock().expect("not poisoned").clone();
    Ok(printed)
}

/// The `moonbox` binary run with `args` in folder `dir`.
pub fn moonbox_in(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_moonbox"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the moonbox binary runs")
}

/// A mod with manifest `manifest` and `main.lua` = `lua`, built in memory.
pub fn inline_mod(manifest: &str, lua: &str) -> moonbox::ModSource {
    moonbox::ModSource::from_parts(
        "inline",
        manifest,
        [("main.lua".to_string(), lua.as_bytes().to_vec())],
    )
    .expect("the mod's manifest is valid")
}
