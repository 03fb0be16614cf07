//! Mods against a real `hecs::World` through the real sandbox: the world
//! API, permissions on every call, transactions, isolation and ordering.

use std::sync::Arc;

use hecs::{Entity, World};
use moonbox::demo::{self, Health, Position, Velocity};
use moonbox::{LoadError, ModSource, Policy};
use moonbox::{Outcome, ScriptError, ScriptManager, ScriptSystem, TickReport, ViolationPolicy};

use crate::support::engine;

/// A world with two entities, a manager with the demo registry and a system.
pub struct Fixture {
    pub manager: ScriptManager,
    pub system: ScriptSystem,
    pub world: World,
    /// Has Position, Velocity and Health.
    pub mover: Entity,
    /// Has Position and a Critter tag.
    pub tagged: Entity,
}

pub fn fixture_with(policy: impl FnOnce(&moonbox::ComponentRegistry) -> Policy) -> Fixture {
    let registry = Arc::new(demo::registry().unwrap());
    let policy = policy(&registry);
    let manager = ScriptManager::new(engine().clone(), registry, policy);
    let mut world = World::new();
    let mover = world.spawn((
        Position { x: 1.0, y: 2.0 },
        Velocity { x: 10.0, y: 0.0 },
        Health { hp: 5, max: 10 },
    ));
    let tagged = world.spawn((
        Position { x: 7.0, y: 7.0 },
        demo::Critter { kind: "ant".into() },
    ));
    Fixture {
        manager,
        system: ScriptSystem::new(),
        world,
        mover,
        tagged,
    }
}

pub fn fixture() -> Fixture {
    fixture_with(Policy::allow_all)
}

/// A mod named `name` with `[permissions]` body `permissions` and `main.lua` `source`.
pub fn source(name: &str, permissions: &str, source: &str) -> ModSource {
    let manifest = format!("name = '{name}'\nversion = '1'\n[permissions]\n{permissions}\n");
    ModSource::from_parts(
        "test",
        &manifest,
        [("main.lua".into(), source.as_bytes().to_vec())],
    )
    .unwrap()
}

impl Fixture {
    pub fn load(&mut self, name: &str, permissions: &str, lua: &str) -> String {
        self.manager.load(source(name, permissions, lua)).unwrap()
    }

    /// Sends event `poke` with the entity's bits to every mod.
    pub fn poke(&mut self, entity: Entity) -> TickReport {
        self.system
            .dispatch_event(
                &mut self.manager,
                &mut self.world,
                "poke",
                &entity.to_bits().get(),
            )
            .unwrap()
            .clone()
    }

    pub fn tick(&mut self) -> TickReport {
        self.system
            .tick(&mut self.manager, &mut self.world, 0.5)
            .clone()
    }

    pub fn printed(&self) -> Vec<String> {
        self.system
            .console()
            .lines()
            .map(|l| l.text.clone())
            .collect()
    }

    pub fn active(&self, name: &str) -> bool {
        self.manager.get(name).unwrap().is_active()
    }

    pub fn position(&self, entity: Entity) -> Position {
        *self.world.get::<&Position>(entity).unwrap()
    }

    pub fn hash(&self) -> String {
        moonbox::world_hash(&self.world, self.manager.registry()).unwrap()
    }
}

fn violation(outcome: &Outcome) -> bool {
    matches!(
        outcome,
        Outcome::Failed {
            error: ScriptError::SecurityViolation { .. },
            disabled: true
        }
    )
}

#[test]
fn get_returns_a_table_and_set_writes_the_component() {
    let mut f = fixture();
    f.load(
        "mover",
        "read = ['Position', 'Velocity']\nwrite = ['Position']\nscope = 'all'",
        "function on_event(name, e)
           local p, v = world:get(e, 'Position'), world:get(e, 'Velocity')
           print(math.type(p.x), p.x, p.y, v.x)
           world:set(e, 'Position', { x = p.x + v.x, y = 40 })
           print(world:get(e, 'Position').x, world:has(e, 'Velocity'))
         end",
    );
    let outcome = f.poke(f.mover);
    assert_eq!(outcome["mover"], Outcome::Ran);
    assert_eq!(f.position(f.mover), Position { x: 11.0, y: 40.0 });
    assert_eq!(
        f.printed(),
        ["[mover] float\t1.0\t2.0\t10.0", "[mover] 11.0\ttrue"]
    );
}

#[test]
fn read_only_mod_writing_is_a_violation_the_mod_is_disabled_and_the_world_unchanged() {
    let mut f = fixture();
    let before = f.hash();
    f.load(
        "sneaky",
        "read = ['Position']\nscope = 'all'",
        "function on_event(name, e)
           world:set(e, 'Position', { x = 1, y = 1 }) -- allowed? no: read only
         end
         function on_tick() end",
    );
    // A Health write that *is* allowed would be rolled back too: the whole call goes.
    let outcome = f.poke(f.mover);
    assert!(violation(&outcome["sneaky"]), "{outcome:?}");
    assert!(!f.active("sneaky"));
    let moonbox::ModStatus::Disabled { reason } = f.manager.get("sneaky").unwrap().status() else {
        panic!("not disabled");
    };
    assert!(
        reason.contains("no write permission for component 'Position'"),
        "{reason}"
    );
    assert_eq!(f.hash(), before);
    assert_eq!(f.position(f.mover), Position { x: 1.0, y: 2.0 });
    // Disabled mods do not run again.
    assert!(f.tick().is_empty());
}

#[test]
fn pcall_cannot_catch_a_violation() {
    let mut f = fixture();
    f.load(
        "prober",
        "read = ['Position']\nscope = 'all'",
        "function on_event(name, e)
           local ok = pcall(world.get, world, e, 'Health')
           print('survived', ok)
         end",
    );
    let outcome = f.poke(f.mover);
    assert!(violation(&outcome["prober"]), "{outcome:?}");
    assert!(f.printed().iter().all(|l| !l.contains("survived")));
}

/// Each world call, granted and denied: the denied one is a violation, the
/// granted one runs.
#[test]
fn permission_matrix_every_call_granted_and_denied() {
    let cases: &[(&str, &str, &str)] = &[
        // (call, grant that allows it, Lua using entity `e`)
        ("get", "read = ['Health']", "world:get(e, 'Health')"),
        ("has", "read = ['Health']", "world:has(e, 'Health')"),
        (
            "query",
            "read = ['Health']",
            "for _ in world:query('Health') do end",
        ),
        (
            "set",
            "write = ['Health']",
            "world:set(e, 'Health', { hp = 1, max = 2 })",
        ),
        ("remove", "write = ['Health']", "world:remove(e, 'Health')"),
        (
            "spawn",
            "write = ['Health']\nspawn = true",
            "world:spawn{ Health = { hp = 1, max = 1 } }",
        ),
        ("despawn", "despawn = true", "world:despawn(e)"),
    ];
    for (call, grant, lua) in cases {
        for granted in [true, false] {
            let mut f = fixture();
            let permissions = if granted {
                format!("{grant}\nscope = 'all'")
            } else {
                // Something else, so the mod has some grant but not this one.
                "read = ['Velocity']\nscope = 'all'".to_owned()
            };
            f.load(
                "m",
                &permissions,
                &format!("function on_event(name, e) {lua} end"),
            );
            let outcome = f.poke(f.mover);
            if granted {
                assert_eq!(outcome["m"], Outcome::Ran, "{call} granted");
            } else {
                assert!(violation(&outcome["m"]), "{call} denied: {outcome:?}");
            }
        }
    }
}

#[test]
fn entity_scope_spawned_and_tagged() {
    let mut f = fixture();
    f.load(
        "own",
        "read = ['Position']\nwrite = ['Position']\nspawn = true",
        "function on_tick()
           local e = world:spawn{ Position = { x = 0, y = 0 } }
           local n = 0
           for q in world:query('Position') do n = n + 1; assert(q == e) end
           print('own sees', n)
         end
         function on_event(name, e) world:get(e, 'Position') end",
    );
    f.load(
        "tagger",
        "read = ['Position']\nscope = 'tag:Critter'",
        "function on_tick()
           local n = 0
           for q, p in world:query('Position') do n = n + 1 end
           print('tagger sees', n)
         end",
    );
    f.tick();
    assert!(
        f.printed().contains(&"[own] own sees\t1".to_owned()),
        "{:?}",
        f.printed()
    );
    assert!(f.printed().contains(&"[tagger] tagger sees\t1".to_owned()));
    // The spawned-scope mod may not touch an entity it did not spawn.
    let outcome = f.poke(f.mover);
    assert!(violation(&outcome["own"]), "{outcome:?}");
    let spawned = f
        .world
        .iter()
        .map(|e| e.entity())
        .find(|e| *e != f.mover && *e != f.tagged);
    assert_eq!(f.system.spawned_by(spawned.unwrap()), Some("own"));
}

#[test]
fn queries_return_only_what_was_asked_and_never_unreadable_components() {
    let mut f = fixture();
    f.load(
        "reader",
        "read = ['Position', 'Velocity']\nscope = 'all'",
        "function on_tick()
           for e, p, v, extra in world:query('Position', 'Velocity') do
             print(p.x, v.x, extra)
           end
         end
         function on_event() for e in world:query('Position', 'Health') do end end",
    );
    f.tick();
    assert_eq!(f.printed(), ["[reader] 1.0\t10.0\tnil"]);
    let outcome = f.poke(f.mover);
    assert!(violation(&outcome["reader"]));
}

#[test]
fn a_failed_call_rolls_back_sets_spawns_removes_and_despawns() {
    for failure in [
        "error('boom')",
        "while true do end",
        "local t = {} while true do t[#t + 1] = ('x'):rep(1000) end",
        "world:get(e, 'Critter')",
    ] {
        let mut f = fixture();
        let before = f.hash();
        let count = f.world.len();
        f.load(
            "txn",
            "read = ['Position', 'Health']\nwrite = ['Position', 'Health']\nspawn = true\ndespawn = true\nscope = 'all'",
            &format!(
                "function on_event(name, e)
                   world:set(e, 'Position', {{ x = 99, y = 99 }})
                   world:remove(e, 'Health')
                   world:spawn{{ Position = {{ x = 5, y = 5 }} }}
                   world:despawn(e)
                   {failure}
                 end"
            ),
        );
        let outcome = f.poke(f.mover);
        assert!(
            matches!(outcome["txn"], Outcome::Failed { .. }),
            "{failure}: {outcome:?}"
        );
        assert_eq!(f.hash(), before, "{failure}: world changed");
        assert_eq!(f.world.len(), count, "{failure}");
        assert_eq!(f.position(f.mover), Position { x: 1.0, y: 2.0 });
        assert_eq!(
            *f.world.get::<&Health>(f.mover).unwrap(),
            Health { hp: 5, max: 10 }
        );
    }
}

#[test]
fn a_successful_call_commits_despawns_at_its_end() {
    let mut f = fixture();
    f.load(
        "reaper",
        "read = ['Position']\ndespawn = true\nscope = 'all'",
        "function on_event(name, e)
           world:despawn(e)
           print(pcall(world.get, world, e, 'Position'))
         end",
    );
    let outcome = f.poke(f.mover);
    assert_eq!(outcome["reaper"], Outcome::Ran);
    assert!(!f.world.contains(f.mover));
    assert!(
        f.printed()[0].contains("no such entity"),
        "{:?}",
        f.printed()
    );
}

#[test]
fn later_mods_see_earlier_mods_writes_in_the_same_tick() {
    let mut f = fixture();
    // Mods run in name order: a_writer, then b_reader.
    f.load(
        "b_reader",
        "read = ['Health']\nscope = 'all'",
        "function on_tick() for e, h in world:query('Health') do print(h.hp) end end",
    );
    f.load(
        "a_writer",
        "read = ['Health']\nwrite = ['Health']\nscope = 'all'",
        "function on_tick() for e, h in world:query('Health') do h.hp = h.hp + 1; world:set(e, 'Health', h) end end",
    );
    f.tick();
    f.tick();
    assert_eq!(f.printed(), ["[b_reader] 6", "[b_reader] 7"]);
}

#[test]
fn mods_are_isolated_from_each_others_globals_and_failures() {
    let mut f = fixture();
    f.load(
        "a",
        "",
        "secret = 'mine'\nfunction on_tick() string.rep = nil end",
    );
    f.load(
        "b",
        "",
        "function on_tick() print(secret, type(string.rep)) end",
    );
    f.load("c_spin", "", "function on_tick() while true do end end");
    f.load(
        "d_deep",
        "",
        "local function f() return f() + 1 end\nfunction on_tick() f() end",
    );
    for _ in 0..3 {
        f.tick();
    }
    assert!(f.active("a") && f.active("b"));
    assert!(!f.active("c_spin") && !f.active("d_deep"));
    let b: Vec<_> = f
        .printed()
        .into_iter()
        .filter(|l| l.starts_with("[b]"))
        .collect();
    assert_eq!(b, ["[b] nil\tfunction"; 3]);
    let reason = |name| match f.manager.get(name).unwrap().status() {
        moonbox::ModStatus::Disabled { reason } => reason.clone(),
        moonbox::ModStatus::Active => String::new(),
    };
    assert!(reason("c_spin").contains("fuel"), "{}", reason("c_spin"));
    assert!(
        reason("d_deep").contains("recursion"),
        "{}",
        reason("d_deep")
    );
}

#[test]
fn bad_values_from_lua_are_catchable_errors_and_write_nothing() {
    let mut f = fixture();
    f.load(
        "sloppy",
        "read = ['Position']\nwrite = ['Position', 'Health']\nscope = 'all'",
        "function on_event(name, e)
           local cases = {
             { 'Position', { x = 'a', y = 1 } },
             { 'Position', { x = 1 } },
             { 'Position', { x = 0/0, y = 1 } },
             { 'Position', { x = print, y = 1 } },
             { 'Health', { hp = 1.5, max = 2 } },
             { 'Position', 42 },
           }
           local cyclic = {}; cyclic.self = cyclic
           cases[#cases + 1] = { 'Position', cyclic }
           for _, c in ipairs(cases) do
             local ok, err = pcall(world.set, world, e, c[1], c[2])
             print(ok, tostring(err):match('invalid value') ~= nil)
           end
         end",
    );
    let before = f.hash();
    let outcome = f.poke(f.mover);
    assert_eq!(outcome["sloppy"], Outcome::Ran);
    assert_eq!(f.printed(), vec!["[sloppy] false\ttrue"; 7]);
    assert_eq!(f.hash(), before);
}

/// Keys `1..n` make an array, which a struct component also accepts (its
/// fields in order); the strings "1" and "2" are keys of a map, whatever
/// they would convert to, so the same values under them are refused.
#[test]
fn integer_keys_make_an_array_and_numeric_strings_a_map() {
    let mut f = fixture();
    f.load(
        "keys",
        "read = ['Position']\nwrite = ['Position']\nscope = 'all'",
        "function on_event(name, e)
           print(pcall(world.set, world, e, 'Position', { [1] = 3, [2] = 4 }))
           local ok, err = pcall(world.set, world, e, 'Position', { ['1'] = 5, ['2'] = 6 })
           print(ok, tostring(err):match('invalid value') ~= nil)
         end",
    );
    assert_eq!(f.poke(f.mover)["keys"], Outcome::Ran);
    assert_eq!(f.printed(), ["[keys] true", "[keys] false\ttrue"]);
    assert_eq!(f.position(f.mover), Position { x: 3.0, y: 4.0 });
}

#[test]
fn handler_errors_name_the_file_and_line() {
    let mut f = fixture_with(|r| Policy {
        disable_on_error: false,
        ..Policy::allow_all(r)
    });
    f.load(
        "buggy",
        "read = ['Position']\nscope = 'all'",
        "function on_event(name, e)\n  world:get(e, 'Nope')\nend",
    );
    let outcome = f.poke(f.mover);
    let Outcome::Failed { error, disabled } = &outcome["buggy"] else {
        panic!("{outcome:?}");
    };
    // An ungranted component is a violation even when it does not exist.
    assert!(
        matches!(error, ScriptError::SecurityViolation { .. }),
        "{error:?}"
    );
    assert!(*disabled);

    f.load(
        "buggy2",
        "",
        "function on_event(name, e)\n\n  local x = nil + 1\nend",
    );
    let outcome = f.poke(f.mover);
    let Outcome::Failed { error, disabled } = &outcome["buggy2"] else {
        panic!("{outcome:?}");
    };
    assert!(
        matches!(error, ScriptError::Runtime { script, line: Some(3), .. } if script == "main.lua"),
        "{error:?}"
    );
    assert!(!disabled, "disable_on_error is off");
    assert!(f.active("buggy2"));
}

#[test]
fn reject_policy_makes_denials_catchable() {
    let mut f = fixture_with(|r| Policy {
        on_violation: ViolationPolicy::Reject,
        ..Policy::allow_all(r)
    });
    f.load(
        "probe",
        "read = ['Position']\nscope = 'all'",
        "function on_event(name, e) print(pcall(world.get, world, e, 'Health')) end",
    );
    assert_eq!(f.poke(f.mover)["probe"], Outcome::Ran);
    assert!(
        f.printed()[0].contains("permission denied"),
        "{:?}",
        f.printed()
    );
    assert!(f.active("probe"));
}

/// `world:get`/`world:set` name a component by the id the host gave for
/// its name after the first call: an id must reach the same component,
/// and grant nothing the name would not, in every later call.
#[test]
fn component_ids_name_the_same_components_and_grant_nothing_more() {
    let mut f = fixture_with(|r| Policy {
        on_violation: ViolationPolicy::Reject,
        ..Policy::allow_all(r)
    });
    f.load(
        "ids",
        "read = ['Position']\nwrite = ['Position']\nscope = 'all'",
        r#"
function on_event(name, e)
  for i = 1, 3 do
    local p = world:get(e, "Position")
    world:set(e, "Position", { x = p.x + 1, y = p.y })
    print(i, p.x, pcall(world.get, world, e, "Health"))
    print(pcall(world.set, world, e, "Health", { hp = 0, max = 0 }))
    print(pcall(world.get, world, e, "Nope"))
  end
end"#,
    );
    for _ in 0..2 {
        assert_eq!(f.poke(f.mover)["ids"], Outcome::Ran);
    }
    let printed = f.printed();
    assert_eq!(printed.len(), 18, "{printed:?}");
    for (n, chunk) in printed.chunks(3).enumerate() {
        let start = format!("[ids] {}\t{}.0\tfalse\t", n % 3 + 1, n + 1);
        assert!(chunk[0].starts_with(&start), "{chunk:?}");
        assert!(
            chunk[0].ends_with("no read permission for component 'Health'"),
            "{chunk:?}"
        );
        assert!(
            chunk[1].ends_with("no write permission for component 'Health'"),
            "{chunk:?}"
        );
        assert!(
            chunk[2].ends_with("no read permission for component 'Nope'"),
            "{chunk:?}"
        );
    }
    assert_eq!(f.position(f.mover), Position { x: 7.0, y: 2.0 });
    assert_eq!(f.world.get::<&Health>(f.mover).unwrap().hp, 5);
}

#[test]
fn an_uncaught_denial_under_the_reject_policy_is_permission_denied() {
    let mut f = fixture_with(|r| Policy {
        on_violation: ViolationPolicy::Reject,
        disable_on_error: false,
        ..Policy::allow_all(r)
    });
    f.load(
        "probe",
        "read = ['Position']\nscope = 'all'",
        "function on_event(name, e)\n  world:get(e, 'Health')\nend",
    );
    let report = f.poke(f.mover);
    let Outcome::Failed { error, disabled } = &report["probe"] else {
        panic!("{report:?}");
    };
    assert!(
        matches!(error, ScriptError::PermissionDenied { line: Some(2), message, .. }
            if message.contains("no read permission for component 'Health'")),
        "{error:?}"
    );
    assert!(!*disabled, "a refused call is a Lua error under reject");
    assert!(f.active("probe"));
}

#[test]
fn a_script_cannot_forge_a_permission_denial() {
    let mut f = fixture_with(|r| Policy {
        on_violation: ViolationPolicy::Reject,
        disable_on_error: false,
        ..Policy::allow_all(r)
    });
    f.load(
        "forger",
        "read = ['Position']\nscope = 'all'",
        "function on_event() error(\"world:get: permission denied: no read permission for component 'Health'\") end",
    );
    let report = f.poke(f.mover);
    assert!(
        matches!(
            &report["forger"],
            Outcome::Failed {
                error: ScriptError::Runtime { .. },
                ..
            }
        ),
        "{report:?}"
    );
}

#[test]
fn policy_grants_no_more_than_it_allows() {
    let mut f = fixture_with(|_| Policy {
        allowed: moonbox::Permissions::none()
            .with_component("Position", moonbox::ComponentAccess::READ),
        ..Policy::default()
    });
    f.load(
        "greedy",
        "read = ['Position']\nwrite = ['Position']\nscope = 'all'",
        "",
    );
    let granted = f.manager.get("greedy").unwrap().granted().clone();
    assert!(granted.component("Position").read);
    assert!(!granted.component("Position").write);
    // The policy allows only the default scope (own entities); 'all' narrows to it.
    assert_eq!(granted.scope, moonbox::EntityScope::Spawned);
}

#[test]
fn world_calls_outside_a_handler_are_unavailable() {
    let mut f = fixture();
    let err = f
        .manager
        .load(source(
            "early",
            "read = ['Position']",
            "world:get(1, 'Position')",
        ))
        .unwrap_err();
    assert!(
        matches!(&err, LoadError::Script { error: ScriptError::Runtime { message, line: Some(1), .. }, .. } if message.contains("no world is attached")),
        "{err:?}"
    );
}

#[test]
fn frame_and_config_reach_the_mod() {
    let mut f = fixture();
    let manifest = "name = 'cfg'\nversion = '1'\n[config]\nspeed = 2.5\nnames = ['a', 'b']\n";
    f.manager
        .load(
            ModSource::from_parts(
                "test",
                manifest,
                [(
                    "main.lua".into(),
                    b"function on_tick(dt) local c = world:config() print(world:tick(), dt, world:dt(), c.speed, c.names[2]) end".to_vec(),
                )],
            )
            .unwrap(),
        )
        .unwrap();
    f.tick();
    f.tick();
    assert_eq!(
        f.printed(),
        ["[cfg] 1\t0.5\t0.5\t2.5\tb", "[cfg] 2\t0.5\t0.5\t2.5\tb"]
    );
}

#[test]
fn lifecycle_disable_enable_reload_unload() {
    let mut f = fixture();
    f.load(
        "life",
        "",
        "n = (n or 0) + 1\nfunction on_load() print('load', n) end\nfunction on_tick() end",
    );
    f.tick();
    f.manager.disable("life", "by hand").unwrap();
    assert!(f.tick().is_empty());
    f.manager.enable("life").unwrap();
    assert_eq!(f.tick()["life"], Outcome::Ran);
    f.manager.reload("life").unwrap();
    f.tick();
    assert_eq!(f.printed(), ["[life] load\t1", "[life] load\t1"]);
    f.manager.unload("life").unwrap();
    assert!(f.manager.get("life").is_none());
    assert!(matches!(
        f.manager.unload("life"),
        Err(LoadError::UnknownMod { .. })
    ));
}

#[test]
fn spawn_returns_a_usable_entity_and_bad_spawns_create_nothing() {
    let mut f = fixture();
    f.load(
        "maker",
        "read = ['Position', 'Health']\nwrite = ['Position', 'Health']\nspawn = true",
        "function on_tick()
           local e = world:spawn{ Position = { x = 3, y = 4 }, Health = { hp = 1, max = 1 } }
           print(world:get(e, 'Position').y, world:has(e, 'Health'))
           print(pcall(world.spawn, world, { Position = { x = 1 } }))
         end",
    );
    let count = f.world.len();
    f.tick();
    assert_eq!(f.world.len(), count + 1);
    let lines = f.printed();
    assert_eq!(lines[0], "[maker] 4.0\ttrue");
    assert!(
        lines[1].starts_with("[maker] false") && lines[1].contains("missing field"),
        "{lines:?}"
    );
}

#[test]
fn bad_arguments_to_get_and_set_are_catchable_errors_with_the_callers_line() {
    let mut f = fixture();
    f.load(
        "careless",
        "read = ['Position']\nwrite = ['Position']\nscope = 'all'",
        r#"
local function try(f, ...)
  local ok, err = pcall(f, world, ...)
  print(type(err), err)
end
function on_event(name, e)
  try(world.get, "not an entity", "Position")
  try(world.get, 1.5, "Position")
  try(world.get, e, 42)
  try(world.get, e, "\xff")
  try(world.set, e, "Position", { x = print })
  try(world.set, e, "Position", 7)
  local ok, err = pcall(function() return world:get(e, nil) end)
  print(err)
  print(world:get(e, "Position").x)
end
"#,
    );
    let outcome = f.poke(f.mover);
    assert!(matches!(outcome["careless"], Outcome::Ran), "{outcome:?}");
    let printed: Vec<String> = f
        .printed()
        .iter()
        .map(|l| l.trim_start_matches("[careless] ").to_owned())
        .collect();
    let expected = [
        "string\tworld:get: the entity must be an integer, got a string",
        "string\tworld:get: the entity must be an integer, got a number",
        "string\tworld:get: the component name must be a string, got a number",
        "string\tworld:get: component names must be UTF-8 text",
        "string\tworld:set: invalid value for component 'Position': a function cannot be stored",
    ];
    for (line, want) in printed.iter().zip(expected) {
        assert_eq!(line, want);
    }
    // A value of the wrong shape is refused by the host, not the guest.
    assert!(printed[5].starts_with("string\tworld:set: "), "{printed:?}");
    // Called from Lua code, the message carries the caller's position.
    assert_eq!(
        printed[6],
        "main.lua:13: world:get: the component name must be a string, got a nil"
    );
    assert_eq!(printed[7], "1.0");
    assert_eq!(f.position(f.mover), Position { x: 1.0, y: 2.0 });
}

#[test]
fn a_world_get_that_runs_out_of_lua_memory_is_a_catchable_error() {
    let mut f = fixture();
    f.load(
        "hungry",
        "read = ['Position']\nscope = 'all'\n[budget]\nmemory = 300_000",
        r#"
function on_event(name, e)
  -- Fill the heap until even a small table does not fit, then ask for one.
  -- `last` is local: a new global would grow _G while no memory is left.
  local hog, failures, last = {}, 0, nil
  pcall(function()
    while true do hog[#hog + 1] = {} end
  end)
  -- The array's last doubling failed; fill what is left with small tables.
  pcall(function()
    while true do hog.list = { hog.list } end
  end)
  for i = 1, 50 do
    local ok, err = pcall(world.get, world, e, "Position")
    if not ok then failures = failures + 1; last = err end
  end
  hog = nil
  collectgarbage()
  print(failures > 0, last, world:get(e, "Position").y)
end
"#,
    );
    let outcome = f.poke(f.mover);
    let printed = f.printed();
    assert!(
        matches!(outcome["hungry"], Outcome::Ran),
        "{outcome:?} {printed:?}"
    );
    assert_eq!(printed, ["[hungry] true\tnot enough memory\t2.0"]);
}

/// Spawns `count` entities with a Position and a Health each, `x = i`,
/// `hp = i`; returns them in spawn order.
fn spawn_many(world: &mut World, count: u32) -> Vec<Entity> {
    (0..count)
        .map(|i| {
            world.spawn((
                Position {
                    x: f64::from(i),
                    y: 0.5,
                },
                Health {
                    hp: i64::from(i),
                    max: 10_000,
                },
            ))
        })
        .collect()
}

#[test]
fn queries_larger_than_a_page_see_every_entity_once_with_its_values() {
    let mut f = fixture();
    // Several host pages: the iterator fetches 512 entities at a time.
    let spawned = spawn_many(&mut f.world, 1300);
    f.load(
        "counter",
        "read = ['Position', 'Health']\nscope = 'all'",
        "function on_tick()
           local n, xs, hps, seen, mismatched = 0, 0, 0, {}, 0
           for e, p, h in world:query('Position', 'Health') do
             n = n + 1
             xs = xs + p.x
             hps = hps + h.hp
             if seen[e] then error('entity seen twice') end
             seen[e] = true
             if p.x ~= h.hp then mismatched = mismatched + 1 end
           end
           -- A loop left early, then a fresh query: each has its own cursor.
           local early = 0
           for e in world:query('Health') do
             early = early + 1
             if early == 600 then break end
           end
           local after = 0
           for e in world:query('Health') do after = after + 1 end
           print(n, xs, hps, mismatched, early, after)
         end",
    );
    let outcome = f.tick();
    assert!(matches!(outcome["counter"], Outcome::Ran), "{outcome:?}");
    // The fixture's mover also has both components (x = 1, hp = 5).
    let n = spawned.len() + 1;
    let sum: f64 = (0..1300).map(f64::from).sum::<f64>() + 1.0;
    let hps: i64 = (0..1300).sum::<i64>() + 5;
    assert_eq!(
        f.printed(),
        [format!("[counter] {n}\t{sum:?}\t{hps}\t1\t600\t{n}")]
    );
}

#[test]
fn bad_arguments_to_query_are_catchable_errors_with_the_callers_line() {
    let mut f = fixture();
    f.load(
        "careless",
        "read = ['Position']\nscope = 'all'",
        r#"
local function try(...)
  local ok, err = pcall(world.query, world, ...)
  print(ok, err)
end
function on_tick()
  try()
  try(42)
  try("Position", {})
  try("\xff")
  local ok, err = pcall(function() for e in world:query(nil) do end end)
  print(err)
  local n = 0
  for e in world:query("Position") do n = n + 1 end
  print(n)
end
"#,
    );
    let outcome = f.tick();
    assert!(matches!(outcome["careless"], Outcome::Ran), "{outcome:?}");
    let printed: Vec<String> = f
        .printed()
        .iter()
        .map(|l| l.trim_start_matches("[careless] ").to_owned())
        .collect();
    assert_eq!(
        printed[..4],
        [
            "false\tworld:query: name at least one component",
            "false\tworld:query: component names must be strings, got a number",
            "false\tworld:query: component names must be strings, got a table",
            "false\tworld:query: component names must be UTF-8 text",
        ]
    );
    assert_eq!(
        printed[4],
        "main.lua:11: world:query: component names must be strings, got a nil"
    );
    assert_eq!(printed[5], "2");
}

#[test]
fn an_iterator_called_by_a_finalizer_during_its_own_step_is_an_error_not_a_crash() {
    let mut f = fixture();
    spawn_many(&mut f.world, 3000);
    f.load(
        "sneaky",
        "read = ['Position', 'Health']\nscope = 'all'",
        "function on_tick()
           local it = world:query('Position', 'Health')
           local looping, reentered, stepped, last = false, 0, 0, nil
           -- Finalizers run during the allocations of later steps, that is,
           -- inside the iterator; each one tries to step it again.
           for i = 1, 500 do
             setmetatable({}, { __gc = function()
               if not looping then return end
               local ok, err = pcall(it)
               if ok then stepped = stepped + 1 else reentered = reentered + 1; last = err end
             end })
           end
           local n = 0
           looping = true
           for e, p, h in it do n = n + 1 end
           looping = false
           print(n, reentered > 0, stepped, last)
         end",
    );
    let outcome = f.tick();
    assert!(matches!(outcome["sneaky"], Outcome::Ran), "{outcome:?}");
    assert_eq!(
        f.printed(),
        ["[sneaky] 3001\ttrue\t0\tworld:query: the iterator was called while it ran"]
    );
}

#[test]
fn a_query_step_that_runs_out_of_lua_memory_is_a_catchable_error() {
    let mut f = fixture();
    spawn_many(&mut f.world, 100);
    f.load(
        "hungry",
        "read = ['Position', 'Health']\nscope = 'all'\n[budget]\nmemory = 300_000",
        r#"
function on_tick()
  local it = world:query("Position", "Health")
  local hog, failures, rows, last = {}, 0, 0, nil
  pcall(function()
    while true do hog[#hog + 1] = {} end
  end)
  pcall(function()
    while true do hog.list = { hog.list } end
  end)
  for i = 1, 50 do
    local ok, err = pcall(it)
    if ok then rows = rows + 1 else failures = failures + 1; last = err end
  end
  hog = nil
  collectgarbage()
  -- The failed steps consumed nothing: the loop resumes where it was.
  for e, p in it do rows = rows + 1 end
  print(failures > 0, last, rows)
end
"#,
    );
    let outcome = f.tick();
    let printed = f.printed();
    assert!(
        matches!(outcome["hungry"], Outcome::Ran),
        "{outcome:?} {printed:?}"
    );
    assert_eq!(printed, ["[hungry] true\tnot enough memory\t101"]);
}
#[test]
fn an_iterator_kept_past_its_call_is_refused_not_pointed_at_a_later_query() {
    let mut f = fixture();
    spawn_many(&mut f.world, 1000);
    f.load(
        "keeper",
        "read = ['Position', 'Health']\nscope = 'all'",
        "local saved
         function on_tick()
           if saved == nil then
             saved = world:query('Position')
             saved()
             return
           end
           -- This call's first query, which a stale cursor number would hit.
           local live = world:query('Health')
           local n = 0
           local ok, err = pcall(function()
             for e, p in saved do n = n + 1; assert(p.x, 'not a Position') end
           end)
           local m = 0
           for e in live do m = m + 1 end
           print(n, ok, err, m)
         end",
    );
    f.tick();
    let outcome = f.tick();
    assert!(matches!(outcome["keeper"], Outcome::Ran), "{outcome:?}");
    // 1002 entities have a Position: the kept page of 512 had 511 left.
    assert_eq!(
        f.printed(),
        [
            "[keeper] 511\tfalse\tmain.lua:12: world:query: the query has ended: \
          a query lasts only as long as the handler call that opened it\t1001"
        ]
    );
}
