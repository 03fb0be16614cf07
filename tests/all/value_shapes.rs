//! How each serde shape an engine writes crosses into Lua and back,
//! through the real sandbox: what docs/world-api.md "Values" promises.

use std::collections::BTreeMap;
use std::sync::Arc;

use hecs::World;
use moonbox::{ComponentRegistry, ModSource, Moonbox, Policy};
use serde::{Deserialize, Serialize};

use crate::support::engine;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Health(i32);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Pair(i32, i32);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Frozen;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Mode {
    Idle,
    Turn(f32),
    Walk { speed: f32 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Tags(BTreeMap<String, i64>);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Target {
    entity: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Scale(f32);

/// Prints a value with sorted keys, so output is stable.
const DUMP: &str = r#"
local function dump(v)
  if type(v) ~= "table" then
    return math.type(v) == "float" and string.format("%.17g", v) or tostring(v)
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = tostring(k) .. "=" .. dump(v[k]) end
  return "{" .. table.concat(parts, ",") .. "}"
end
"#;

fn host() -> Moonbox {
    let mut registry = ComponentRegistry::new();
    registry
        .register::<Health>("Health")
        .unwrap()
        .register::<Pair>("Pair")
        .unwrap()
        .register::<Frozen>("Frozen")
        .unwrap()
        .register::<Mode>("Mode")
        .unwrap()
        .register::<Tags>("Tags")
        .unwrap()
        .register::<Target>("Target")
        .unwrap()
        .register::<Scale>("Scale")
        .unwrap();
    let registry = Arc::new(registry);
    Moonbox::builder(Arc::clone(&registry))
        .policy(Policy::allow_all(&registry))
        .engine(engine().clone())
        .build()
        .unwrap()
}

fn run(lua: &str, world: &mut World) -> Vec<String> {
    let mut host = host();
    let manifest = "name = 'shapes'\nversion = '1'\n[permissions]\nread = ['Health', 'Pair', 'Frozen', 'Mode', 'Tags', 'Target', 'Scale']\nwrite = ['Health', 'Pair', 'Frozen', 'Mode', 'Tags', 'Target', 'Scale']\nscope = 'all'\nspawn = true";
    let source = format!("{DUMP}\nfunction on_tick()\n{lua}\nend");
    host.load(
        ModSource::from_parts("test", manifest, [("main.lua".into(), source.into_bytes())])
            .unwrap(),
    )
    .unwrap();
    let report = host.tick(world, 0.1).clone();
    assert!(
        report.all_ran(),
        "{report:?} {:?}",
        host.console().lines().collect::<Vec<_>>()
    );
    host.console()
        .lines()
        .map(|l| l.text.trim_start_matches("[shapes] ").to_owned())
        .collect()
}

#[test]
fn every_serde_shape_reads_as_documented() {
    let mut world = World::new();
    let tags = Tags(BTreeMap::from([
        ("fire".to_owned(), 2),
        ("ice".to_owned(), 0),
    ]));
    let e = world.spawn((
        Health(7),
        Pair(1, -2),
        Frozen,
        Mode::Walk { speed: 1.5 },
        tags,
        Target { entity: None },
        Scale(0.1),
    ));
    let idle = world.spawn((Mode::Idle, Target { entity: Some(42) }));
    let turn = world.spawn((Mode::Turn(0.25),));
    let lua = format!(
        r#"
for _, name in ipairs({{ "Health", "Pair", "Frozen", "Mode", "Tags", "Target", "Scale" }}) do
  print(name, dump(world:get({e}, name)), world:has({e}, name))
end
print(dump(world:get({idle}, "Mode")), dump(world:get({idle}, "Target")), dump(world:get({turn}, "Mode")))
"#,
        e = e.to_bits().get(),
        idle = idle.to_bits().get(),
        turn = turn.to_bits().get(),
    );
    assert_eq!(
        run(&lua, &mut world),
        [
            "Health\t7\ttrue",
            "Pair\t{1=1,2=-2}\ttrue",
            // A unit struct has no data: an empty table.
            "Frozen\t{}\ttrue",
            "Mode\t{Walk={speed=1.5}}\ttrue",
            "Tags\t{fire=2,ice=0}\ttrue",
            // `None` is an absent field.
            "Target\t{}\ttrue",
            // An f32 widens to the nearest double.
            "Scale\t0.10000000149011612\ttrue",
            "Idle\t{entity=42}\t{Turn=0.25}",
        ]
    );
}

#[test]
fn every_serde_shape_writes_from_its_lua_form() {
    let mut world = World::new();
    let e = world.spawn((Health(1),));
    let lua = format!(
        r#"
local e = {e}
world:set(e, "Health", 9)
world:set(e, "Pair", {{ 3, 4 }})
world:set(e, "Frozen", {{}})
world:set(e, "Mode", {{ Turn = 0.5 }})
world:set(e, "Tags", {{ water = 1 }})
world:set(e, "Target", {{ entity = 5 }})
world:set(e, "Scale", 2)
local idle = world:spawn{{ Mode = "Idle", Target = {{ entity = 3 }} }}
-- `{{}}` is an empty list to Lua; a struct of optional fields takes it too.
local none = world:spawn{{ Target = {{}}, Tags = {{}} }}
print(pcall(world.set, world, e, "Health", {{ hp = 1 }}))
print(pcall(world.set, world, e, "Mode", "Run"))
print(pcall(world.set, world, e, "Pair", {{ 1 }}))
"#,
        e = e.to_bits().get()
    );
    let printed = run(&lua, &mut world);
    assert_eq!(*world.get::<&Health>(e).unwrap(), Health(9));
    assert_eq!(*world.get::<&Pair>(e).unwrap(), Pair(3, 4));
    assert!(world.get::<&Frozen>(e).is_ok());
    assert_eq!(*world.get::<&Mode>(e).unwrap(), Mode::Turn(0.5));
    assert_eq!(
        world.get::<&Tags>(e).unwrap().0,
        BTreeMap::from([("water".to_owned(), 1)])
    );
    assert_eq!(
        *world.get::<&Target>(e).unwrap(),
        Target { entity: Some(5) }
    );
    assert_eq!(*world.get::<&Scale>(e).unwrap(), Scale(2.0));
    let idle: Vec<_> = world
        .query::<(&Mode, &Target)>()
        .iter()
        .filter(|(mode, _)| **mode == Mode::Idle)
        .map(|(_, target)| target.clone())
        .collect();
    assert_eq!(idle, [Target { entity: Some(3) }]);
    let none: Vec<_> = world
        .query::<(&Target, &Tags)>()
        .iter()
        .filter(|(t, _)| t.entity.is_none())
        .map(|(t, tags)| (t.clone(), tags.0.len()))
        .collect();
    assert_eq!(none, [(Target { entity: None }, 0)]);
    // Errors in the mod author's terms, never MessagePack's.
    assert_eq!(printed.len(), 3, "{printed:?}");
    for line in &printed {
        assert!(
            line.starts_with("false\t") && !line.contains("marker"),
            "{printed:?}"
        );
    }
    assert!(printed[0].contains("got a table"), "{printed:?}");
    assert!(printed[1].contains("unknown variant 'Run'"), "{printed:?}");
}
