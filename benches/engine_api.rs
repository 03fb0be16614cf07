//! The engine API: an engine function called from Lua, through Moonbox
//! (grant check, MessagePack both ways, fuel) and through a native mlua
//! binding of the same Rust function, in the same run; and a handler
//! emitting 10,000 commands.
//!
//! `cargo bench --bench engine_api`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)] // benchmark harness

use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hecs::World;
use mlua::{Lua, LuaSerdeExt};
use moonbox::{CallContext, ModSource, Moonbox, Policy};
use serde::{Deserialize, Serialize};

const CALLS: u64 = 1_000;
const COMMANDS: usize = 10_000;

#[derive(Deserialize)]
struct Ray {
    from: [f64; 2],
    to: [f64; 2],
}

#[derive(Serialize)]
struct Hit {
    distance: f64,
}

/// The engine's function: what both bindings call.
fn raycast(ray: &Ray) -> Option<Hit> {
    let (dx, dy) = (ray.to[0] - ray.from[0], ray.to[1] - ray.from[1]);
    let distance = (dx * dx + dy * dy).sqrt();
    (distance > 1.0).then_some(Hit { distance })
}

const SCRIPT: &str = r#"
function calls(n)
  local total = 0
  for i = 1, n do
    local hit = engine.raycast{ from = { 0, 0 }, to = { i, 1 } }
    if hit then total = total + hit.distance end
  end
  return total
end

function pings(n)
  local x = 0
  for i = 1, n do x = engine.ping(x) end
  return x
end

function on_event(name)
  if name == "calls" then calls(1000)
  elseif name == "pings" then pings(1000)
  else for i = 1, 10000 do engine.emit("play_sound", { name = "step", volume = 0.5 }) end end
end
"#;

const MANIFEST: &str = r#"
name = "bench"
version = "1"
[permissions]
call = ["raycast", "ping"]
emit = ["play_sound"]
[budget]
fuel_per_call = 1_000_000_000
"#;

fn sandboxed() -> Moonbox {
    let registry = Arc::new(moonbox::demo::registry().unwrap());
    let mut host = Moonbox::builder(Arc::clone(&registry))
        .policy(Policy::allow_all(&registry))
        .function("raycast", 100, |_: &CallContext<'_>, ray: Ray| {
            Ok::<_, String>(raycast(&ray))
        })
        .unwrap()
        .function("ping", 100, |_: &CallContext<'_>, x: i64| {
            Ok::<_, String>(x + 1)
        })
        .unwrap()
        .build()
        .unwrap();
    let source = ModSource::from_parts(
        "bench",
        MANIFEST,
        [("main.lua".into(), SCRIPT.as_bytes().to_vec())],
    )
    .unwrap();
    host.load(source).unwrap();
    host
}

/// What an engine would write to offer the function to native Lua.
fn native() -> Lua {
    let lua = Lua::new();
    let engine = lua.create_table().unwrap();
    let function = lua
        .create_function(|lua, ray: mlua::Value| {
            let ray: Ray = lua.from_value(ray)?;
            lua.to_value(&raycast(&ray))
        })
        .unwrap();
    engine.set("raycast", function).unwrap();
    let ping = lua.create_function(|_, x: i64| Ok(x + 1)).unwrap();
    engine.set("ping", ping).unwrap();
    lua.globals().set("engine", engine).unwrap();
    lua.load(SCRIPT).exec().unwrap();
    lua
}

fn engine_call(c: &mut Criterion) {
    let mut group = c.benchmark_group("engine_call");
    group.throughput(Throughput::Elements(CALLS));
    let lua = native();
    let calls: mlua::Function = lua.globals().get("calls").unwrap();
    group.bench_function("native", |b| {
        b.iter(|| calls.call::<f64>(CALLS).unwrap());
    });
    let mut host = sandboxed();
    let mut world = World::new();
    group.bench_function("sandbox", |b| {
        b.iter(|| {
            let report = host.dispatch_event(&mut world, "calls", &()).unwrap();
            assert!(report.all_ran(), "{report:?}");
        });
    });
    group.finish();
}

/// The smallest round trip: an integer in, an integer out.
fn engine_ping(c: &mut Criterion) {
    let mut group = c.benchmark_group("engine_ping");
    group.throughput(Throughput::Elements(CALLS));
    let lua = native();
    let pings: mlua::Function = lua.globals().get("pings").unwrap();
    group.bench_function("native", |b| {
        b.iter(|| assert_eq!(pings.call::<u64>(CALLS).unwrap(), CALLS));
    });
    let mut host = sandboxed();
    let mut world = World::new();
    group.bench_function("sandbox", |b| {
        b.iter(|| {
            let report = host.dispatch_event(&mut world, "pings", &()).unwrap();
            assert!(report.all_ran(), "{report:?}");
        });
    });
    group.finish();
}

fn emit_10k(c: &mut Criterion) {
    let mut group = c.benchmark_group("emit_10k");
    group.sample_size(20);
    let mut host = sandboxed();
    let mut world = World::new();
    group.bench_function("sandbox", |b| {
        b.iter(|| {
            let report = host.dispatch_event(&mut world, "emit", &()).unwrap();
            assert_eq!(report.commands().len(), COMMANDS);
        });
    });
    group.finish();
}

criterion_group!(benches, engine_call, engine_ping, emit_10k);
criterion_main!(benches);
