//! Fuel calibration: how many nanoseconds one unit of fuel buys, operation
//! by operation, so that no operation a mod can choose is much cheaper in
//! fuel than in time. Each operation is one handler call of one mod against
//! a world of 10,000 entities; its fuel is exact (measured once, it is
//! deterministic), its time is criterion's. The fixed cost of dispatching an
//! event (host work before and after the guest runs, and its fuel) is
//! measured as `empty` and subtracted.
//!
//! ```text
//! cargo bench --bench fuel_calibration
//! scripts/bench-summary     # the ns-per-fuel table, with the median and the spread
//! ```
//!
//! Fuel per operation is written to `target/criterion/fuel-calibration.json`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)] // benchmark harness

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use hecs::World;
use moonbox::demo::{self, Critter, Position, Velocity};
use moonbox::{ModSource, Outcome, Policy, ScriptEngine, ScriptManager, ScriptSystem};

/// The operations, as Lua function bodies. Each does enough work (about a
/// millisecond) that the fixed cost of a call is small beside it.
const OPS: &[(&str, &str)] = &[
    ("empty", ""),
    // Pure Lua.
    (
        "arith_loop",
        "local x = 0 for i = 1, 200000 do x = x + i * 2 % 7 end",
    ),
    (
        "float_math",
        "local x = 0 for i = 1, 50000 do x = x + math.sqrt(i) * math.sin(i) end",
    ),
    (
        "calls",
        "local function f(a) return a + 1 end local x = 0 for i = 1, 100000 do x = f(x) end",
    ),
    (
        "closures",
        "local t for i = 1, 20000 do t = function() return i end end",
    ),
    (
        "pcall_ok",
        "local function f() return 1 end for i = 1, 50000 do pcall(f) end",
    ),
    ("pcall_error", "for i = 1, 2000 do pcall(error, 'x') end"),
    (
        "error_table",
        "for i = 1, 2000 do pcall(error, { code = i }) end",
    ),
    (
        "table_array",
        "local t = {} for i = 1, 100000 do t[#t + 1] = i end",
    ),
    (
        "table_hash",
        "local t = {} for i = 1, 20000 do t['k' .. i] = i end",
    ),
    (
        "small_tables",
        "local keep for i = 1, 30000 do keep = { i, i + 1, x = i } end",
    ),
    (
        "string_concat",
        "local parts = {} for i = 1, 20000 do parts[i] = tostring(i) end local s = table.concat(parts, ',')",
    ),
    (
        "string_build",
        "local s = '' for i = 1, 2000 do s = s .. 'x' end",
    ),
    (
        "string_rep_big",
        "for i = 1, 20 do local s = string.rep('x', 100000) end",
    ),
    (
        "string_rep_byte",
        "for i = 1, 20 do local s = string.rep('ab', 50000, ',') end",
    ),
    (
        "string_format",
        "for i = 1, 20000 do local s = string.format('%d:%s:%.2f', i, 'x', i / 3) end",
    ),
    (
        "patterns",
        "local s = string.rep('hello world 123 ', 100) for i = 1, 100 do for w in s:gmatch('%a+') do end s:gsub('%d+', '#') end",
    ),
    (
        "sort",
        "local t = {} for i = 1, 20000 do t[i] = (i * 7919) % 10007 end table.sort(t)",
    ),
    (
        "sort_comparator",
        "local t = {} for i = 1, 5000 do t[i] = (i * 7919) % 10007 end table.sort(t, function(a, b) return a > b end)",
    ),
    (
        "gc_heavy",
        "for i = 1, 20000 do local t = { tostring(i), {} } end collectgarbage('step', 0)",
    ),
    (
        "coroutines",
        "for i = 1, 5000 do local co = coroutine.wrap(function() coroutine.yield(1) end) co() end",
    ),
    (
        "string_bytes",
        "local s = string.rep('abc', 1000) local n = 0 for i = 1, #s do n = n + s:byte(i) end",
    ),
    // World calls.
    (
        "world_get_small",
        "local e = FIRST for i = 1, 2000 do local p = world:get(e, 'Position') end",
    ),
    (
        "world_get_large",
        "local e = BIG for i = 1, 100 do local c = world:get(e, 'Critter') end",
    ),
    (
        "world_set_small",
        "local e = FIRST for i = 1, 2000 do world:set(e, 'Position', { x = i, y = i }) end",
    ),
    (
        "world_set_large",
        "local e, v = BIG, { kind = string.rep('y', 8000) } for i = 1, 100 do world:set(e, 'Critter', v) end",
    ),
    (
        "world_has",
        "local e = FIRST for i = 1, 2000 do world:has(e, 'Velocity') end",
    ),
    (
        "world_query_open",
        "for i = 1, 10 do world:query('Position', 'Velocity') end",
    ),
    (
        "world_query_iterate",
        "local n = 0 for e, p, v in world:query('Position', 'Velocity') do n = n + 1 end",
    ),
    (
        "world_query_large",
        "local n = 0 for e, c in world:query('Critter') do n = n + #c.kind end",
    ),
    (
        "world_update",
        "for e, p, v in world:query('Position', 'Velocity') do world:set(e, 'Position', { x = p.x + v.x, y = p.y + v.y }) end",
    ),
    (
        "world_query_batched",
        "local n = 0 for e, p, v in world:query{ 'Position', 'Velocity' } do n = n + 1 end",
    ),
    (
        "world_update_batched",
        "for e, p, v in world:query{ 'Position', 'Velocity', write = { 'Position' } } do p.x = p.x + v.x p.y = p.y + v.y end",
    ),
    (
        "world_spawn_despawn",
        "for i = 1, 200 do local e = world:spawn{ Position = { x = i, y = 0 }, Velocity = { x = 1, y = 1 } } world:despawn(e) end",
    ),
    ("print_short", "for i = 1, 2000 do print('x') end"),
    (
        "print_long",
        "local s = string.rep('z', 4000) for i = 1, 200 do print(s) end",
    ),
];

const MANIFEST: &str = r#"
name = "cal"
version = "1"
[permissions]
read = ["Position", "Velocity", "Critter"]
write = ["Position", "Velocity", "Critter"]
spawn = true
despawn = true
scope = "all"
[budget]
fuel_per_call = 1_000_000_000
memory = 64_000_000
"#;

struct Host {
    manager: ScriptManager,
    system: ScriptSystem,
    world: World,
}

impl Host {
    fn new() -> Self {
        let mut world = World::new();
        let mut first = None;
        for i in 0..10_000 {
            let f = f64::from(i);
            let e = world.spawn((Position { x: f, y: -f }, Velocity { x: 1.0, y: 0.5 }));
            first.get_or_insert(e);
        }
        let mut big = None;
        for _ in 0..100 {
            big = Some(world.spawn((Critter {
                kind: "k".repeat(8000),
            },)));
        }
        let mut script = format!(
            "FIRST = {}\nBIG = {}\nlocal ops = {{}}\n",
            first.unwrap().to_bits(),
            big.unwrap().to_bits()
        );
        for (name, body) in OPS {
            script.push_str(&format!("ops['{name}'] = function() {body} end\n"));
        }
        script.push_str("function on_event(name) ops[name]() end\n");
        let registry = Arc::new(demo::registry().unwrap());
        let mut policy = Policy::allow_all(&registry);
        policy.max_fuel_per_call = u64::MAX;
        let mut manager = ScriptManager::new(ScriptEngine::new().unwrap(), registry, policy);
        let source =
            ModSource::from_parts("cal", MANIFEST, [("main.lua".into(), script.into_bytes())])
                .unwrap();
        manager.load(source).unwrap();
        Self {
            manager,
            system: ScriptSystem::new(),
            world,
        }
    }

    /// Runs one operation; returns the fuel it used.
    fn run(&mut self, op: &str) -> u64 {
        let before = self.manager.get("cal").unwrap().stats().fuel_used;
        let report = self
            .system
            .dispatch_event(&mut self.manager, &mut self.world, op, &())
            .unwrap();
        assert_eq!(report["cal"], Outcome::Ran, "{op}: {report:?}");
        self.system.console_mut().drain();
        self.manager.get("cal").unwrap().stats().fuel_used - before
    }
}

fn calibration(c: &mut Criterion) {
    let mut host = Host::new();
    let mut fuel = BTreeMap::new();
    for (op, _) in OPS {
        host.run(op); // warm: first-call allocations, memory growth
        fuel.insert((*op).to_owned(), host.run(op));
    }
    // Growing memory: a fresh sandbox each time, so every page is new.
    let engine = ScriptEngine::new().unwrap();
    let limits = moonbox::Limits {
        memory: 64 * 1024 * 1024,
        ..moonbox::Limits::default()
    };
    let config = moonbox::SandboxConfig {
        limits,
        ..moonbox::SandboxConfig::default()
    };
    let grow: &[u8] = b"local s = string.rep('x', 16 * 1024 * 1024)";
    let mut probe = engine.sandbox(&config).unwrap();
    probe.run("grow.lua", grow).unwrap();
    fuel.insert("memory_growth".into(), probe.last_fuel_used());
    let mut probe = engine.sandbox(&config).unwrap();
    probe.run("grow.lua", b"").unwrap();
    fuel.insert("memory_growth_empty".into(), probe.last_fuel_used());

    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/criterion/fuel-calibration.json");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    std::fs::write(&out, serde_json::to_string_pretty(&fuel).unwrap()).unwrap();

    let mut group = c.benchmark_group("fuel");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for (op, _) in OPS {
        group.bench_function(BenchmarkId::new("calibration", op), |b| {
            b.iter(|| host.run(op));
        });
    }
    group.bench_function(BenchmarkId::new("calibration", "memory_growth"), |b| {
        b.iter_batched(
            || engine.sandbox(&config).unwrap(),
            |mut sandbox| sandbox.run("grow.lua", grow).unwrap(),
            criterion::BatchSize::PerIteration,
        );
    });
    group.bench_function(
        BenchmarkId::new("calibration", "memory_growth_empty"),
        |b| {
            b.iter_batched(
                || engine.sandbox(&config).unwrap(),
                |mut sandbox| sandbox.run("grow.lua", b"").unwrap(),
                criterion::BatchSize::PerIteration,
            );
        },
    );
    group.finish();
}

criterion_group!(benches, calibration);
criterion_main!(benches);
