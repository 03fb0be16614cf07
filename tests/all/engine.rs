//! Engine settings: the pooling allocator; guest variants.

use moonbox::{
    EngineConfig, LimitKind, Limits, PoolingConfig, SandboxConfig, ScriptEngine, ScriptError,
};

fn pooled(max_sandboxes: u32, max_memory: usize) -> ScriptEngine {
    ScriptEngine::with_config(&EngineConfig {
        pooling: Some(PoolingConfig {
            max_sandboxes,
            max_memory,
        }),
        ..EngineConfig::default()
    })
    .unwrap()
}

#[test]
fn pooled_engine_reuses_slots_and_reports_exhaustion() {
    let engine = pooled(3, 64 * 1024 * 1024);
    let config = SandboxConfig::default();
    let mut alive: Vec<_> = (0..3).map(|_| engine.sandbox(&config).unwrap()).collect();
    for sandbox in &mut alive {
        sandbox.run("x.lua", b"x = 1").unwrap();
    }
    assert!(
        matches!(engine.sandbox(&config), Err(ScriptError::Host { .. })),
        "a 4th sandbox must not fit"
    );
    drop(alive.pop());
    let mut reused = engine.sandbox(&config).unwrap();
    reused
        .run("y.lua", b"assert(x == nil) print('fresh')")
        .unwrap();
}

#[test]
fn pooled_slot_size_bounds_memory_like_the_hard_cap() {
    let engine = pooled(2, 4 * 1024 * 1024);
    let mut sandbox = engine
        .sandbox(&SandboxConfig {
            limits: Limits {
                memory: 64 * 1024 * 1024,
                ..Limits::default()
            },
            ..SandboxConfig::default()
        })
        .unwrap();
    let error = sandbox
        .run("grow.lua", b"local s = 'x' while true do s = s .. s end")
        .unwrap_err();
    assert_eq!(error.limit_kind(), Some(LimitKind::Memory), "{error:?}");
    assert!(sandbox.is_poisoned());
}

/// The built-in guest with a custom section appended: a valid component
/// with the same code and another SHA-256.
fn relabelled_guest() -> Vec<u8> {
    let mut bytes = moonbox::GUEST_COMPONENT.to_vec();
    let name = b"moonbox-test";
    let payload = b"a guest variant";
    bytes.push(0); // custom section
    bytes.push(u8::try_from(1 + name.len() + payload.len()).unwrap());
    bytes.push(u8::try_from(name.len()).unwrap());
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(payload);
    bytes
}

#[test]
fn a_guest_variant_runs_and_owns_its_snapshots() {
    let config = SandboxConfig::default();
    let builtin = ScriptEngine::new().unwrap();
    let variant =
        ScriptEngine::with_guest_variant(&EngineConfig::default(), &relabelled_guest()).unwrap();
    let script =
        b"local function f(n) if n < 2 then return n end return f(n-1) + f(n-2) end print(f(20))";
    let mut outputs = Vec::new();
    for engine in [&builtin, &variant] {
        let mut sandbox = engine.sandbox(&config).unwrap();
        sandbox.run("fib.lua", script).unwrap();
        let line = sandbox.console().lines().next().map(|l| l.text.clone());
        outputs.push((line, sandbox.last_fuel_used()));
    }
    assert_eq!(outputs[0].0.as_deref(), Some("6765"));
    assert_eq!(outputs[0], outputs[1], "same code: same output and fuel");

    // A snapshot belongs to the guest it was taken with.
    let snapshot = builtin.sandbox(&config).unwrap().snapshot().unwrap();
    assert!(matches!(
        variant.restore_sandbox(&config, &snapshot),
        Err(moonbox::SnapshotError::OtherGuest { .. })
    ));
    assert!(builtin.restore_sandbox(&config, &snapshot).is_ok());

    // Bytes that are not a component are refused, not a panic.
    assert!(matches!(
        ScriptEngine::with_guest_variant(&EngineConfig::default(), b"\0asm not a component"),
        Err(ScriptError::Host { .. })
    ));
}
