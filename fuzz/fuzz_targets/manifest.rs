//! Arbitrary text as a mod's `mod.toml`: parsed, validated and, if
//! accepted, loaded into a `ScriptManager`. Never a panic; a rejected
//! manifest is an error that names the mod's origin.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use moonbox::{LoadError, ModSource, Policy};
use moonbox::{ScriptEngine, ScriptManager, demo};

/// Compiled once per fuzzing process, then only read.
static ENGINE: OnceLock<ScriptEngine> = OnceLock::new();

// The engine compiles the guest (about 16 s instrumented): in libFuzzer's
// initialisation, not in the first input, whose time -timeout bounds.
fuzz_target!(init: {
    ENGINE.get_or_init(|| ScriptEngine::new().expect("engine"));
}, |data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let files = [
        ("main.lua".to_string(), b"function on_tick(dt) end".to_vec()),
        ("lib/util.lua".to_string(), b"return {}".to_vec()),
    ];
    let source = match ModSource::from_parts("fuzz", text, files) {
        Ok(source) => source,
        Err(LoadError::Manifest { origin, .. }) => {
            assert_eq!(origin, "fuzz");
            return;
        }
        Err(_) => return,
    };
    let engine = ENGINE.get_or_init(|| ScriptEngine::new().expect("engine"));
    let registry = Arc::new(demo::registry().expect("registry"));
    let policy = Policy::allow_all(&registry);
    let mut manager = ScriptManager::new(engine.clone(), registry, policy);
    if let Ok(name) = manager.load(source) {
        assert!(manager.get(&name).is_some(), "a loaded mod is listed");
    }
});
