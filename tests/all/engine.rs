//! Engine settings: the pooling allocator.

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
