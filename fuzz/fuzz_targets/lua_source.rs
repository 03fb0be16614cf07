//! Arbitrary bytes as a Lua chunk in a sandbox with small limits. The host
//! must never panic or hang past the limits; whatever the chunk does, the
//! sandbox must end usable (Lua error) or cleanly discarded (trap), and a
//! usable one must still run code and stay under its heap limit.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use moonbox::{Limits, SandboxConfig, ScriptEngine, ScriptError};

/// Compiling the guest takes half a second: once per fuzzing process. Set
/// once and only read afterwards (the harness has no other place for it).
static ENGINE: OnceLock<ScriptEngine> = OnceLock::new();

const LIMITS: Limits = Limits {
    fuel: 5_000_000,
    memory: 1024 * 1024,
    hard_memory: None,
    max_depth: 50,
    wall_clock: std::time::Duration::from_secs(5),
};

// The engine compiles the guest (about 16 s instrumented): in libFuzzer's
// initialisation, not in the first input, whose time -timeout bounds.
fuzz_target!(init: {
    ENGINE.get_or_init(|| ScriptEngine::new().expect("engine"));
}, |source: &[u8]| {
    let engine = ENGINE.get_or_init(|| ScriptEngine::new().expect("engine"));
    let config = SandboxConfig {
        limits: LIMITS,
        ..SandboxConfig::default()
    };
    let mut sandbox = engine.sandbox(&config).expect("a sandbox can be created");
    let result = sandbox.run("fuzz.lua", source);
    if let Err(ScriptError::Host { message }) = &result {
        panic!("host error from a script: {message}");
    }
    assert!(sandbox.last_fuel_used() <= LIMITS.fuel);
    if sandbox.is_poisoned() {
        assert!(
            matches!(sandbox.run("after.lua", b"return 1"), Err(ScriptError::SandboxPoisoned { .. })),
            "a discarded sandbox ran code"
        );
        return;
    }
    // Whatever the chunk did (it may have replaced globals), the sandbox
    // still runs code, within its heap limit.
    sandbox
        .run("after.lua", b"local t = {} for i = 1, 10 do t[i] = i end")
        .expect("a sandbox left usable runs code");
    let heap = sandbox.lua_memory().expect("heap size");
    assert!(heap <= LIMITS.memory, "Lua heap {heap} over its limit");
});
