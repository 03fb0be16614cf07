//! Fault injection: a trap in the middle of a handler (fuel, wasm stack,
//! hard memory cap), a Lua memory error, a host-side error while serving a
//! world call, a panic in the engine's own component conversion code, and a
//! permission violation. Each is injected after the handler has already
//! written, spawned and despawned; each time the world must be exactly as
//! before that call, the failing mod disabled or kept as the policy says
//! (a trap always disables, and enabling again recycles the sandbox), the
//! other mod must run on, and the failure must be reported.

use std::sync::Arc;

use hecs::{Entity, World};
use moonbox::demo::{self, Position};
use moonbox::{EngineConfig, Outcome, ScriptEngine, ScriptManager, ScriptSystem, world_hash};
use moonbox::{ModSource, Policy};
use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An engine type with buggy conversion code: serializing 666 fails, and
/// deserializing 13 panics.
#[derive(Debug, Clone, PartialEq)]
struct Faulty(i64);

impl Serialize for Faulty {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0 == 666 {
            return Err(S::Error::custom("the engine cannot serialize 666"));
        }
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Faulty {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(deserializer)?;
        assert!(n != 13, "the engine's conversion code panics on 13");
        if n < 0 {
            return Err(D::Error::custom("negative"));
        }
        Ok(Faulty(n))
    }
}

const PERMISSIONS: &str = "read = ['Position', 'Faulty']\nwrite = ['Position', 'Faulty']\nspawn = true\ndespawn = true\nscope = 'all'";

/// Each fault, injected after the handler's writes; `true` if it always
/// disables the mod (a trap, which discards the instance, or a limit), `false`
/// if it surfaces as a Lua error, which disables only if the policy says so.
const FAULTS: &[(&str, &str, bool)] = &[
    ("fuel", "while true do end", true),
    (
        "wasm stack",
        "assert(load('return ' .. ('('):rep(190) .. '1' .. (')'):rep(190)))()",
        true,
    ),
    (
        "hard memory cap",
        "local t = {} for i = 1, 64 do t[i] = ('x'):rep(1 << 20) end",
        true,
    ),
    (
        "lua memory",
        "local t = {} while true do t[#t + 1] = ('y'):rep(4096) end",
        true,
    ),
    ("host error", "world:get(broken, 'Faulty')", false),
    ("conversion panic", "world:set(e, 'Faulty', 13)", false),
];

struct Setup {
    manager: ScriptManager,
    system: ScriptSystem,
    world: World,
    target: Entity,
    broken: Entity,
}

fn setup(engine: &ScriptEngine, disable_on_error: bool, fault: &str) -> Setup {
    let mut registry = demo::registry().unwrap();
    registry.register::<Faulty>("Faulty").unwrap();
    let registry = Arc::new(registry);
    let policy = Policy {
        disable_on_error,
        ..Policy::allow_all(&registry)
    };
    let mut manager = ScriptManager::new(engine.clone(), Arc::clone(&registry), policy);
    let mut world = World::new();
    let target = world.spawn((Position { x: 1.0, y: 2.0 }, Faulty(1)));
    let broken = world.spawn((Faulty(666),));
    // The faulty mod runs first (mods run in name order), then the witness.
    let faulty = format!(
        "local broken = {broken}
         function on_event(name, e)
           world:set(e, 'Position', {{ x = 99, y = 99 }})
           world:set(e, 'Faulty', 2)
           world:spawn{{ Position = {{ x = 5, y = 5 }} }}
           world:despawn(e)
           {fault}
         end",
        broken = broken.to_bits().get(),
    );
    // `memory` is the Lua heap limit; the hard cap is 2x + 8 MiB = 10 MiB.
    let manifest = |name: &str| {
        format!(
            "name = '{name}'\nversion = '1'\n[budget]\nmemory = 1048576\n[permissions]\n{PERMISSIONS}\n"
        )
    };
    let mod_source = |name: &str, lua: &str| {
        ModSource::from_parts(
            "test",
            &manifest(name),
            [("main.lua".into(), lua.as_bytes().to_vec())],
        )
        .unwrap()
    };
    manager.load(mod_source("a_faulty", &faulty)).unwrap();
    manager
        .load(mod_source(
            "b_witness",
            "function on_event(name, e) print('witness saw x = ' .. world:get(e, 'Position').x) end",
        ))
        .unwrap();
    Setup {
        manager,
        system: ScriptSystem::new(),
        world,
        target,
        broken,
    }
}

/// Engine with a small wasm stack, so that deep nesting traps before Lua's
/// own C-stack limit catches it.
fn small_stack_engine() -> ScriptEngine {
    ScriptEngine::with_config(&EngineConfig {
        max_wasm_stack: 48 * 1024,
        ..EngineConfig::default()
    })
    .unwrap()
}

#[test]
fn every_fault_leaves_the_world_as_it_was_and_the_other_mod_runs() {
    let engine = small_stack_engine();
    for &disable_on_error in &[true, false] {
        for &(label, fault, always_disables) in FAULTS {
            let mut s = setup(&engine, disable_on_error, fault);
            // Hashed without `Faulty`, which cannot serialize 666; the Faulty
            // values are checked one by one below.
            let hashed = demo::registry().unwrap();
            let before = world_hash(&s.world, &hashed).unwrap();
            let count = s.world.len();
            let outcomes = s
                .system
                .dispatch_event(
                    &mut s.manager,
                    &mut s.world,
                    "poke",
                    &s.target.to_bits().get(),
                )
                .unwrap()
                .clone();
            let context = format!("{label} (disable_on_error = {disable_on_error})");
            let Outcome::Failed { error, disabled } = &outcomes["a_faulty"] else {
                panic!("{context}: the faulty mod did not fail: {outcomes:?}");
            };
            assert_eq!(
                *disabled,
                always_disables || disable_on_error,
                "{context}: {error}"
            );
            assert_eq!(
                s.manager.get("a_faulty").unwrap().is_active(),
                !*disabled,
                "{context}"
            );
            assert!(
                matches!(outcomes["b_witness"], Outcome::Ran),
                "{context}: {outcomes:?}"
            );
            assert_eq!(
                world_hash(&s.world, &hashed).unwrap(),
                before,
                "{context}: the world changed"
            );
            assert_eq!(s.world.len(), count, "{context}");
            assert_eq!(
                *s.world.get::<&Position>(s.target).unwrap(),
                Position { x: 1.0, y: 2.0 }
            );
            assert_eq!(*s.world.get::<&Faulty>(s.target).unwrap(), Faulty(1));
            assert_eq!(*s.world.get::<&Faulty>(s.broken).unwrap(), Faulty(666));
            let console: Vec<String> = s.system.console().lines().map(|l| l.text.clone()).collect();
            assert!(
                console.iter().any(|l| l.contains("witness saw x = 1")),
                "{context}: the witness saw the faulty mod's writes: {console:?}"
            );
            if *disabled {
                assert!(
                    console.iter().any(|l| l.contains("'a_faulty' disabled")),
                    "{context}: not reported: {console:?}"
                );
            }
        }
    }
}

#[test]
fn a_disabled_trapped_mod_comes_back_in_a_fresh_sandbox() {
    let engine = small_stack_engine();
    let mut s = setup(
        &engine,
        true,
        "if FAIL_ONCE == nil then FAIL_ONCE = true while true do end end",
    );
    let target = s.target.to_bits().get();
    let first = s
        .system
        .dispatch_event(&mut s.manager, &mut s.world, "poke", &target)
        .unwrap();
    assert!(matches!(
        first["a_faulty"],
        Outcome::Failed { disabled: true, .. }
    ));
    // Enabling a mod whose instance trapped reloads it: its globals are new,
    // so it fails again the same way rather than running on a poisoned state.
    s.manager.enable("a_faulty").unwrap();
    assert!(s.manager.get("a_faulty").unwrap().is_active());
    let again = s
        .system
        .dispatch_event(&mut s.manager, &mut s.world, "poke", &target)
        .unwrap();
    assert!(
        matches!(again["a_faulty"], Outcome::Failed { disabled: true, .. }),
        "{again:?}"
    );
    assert!(matches!(again["b_witness"], Outcome::Ran));
}
