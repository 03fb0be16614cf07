//! Components declared without Rust (`ComponentRegistry::declared`,
//! `moonbox sim --components`): checked as Rust types are, usable by
//! world files, mods, replays and `moonbox types`.

use std::sync::Arc;

use moonbox::{ComponentRegistry, world_from_json};
use serde_json::{Value, json};

const COMPONENTS: &str = r#"
[Ore]
kind = "string"
amount = "integer"

[Miner]
speed = "number"
"target?" = "integer"
bag = ["string"]
[Miner.stats]
dug = "integer"
"#;

const WORLD: &str = r#"{ "entities": [
  { "Ore": { "kind": "iron", "amount": 3 } },
  { "Miner": { "speed": 2, "bag": [], "stats": { "dug": 0 } } }
] }"#;

#[test]
fn a_world_file_of_declared_components_loads_and_mods_read_and_write_it() {
    let registry = Arc::new(ComponentRegistry::declared(COMPONENTS).unwrap());
    let mut world = world_from_json(WORLD, &registry).unwrap();
    let entities: Vec<hecs::Entity> = world.iter().map(|e| e.entity()).collect();
    let miner = entities[1];
    // Read back as a Rust type of this shape would give it.
    assert_eq!(
        registry.get::<Value>(&world, miner, "Miner").unwrap(),
        Some(json!({"speed": 2.0, "target": null, "bag": [], "stats": {"dug": 0}}))
    );

    let mut host = crate::support::host(&registry);
    let source = crate::support::inline_mod(
        "name = 'miner'\nversion = '1'\n[permissions]\nread = ['Ore', 'Miner']\nwrite = ['Ore', 'Miner']\nscope = 'all'",
        r#"
            function on_tick()
              for e, m in world:query("Miner") do
                for o, ore in world:query("Ore") do
                  if ore.amount > 0 then
                    ore.amount = ore.amount - 1
                    world:set(o, "Ore", ore)
                    m.stats.dug = m.stats.dug + 1
                    m.bag[#m.bag + 1] = ore.kind
                    world:set(e, "Miner", m)
                  end
                end
              end
            end
            "#,
    );
    host.load(source).unwrap();
    for _ in 0..5 {
        host.tick(&mut world, 1.0 / 60.0);
    }
    assert!(host.manager().get("miner").unwrap().is_active());
    assert_eq!(
        registry.get::<Value>(&world, miner, "Miner").unwrap(),
        Some(
            json!({"speed": 2.0, "target": null, "bag": ["iron", "iron", "iron"], "stats": {"dug": 3}})
        )
    );
}

#[test]
fn a_value_of_the_wrong_type_is_refused_naming_the_field() {
    let registry = Arc::new(ComponentRegistry::declared(COMPONENTS).unwrap());
    // From a world file: the entity and the field are named.
    let bad = r#"{ "entities": [ { "Ore": { "kind": "iron", "amount": 1 } },
                                 { "Miner": { "speed": "fast", "bag": [], "stats": { "dug": 0 } } } ] }"#;
    let error = world_from_json(bad, &registry).err().unwrap().to_string();
    assert!(error.contains("entity #1"), "{error}");
    assert!(
        error.contains("field 'speed': expected a number, got a string"),
        "{error}"
    );
    let nested =
        r#"{ "entities": [ { "Miner": { "speed": 1, "bag": [7], "stats": { "dug": 0 } } } ] }"#;
    let error = world_from_json(nested, &registry)
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.contains("field 'bag.1': expected a string, got number 7"),
        "{error}"
    );

    // From a mod: the call fails with the same words, and nothing is written.
    let mut world = world_from_json(WORLD, &registry).unwrap();
    let mut host = crate::support::host(&registry);
    let source = crate::support::inline_mod(
        "name = 'sloppy'\nversion = '1'\n[permissions]\nread = ['Ore']\nwrite = ['Ore']\nscope = 'all'",
        r#"
            function on_tick()
              for e, ore in world:query("Ore") do
                ok, err = pcall(world.set, world, e, "Ore", { kind = "gold", amount = 1.5 })
                print(ok, err)
                ok, err = pcall(world.set, world, e, "Ore", { kind = "gold", amount = 1, extra = true })
                print(ok, err)
              end
            end
            "#,
    );
    host.load(source).unwrap();
    host.tick(&mut world, 1.0 / 60.0);
    let lines: Vec<String> = host
        .system()
        .console()
        .lines()
        .map(|l| l.text.clone())
        .collect();
    assert!(
        lines.iter().any(|l| l.starts_with("[sloppy] false")
            && l.contains("field 'amount': expected an integer, got number 1.5")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("the type has no field 'extra'")),
        "{lines:?}"
    );
    let ore = world.iter().next().unwrap().entity();
    assert_eq!(
        registry.get::<Value>(&world, ore, "Ore").unwrap(),
        Some(json!({"kind": "iron", "amount": 3}))
    );
}

#[test]
fn declarations_are_bounded_and_checked() {
    let many: String = (0..=moonbox::MAX_DECLARED_COMPONENTS)
        .map(|i| format!("[C{i}]\nx = \"integer\"\n"))
        .collect();
    assert!(ComponentRegistry::declared(&many).is_err());
    let error = ComponentRegistry::declared("[Pos]\nx = \"flaot\"")
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("Pos.x: unknown type 'flaot'"), "{error}");
    let deep = format!(
        "[Deep]\nx = {}\"integer\"{}",
        "[".repeat(40),
        "]".repeat(40)
    );
    assert!(ComponentRegistry::declared(&deep).is_err());
    // A Rust-registered component and a declared one cannot share a name.
    let mut registry = moonbox::demo::registry().unwrap();
    assert!(matches!(
        registry.declare("Position", moonbox::Shape::Integer),
        Err(moonbox::RegistryError::DuplicateName { .. })
    ));
}

#[test]
fn moonbox_types_writes_lua_that_declares_every_component() {
    let dir = tempfile::tempdir().unwrap();
    // The demo's components, traced from their Rust types.
    let out = crate::support::moonbox_in(dir.path(), &["types"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    mlua::Lua::new()
        .load(&text)
        .set_name("types.lua")
        .into_function()
        .unwrap_or_else(|e| panic!("not Lua: {e}\n{text}"));
    for name in moonbox::demo::registry().unwrap().names() {
        assert!(
            text.contains(&format!("\n---@class {name}\n")),
            "{name}: {text}"
        );
        assert!(
            text.contains(&format!("name: \"{name}\"): {name}?")),
            "{name}: {text}"
        );
    }
    assert!(text.contains("---@class Health\n---@field hp integer\n---@field max integer\n"));
    // Declared components, nested records and lists included, to a file.
    std::fs::write(dir.path().join("c.toml"), COMPONENTS).unwrap();
    let out = crate::support::moonbox_in(
        dir.path(),
        &["types", "--components", "c.toml", "-o", "mod.d.lua"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(dir.path().join("mod.d.lua")).unwrap();
    mlua::Lua::new().load(&text).into_function().unwrap();
    assert!(text.contains(
        "---@class Miner\n---@field bag string[]\n---@field speed number\n---@field stats Miner_stats\n---@field target integer?\n"
    ), "{text}");
    assert!(
        text.contains("---@class Miner_stats\n---@field dug integer\n"),
        "{text}"
    );
    // A bad file is a usage error naming the field.
    std::fs::write(dir.path().join("bad.toml"), "[Pos]\nx = \"flaot\"").unwrap();
    let out = crate::support::moonbox_in(dir.path(), &["types", "--components", "bad.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("bad.toml") && stderr.contains("Pos.x: unknown type 'flaot'"),
        "{stderr}"
    );
}

#[test]
fn sim_runs_a_declared_world_records_it_and_replays_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    std::fs::write(path.join("c.toml"), COMPONENTS).unwrap();
    std::fs::write(path.join("world.json"), WORLD).unwrap();
    let folder = path.join("mods").join("counter");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("mod.toml"),
        "name = 'counter'\nversion = '1'\n[permissions]\nread = ['Ore']\nwrite = ['Ore']\nscope = 'all'\n",
    )
    .unwrap();
    std::fs::write(
        folder.join("main.lua"),
        "function on_tick() for e, o in world:query{ 'Ore', write = { 'Ore' } } do o.amount = o.amount + 1 end end",
    )
    .unwrap();
    let out = crate::support::moonbox_in(
        path,
        &[
            "sim",
            "mods",
            "--world",
            "world.json",
            "--components",
            "c.toml",
            "--ticks",
            "4",
            "--record",
            "run.jsonl",
        ],
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("counter      active"), "{stdout}");
    // The replay file carries the declarations: no flag needed.
    let out = crate::support::moonbox_in(path, &["replay", "run.jsonl"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.starts_with("identical: 4 ticks"), "{stdout}");
    // A world value of the wrong type stops the run, naming entity and field.
    std::fs::write(
        path.join("bad.json"),
        r#"{ "entities": [ { "Ore": { "kind": "iron", "amount": "lots" } } ] }"#,
    )
    .unwrap();
    let out = crate::support::moonbox_in(
        path,
        &[
            "sim",
            "mods",
            "--world",
            "bad.json",
            "--components",
            "c.toml",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("entity #0") && stderr.contains("field 'amount': expected an integer"),
        "{stderr}"
    );
    // --components needs a world: the demo's has the demo's components.
    let out = crate::support::moonbox_in(path, &["sim", "--components", "c.toml"]);
    assert_eq!(out.status.code(), Some(2));
}
