//! Arbitrary bytes as component values, in both directions across the
//! boundary: decoded by the host into each demo component's Rust type
//! (what it does with every value a mod writes), and decoded by the guest
//! into Lua values (what it does with handler arguments and component
//! values the host sends). Bad bytes must be an error, never a panic, a
//! trap, a partial write or a discarded sandbox.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use moonbox::demo::{self, Health, Position};
use moonbox::{ComponentRegistry, Limits, SandboxConfig, ScriptEngine, ScriptError};

/// Built once per fuzzing process, then only read.
static SHARED: OnceLock<(ScriptEngine, ComponentRegistry)> = OnceLock::new();

const HANDLER: &[u8] = b"
function take(...)
  local n = 0
  for i = 1, select('#', ...) do
    local v = select(i, ...)
    if type(v) == 'table' then for _ in pairs(v) do n = n + 1 end end
  end
  return n
end";

fn shared() -> &'static (ScriptEngine, ComponentRegistry) {
    SHARED.get_or_init(|| {
        (
            ScriptEngine::new().expect("engine"),
            demo::registry().expect("registry"),
        )
    })
}

// The engine compiles the guest (about 16 s instrumented): in libFuzzer's
// initialisation, not in the first input, whose time -timeout bounds.
fuzz_target!(init: {
    shared();
}, |data: &[u8]| {
    let (engine, registry) = shared();
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    if selector % 2 == 0 {
        // Host side: every component type, on an entity that has values.
        let mut world = hecs::World::new();
        let before = (Position { x: 1.0, y: 2.0 }, Health { hp: 3, max: 4 });
        let e = world.spawn(before.clone());
        for name in ["Position", "Velocity", "Health", "Critter"] {
            if registry.set_msgpack(&mut world, e, name, bytes).is_ok() {
                // Whatever was accepted reads back.
                registry.get_msgpack(&world, e, name).expect("an accepted value reads back");
            } else if name == "Position" {
                assert_eq!(*world.get::<&Position>(e).unwrap(), before.0, "partial write");
            }
        }
    } else {
        // Guest side: the bytes as a handler's argument array.
        let config = SandboxConfig {
            limits: Limits {
                fuel: 20_000_000,
                memory: 2 * 1024 * 1024,
                ..Limits::default()
            },
            ..SandboxConfig::default()
        };
        let mut sandbox = engine.sandbox(&config).expect("sandbox");
        sandbox.run("handler.lua", HANDLER).expect("handler");
        match sandbox.call_msgpack("take", bytes) {
            Ok(_) | Err(ScriptError::Runtime { .. }) => {}
            // Fuel and the Lua heap limit may end a call on huge valid input.
            Err(e @ ScriptError::ResourceLimitExceeded { .. }) if !sandbox.is_poisoned() => {
                let _ = e;
            }
            Err(e) => panic!("bad argument bytes gave {e:?}"),
        }
        assert!(!sandbox.is_poisoned(), "argument bytes discarded the sandbox");
    }
});
