//! World benchmarks: the same Lua against the same kind of hecs world, once
//! through Moonbox (sandbox, WIT calls, MessagePack values, permission
//! checks, transaction log) and once through a native mlua binding that
//! converts components with mlua's serde support, in the same run.
//!
//! `cargo bench --bench world`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)] // benchmark harness

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hecs::{Entity, World};
use mlua::{Lua, LuaSerdeExt, Value};
use moonbox::demo::{self, Position, Velocity};
use moonbox::{ModSource, Policy};
use moonbox::{ScriptEngine, ScriptManager, ScriptSystem};

const ENTITIES: usize = 10_000;
const GETS: u64 = 1_000;

/// The same source runs natively and in the sandbox.
const SCRIPT: &str = r#"
function bench_get(e)
  local p
  for i = 1, 1000 do p = world:get(e, "Position") end
  return p
end

function bench_query()
  local n = 0
  for e, p, v in world:query("Position", "Velocity") do n = n + 1 end
  return n
end

function bench_query_batched()
  local n = 0
  for e, p, v in world:query{ "Position", "Velocity" } do n = n + 1 end
  return n
end

function update_per_entity(dt)
  for e, p, v in world:query("Position", "Velocity") do
    world:set(e, "Position", { x = p.x + v.x * dt, y = p.y + v.y * dt })
  end
end

function update_batched(dt)
  for e, p, v in world:query{ "Position", "Velocity", write = { "Position" } } do
    p.x = p.x + v.x * dt
    p.y = p.y + v.y * dt
  end
end

on_tick = update_per_entity

function on_event(name, e)
  if name == "get" then bench_get(e)
  elseif name == "query" then bench_query()
  elseif name == "query_batched" then bench_query_batched()
  elseif name == "update_batched" then update_batched(1 / 60)
  else update_per_entity(1 / 60) end
end
"#;

const MANIFEST: &str = r#"
name = "bench"
version = "1"
[permissions]
read = ["Position", "Velocity"]
write = ["Position"]
scope = "all"
[budget]
fuel_per_call = 1_000_000_000
"#;

fn world() -> (World, Entity) {
    let mut world = World::new();
    let mut first = None;
    for i in 0..ENTITIES {
        let f = i as f64;
        let e = world.spawn((Position { x: f, y: -f }, Velocity { x: 1.0, y: 0.5 }));
        first.get_or_insert(e);
    }
    (world, first.unwrap())
}

/// What an engine would write to bind its world to native Lua.
fn native(world: Rc<RefCell<World>>) -> Lua {
    let lua = Lua::new();
    let api = lua.create_table().unwrap();
    let w = Rc::clone(&world);
    let get = lua
        .create_function(move |lua, (_, e, name): (Value, i64, String)| {
            let world = w.borrow();
            let e = Entity::from_bits(e as u64).ok_or_else(|| mlua::Error::runtime("entity"))?;
            match name.as_str() {
                "Position" => {
                    lua.to_value(&*world.get::<&Position>(e).map_err(mlua::Error::external)?)
                }
                "Velocity" => {
                    lua.to_value(&*world.get::<&Velocity>(e).map_err(mlua::Error::external)?)
                }
                _ => Err(mlua::Error::runtime("unknown component")),
            }
        })
        .unwrap();
    let w = Rc::clone(&world);
    let set = lua
        .create_function(
            move |lua, (_, e, name, value): (Value, i64, String, Value)| {
                let world = w.borrow();
                let e =
                    Entity::from_bits(e as u64).ok_or_else(|| mlua::Error::runtime("entity"))?;
                match name.as_str() {
                    "Position" => {
                        *world
                            .get::<&mut Position>(e)
                            .map_err(mlua::Error::external)? = lua.from_value(value)?;
                        Ok(())
                    }
                    _ => Err(mlua::Error::runtime("unknown component")),
                }
            },
        )
        .unwrap();
    let w = Rc::clone(&world);
    let query = lua
        .create_function(move |lua, args: mlua::MultiValue| {
            let entities: Vec<Entity> = w
                .borrow()
                .query::<Entity>()
                .with::<(&Position, &Velocity)>()
                .iter()
                .collect();
            if let Some(Value::Table(spec)) = args.get(1) {
                let writes = spec
                    .get::<Option<mlua::Table>>("write")?
                    .is_some_and(|w| w.raw_len() > 0);
                return batched(lua, Rc::clone(&w), entities, writes);
            }
            let w = Rc::clone(&w);
            let mut index = 0;
            lua.create_function_mut(move |lua, _: mlua::MultiValue| {
                let Some(&e) = entities.get(index) else {
                    return Ok(mlua::MultiValue::new());
                };
                index += 1;
                let world = w.borrow();
                let p =
                    lua.to_value(&*world.get::<&Position>(e).map_err(mlua::Error::external)?)?;
                let v =
                    lua.to_value(&*world.get::<&Velocity>(e).map_err(mlua::Error::external)?)?;
                Ok(mlua::MultiValue::from_iter([
                    Value::Integer(e.to_bits().get() as i64),
                    p,
                    v,
                ]))
            })
        })
        .unwrap();
    /// The table form, as the sandbox has it: the same two tables for
    /// every entity, refilled in place, and Position written back from its
    /// table when the loop moves on.
    fn batched(
        lua: &Lua,
        w: Rc<RefCell<World>>,
        entities: Vec<Entity>,
        writes: bool,
    ) -> mlua::Result<mlua::Function> {
        let (p, v) = (lua.create_table()?, lua.create_table()?);
        let mut index = 0;
        let mut current: Option<Entity> = None;
        lua.create_function_mut(move |_, _: mlua::MultiValue| {
            let world = w.borrow();
            if writes && let Some(e) = current.take() {
                *world
                    .get::<&mut Position>(e)
                    .map_err(mlua::Error::external)? = Position {
                    x: p.raw_get("x")?,
                    y: p.raw_get("y")?,
                };
            }
            let Some(&e) = entities.get(index) else {
                return Ok(mlua::MultiValue::new());
            };
            index += 1;
            current = Some(e);
            let pos = *world.get::<&Position>(e).map_err(mlua::Error::external)?;
            let vel = *world.get::<&Velocity>(e).map_err(mlua::Error::external)?;
            p.raw_set("x", pos.x)?;
            p.raw_set("y", pos.y)?;
            v.raw_set("x", vel.x)?;
            v.raw_set("y", vel.y)?;
            Ok(mlua::MultiValue::from_iter([
                Value::Integer(e.to_bits().get() as i64),
                Value::Table(p.clone()),
                Value::Table(v.clone()),
            ]))
        })
    }
    api.set("get", get).unwrap();
    api.set("set", set).unwrap();
    api.set("query", query).unwrap();
    lua.globals().set("world", api).unwrap();
    lua.load(SCRIPT).exec().unwrap();
    lua
}

struct Sandboxed {
    manager: ScriptManager,
    system: ScriptSystem,
    world: World,
    first: Entity,
}

fn sandboxed() -> Sandboxed {
    let registry = Arc::new(demo::registry().unwrap());
    let mut manager = ScriptManager::new(
        ScriptEngine::new().unwrap(),
        Arc::clone(&registry),
        Policy::allow_all(&registry),
    );
    let source = ModSource::from_parts(
        "bench",
        MANIFEST,
        [("main.lua".into(), SCRIPT.as_bytes().to_vec())],
    )
    .unwrap();
    manager.load(source).unwrap();
    let (world, first) = world();
    let mut s = Sandboxed {
        manager,
        system: ScriptSystem::new(),
        world,
        first,
    };
    // on_load (none here) and a first tick, so every measured call is steady state.
    s.system.tick(&mut s.manager, &mut s.world, 0.0);
    s
}

fn check(outcomes: &moonbox::TickReport) {
    assert_eq!(outcomes["bench"], moonbox::Outcome::Ran, "{outcomes:?}");
}

fn world_get(c: &mut Criterion) {
    let mut group = c.benchmark_group("world_get");
    group.throughput(Throughput::Elements(GETS));
    let (world, first) = world();
    let lua = native(Rc::new(RefCell::new(world)));
    let bench_get: mlua::Function = lua.globals().get("bench_get").unwrap();
    let bits = first.to_bits().get() as i64;
    group.bench_function(BenchmarkId::new("native", GETS), |b| {
        b.iter(|| bench_get.call::<Value>(bits).unwrap());
    });
    let mut s = sandboxed();
    let bits = s.first.to_bits().get();
    group.bench_function(BenchmarkId::new("sandbox", GETS), |b| {
        b.iter(|| {
            check(
                s.system
                    .dispatch_event(&mut s.manager, &mut s.world, "get", &bits)
                    .unwrap(),
            )
        });
    });
    group.finish();
}

fn query_10k(c: &mut Criterion) {
    let mut group = c.benchmark_group("query_10k");
    group.sample_size(20);
    let (world, _) = world();
    let lua = native(Rc::new(RefCell::new(world)));
    let mut s = sandboxed();
    for (name, function) in [("", "bench_query"), ("_batched", "bench_query_batched")] {
        let bench: mlua::Function = lua.globals().get(function).unwrap();
        group.bench_function(format!("native{name}"), |b| {
            b.iter(|| assert_eq!(bench.call::<usize>(()).unwrap(), ENTITIES));
        });
        let event = format!("query{name}");
        group.bench_function(format!("sandbox{name}"), |b| {
            b.iter(|| {
                check(
                    s.system
                        .dispatch_event(&mut s.manager, &mut s.world, &event, &0)
                        .unwrap(),
                )
            });
        });
    }
    group.finish();
}

fn tick_10k(c: &mut Criterion) {
    let mut group = c.benchmark_group("tick_10k");
    group.sample_size(20);
    let (world, _) = world();
    let lua = native(Rc::new(RefCell::new(world)));
    let on_tick: mlua::Function = lua.globals().get("on_tick").unwrap();
    group.bench_function("native", |b| {
        b.iter(|| on_tick.call::<()>(1.0 / 60.0).unwrap());
    });
    let mut s = sandboxed();
    group.bench_function("sandbox", |b| {
        b.iter(|| check(s.system.tick(&mut s.manager, &mut s.world, 1.0 / 60.0)));
    });
    // The table form: reused tables, a page of writes per host call.
    let update: mlua::Function = lua.globals().get("update_batched").unwrap();
    group.bench_function("native_batched", |b| {
        b.iter(|| update.call::<()>(1.0 / 60.0).unwrap());
    });
    group.bench_function("sandbox_batched", |b| {
        b.iter(|| {
            check(
                s.system
                    .dispatch_event(&mut s.manager, &mut s.world, "update_batched", &0)
                    .unwrap(),
            )
        });
    });
    group.finish();
}

/// The encoding choice: one component value through the host's half of
/// the boundary (Rust value to bytes and back), MessagePack against JSON.
fn encoding(c: &mut Criterion) {
    let mut group = c.benchmark_group("encoding");
    let value = Position {
        x: 123.456_789,
        y: -0.001_25,
    };
    group.bench_function("msgpack", |b| {
        b.iter(|| {
            let bytes = rmp_serde::to_vec_named(std::hint::black_box(&value)).unwrap();
            rmp_serde::from_slice::<Position>(&bytes).unwrap()
        });
    });
    group.bench_function("json", |b| {
        b.iter(|| {
            let bytes = serde_json::to_vec(std::hint::black_box(&value)).unwrap();
            serde_json::from_slice::<Position>(&bytes).unwrap()
        });
    });
    group.finish();
}

criterion_group!(benches, world_get, query_10k, tick_10k, encoding);
criterion_main!(benches);
