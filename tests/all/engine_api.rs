//! The engine's own API through the real sandbox: engine functions
//! (granted, denied, failing, panicking, paid in fuel) and commands
//! (delivered only by calls that commit, in a deterministic order, bounded).

use std::sync::Arc;

use hecs::World;
use moonbox::demo::{self, Position};
use moonbox::{
    CallContext, LimitKind, LoadError, ModSource, Moonbox, Outcome, Permissions, Policy,
    ScriptError,
};

use crate::support::engine;

#[derive(Debug, serde::Deserialize)]
struct Ray {
    from: [f64; 2],
    to: [f64; 2],
}

#[derive(Debug, PartialEq, serde::Deserialize)]
struct Sound {
    name: String,
    volume: f32,
}

/// A host with `distance`, `who` and `fail` functions, under `policy`.
fn host_with(policy: impl FnOnce(&moonbox::ComponentRegistry) -> Policy, cost: u64) -> Moonbox {
    let registry = Arc::new(demo::registry().unwrap());
    let policy = policy(&registry);
    Moonbox::builder(registry)
        .policy(policy)
        .engine(engine().clone())
        .function("distance", cost, |_: &CallContext<'_>, ray: Ray| {
            let (dx, dy) = (ray.to[0] - ray.from[0], ray.to[1] - ray.from[1]);
            Ok::<_, String>((dx * dx + dy * dy).sqrt())
        })
        .unwrap()
        .function("who", 0, |ctx: &CallContext<'_>, (): ()| {
            let positions = ctx.world().query::<&Position>().iter().count();
            Ok::<_, String>((ctx.mod_name().to_owned(), ctx.tick(), positions))
        })
        .unwrap()
        .function("fail", 0, |_: &CallContext<'_>, code: i64| {
            if code == 0 {
                panic!("the engine's bug");
            }
            Err::<(), _>(format!("code {code}"))
        })
        .unwrap()
        .build()
        .unwrap()
}

fn host() -> Moonbox {
    host_with(Policy::allow_all, 0)
}

fn source(name: &str, permissions: &str, lua: &str) -> ModSource {
    let manifest = format!("name = '{name}'\nversion = '1'\n[permissions]\n{permissions}\n");
    ModSource::from_parts(
        "test",
        &manifest,
        [("main.lua".into(), lua.as_bytes().to_vec())],
    )
    .unwrap()
}

fn printed(host: &Moonbox) -> Vec<String> {
    host.console().lines().map(|l| l.text.clone()).collect()
}

#[test]
fn a_granted_engine_function_is_called_with_serde_values_and_sees_its_caller() {
    let mut host = host();
    host.load(source(
        "caller",
        "call = ['distance', 'who']\nspawn = true\nwrite = ['Position']",
        r#"
function on_tick()
  world:spawn{ Position = { x = 1, y = 1 } }
  print(engine.distance{ from = { 0, 0 }, to = { 3, 4 } })
  local name, tick, positions = table.unpack(engine.who())
  print(name, tick, positions)
end"#,
    ))
    .unwrap();
    let mut world = World::new();
    world.spawn((Position { x: 0.0, y: 0.0 },));
    let report = host.tick(&mut world, 0.1).clone();
    assert!(report.all_ran(), "{report:?}");
    // The function sees the mod's own spawn of this call: 2 positions.
    assert_eq!(printed(&host), ["[caller] 5.0", "[caller] caller\t1\t2"]);
}

#[test]
fn a_call_the_mod_was_not_granted_is_a_violation_and_disables_it() {
    // The policy grants no engine function; the manifest asks for one.
    let mut host = host_with(
        |r| Policy {
            allowed: Policy::allow_all(r).allowed.intersect(&Permissions {
                calls: Default::default(),
                ..Policy::allow_all(r).allowed
            }),
            ..Policy::allow_all(r)
        },
        0,
    );
    host.load(source(
        "sneaky",
        "call = ['distance']",
        "function on_tick() print(engine.distance{ from = {0, 0}, to = {1, 0} }) end",
    ))
    .unwrap();
    host.load(source("honest", "", "function on_tick() print('ok') end"))
        .unwrap();
    let mut world = World::new();
    let report = host.tick(&mut world, 0.1).clone();
    let Some(Outcome::Failed { error, disabled }) = report.get("sneaky") else {
        panic!("{report:?}");
    };
    assert!(*disabled);
    assert!(
        matches!(error, ScriptError::SecurityViolation { message, .. }
            if message.contains("no permission to call engine function 'distance'")),
        "{error:?}"
    );
    assert_eq!(report.get("honest"), Some(&Outcome::Ran));
    assert!(!host.get("sneaky").unwrap().is_active());
}

#[test]
fn a_manifest_asking_for_an_unknown_function_is_refused_at_load() {
    let mut host = host();
    let error = host
        .load(source("typo", "call = ['distanse']", "x = 1"))
        .unwrap_err();
    assert!(
        matches!(&error, LoadError::Rejected { message, .. }
            if message.contains("unknown engine function 'distanse'") && message.contains("distance")),
        "{error}"
    );
    let manifest = "name = 'bad'\nversion = '1'\n[permissions]\ncall = ['a b']\n";
    let error = ModSource::from_parts("test", manifest, [("main.lua".into(), b"x = 1".to_vec())])
        .unwrap_err();
    assert!(error.to_string().contains("permissions.call"), "{error}");
}

#[test]
fn engine_errors_bad_arguments_and_panics_are_catchable_lua_errors() {
    let mut host = host();
    host.load(source(
        "prober",
        "call = ['distance', 'fail']",
        r#"
function on_tick()
  print(pcall(engine.fail, 7))
  print(pcall(engine.fail, 0))
  print(pcall(engine.distance, { from = "here", to = { 1, 2 } }))
  print(pcall(function() local r = engine.fail(8); return r end))
end"#,
    ))
    .unwrap();
    let mut world = World::new();
    let report = host.tick(&mut world, 0.1).clone();
    assert!(report.all_ran(), "{report:?}");
    let lines = printed(&host);
    assert_eq!(lines.len(), 4, "{lines:?}");
    // Plain strings, as any Lua error; called from Lua code, they name the
    // mod's line (through `pcall` directly there is none, as for Lua's own
    // functions).
    assert_eq!(lines[0], "[prober] false\tengine.fail: code 7");
    assert_eq!(
        lines[1],
        "[prober] false\tengine.fail: the engine function panicked"
    );
    assert_eq!(
        lines[2],
        "[prober] false\tengine.distance: bad arguments: field 'from': got string \"here\", expected an array of length 2"
    );
    assert_eq!(lines[3], "[prober] false\tmain.lua:6: engine.fail: code 8");
    assert!(!lines[2].contains("marker"), "{lines:?}");
    assert!(host.get("prober").unwrap().is_active());
}

#[test]
fn an_engine_call_is_paid_in_the_callers_fuel() {
    let fuel = |cost| {
        let mut host = host_with(Policy::allow_all, cost);
        host.load(source(
            "payer",
            "call = ['distance']",
            "function on_tick() for i = 1, 10 do engine.distance{ from = {0, 0}, to = {i, 0} } end end",
        ))
        .unwrap();
        let mut world = World::new();
        assert!(host.tick(&mut world, 0.1).all_ran());
        host.get("payer").unwrap().stats().fuel_used
    };
    let (free, priced) = (fuel(0), fuel(100_000));
    assert_eq!(priced - free, 10 * 100_000);
    assert_eq!(fuel(0), free, "the same inputs cost the same fuel");
}

#[test]
fn commands_reach_the_engine_only_from_calls_that_commit_in_mod_order() {
    let mut host = host();
    for (name, lua) in [
        (
            "a_first",
            "function on_tick() engine.emit('play_sound', { name = 'a1', volume = 0.5 }); engine.emit('play_sound', { name = 'a2', volume = 1 }) end",
        ),
        (
            "b_broken",
            "function on_tick() engine.emit('play_sound', { name = 'lost', volume = 1 }); world:spawn{ Position = { x = 0, y = 0 } }; error('boom') end",
        ),
        (
            "c_last",
            "function on_tick() engine.emit('play_sound', { name = 'c1', volume = 0.25 }) end",
        ),
    ] {
        host.load(source(name, "emit = ['play_sound']\nspawn = true", lua))
            .unwrap();
    }
    let mut world = World::new();
    let report = host.tick(&mut world, 0.1).clone();
    assert!(matches!(
        report.get("b_broken"),
        Some(Outcome::Failed { .. })
    ));
    let delivered: Vec<(String, Sound)> = report
        .commands()
        .iter()
        .map(|c| {
            assert_eq!(c.name(), "play_sound");
            (c.mod_name().to_owned(), c.decode().unwrap())
        })
        .collect();
    let sound = |name: &str, volume| Sound {
        name: name.into(),
        volume,
    };
    assert_eq!(
        delivered,
        [
            ("a_first".into(), sound("a1", 0.5)),
            ("a_first".into(), sound("a2", 1.0)),
            ("c_last".into(), sound("c1", 0.25)),
        ]
    );
    assert_eq!(
        world.len(),
        0,
        "the failed call's spawn was rolled back too"
    );
    // A report holds one tick's commands (the broken mod is disabled now).
    let report = host.tick(&mut world, 0.1).clone();
    assert_eq!(report.commands().len(), 3, "{report:?}");
}

#[test]
fn a_command_not_granted_is_a_violation_and_bad_data_is_a_clear_error() {
    let mut host = host();
    host.load(source(
        "loud",
        "emit = ['play_sound']",
        "function on_tick() engine.emit('play_sound', { name = 'x', volume = 'loud' }); engine.emit('shake_screen', {}) end",
    ))
    .unwrap();
    let mut world = World::new();
    let report = host.tick(&mut world, 0.1).clone();
    assert!(
        matches!(report.get("loud"), Some(Outcome::Failed { error: ScriptError::SecurityViolation { message, .. }, disabled: true })
            if message.contains("no permission to emit command 'shake_screen'")),
        "{report:?}"
    );
    assert!(report.commands().is_empty());
    // Data that does not fit the engine's type: the engine gets an error in
    // the mod author's terms.
    let mut host = self::host();
    host.load(source(
        "loud",
        "emit = ['play_sound']",
        "function on_tick() engine.emit('play_sound', { name = 'x', volume = 'loud' }) end",
    ))
    .unwrap();
    let report = host.tick(&mut world, 0.1).clone();
    let error = report.commands()[0].decode::<Sound>().unwrap_err();
    assert_eq!(error.mod_name, "loud");
    assert_eq!(
        error.reason,
        "field 'volume': got a string, which does not fit"
    );
    assert!(!error.reason.contains("marker"), "{error}");
}

#[test]
fn a_mod_flooding_commands_hits_the_bound_and_delivers_none() {
    let mut host = host();
    host.load(source(
        "flood",
        "emit = ['spam']",
        "function on_tick() local s = string.rep('x', 1000) for i = 1, 1e9 do engine.emit('spam', s) end end",
    ))
    .unwrap();
    host.load(source(
        "quiet",
        "emit = ['spam']",
        "function on_tick() engine.emit('spam', 1) end",
    ))
    .unwrap();
    let mut world = World::new();
    let report = host.tick(&mut world, 0.1).clone();
    assert!(
        matches!(report.get("flood"), Some(Outcome::Failed { error: ScriptError::ResourceLimitExceeded { kind: LimitKind::World, message, .. }, .. })
            if message.contains("commands")),
        "{report:?}"
    );
    assert_eq!(report.commands().len(), 1);
    assert_eq!(report.commands()[0].mod_name(), "quiet");
}

#[test]
fn other_mods_receive_commands_as_events_at_the_next_tick_in_emission_order() {
    let mut host = host();
    let emit = "function on_tick() if world:tick() == 1 then EMITS end end";
    let listen = "function on_event(name, data, from) print(world:tick(), name, data.n, from) end";
    for (name, permissions, lua) in [
        (
            "a_sender",
            "emit = ['ping']",
            emit.replace(
                "EMITS",
                "engine.emit('ping', { n = 1 }); engine.emit('ping', { n = 2 })",
            ),
        ),
        (
            "b_sender",
            "emit = ['ping']\nreceive = ['ping']",
            format!(
                "{}\n{listen}",
                emit.replace("EMITS", "engine.emit('ping', { n = 3 })")
            ),
        ),
        ("c_listener", "receive = ['ping']", listen.to_owned()),
        ("d_deaf", "", listen.to_owned()),
        // Emits, then fails: its event never happened.
        (
            "e_broken",
            "emit = ['ping']",
            "function on_tick() engine.emit('ping', { n = 99 }) error('no') end".to_owned(),
        ),
    ] {
        host.load(source(name, permissions, &lua)).unwrap();
    }
    let mut world = World::new();
    host.tick(&mut world, 0.1);
    assert!(
        printed(&host).iter().all(|l| l.starts_with("[moonbox]")),
        "{:?}",
        printed(&host)
    );
    host.tick(&mut world, 0.1);
    let received: Vec<String> = printed(&host)
        .into_iter()
        .filter(|l| !l.starts_with("[moonbox]"))
        .collect();
    assert_eq!(
        received,
        [
            // b does not hear itself; mods run in name order.
            "[b_sender] 2\tping\t1\ta_sender",
            "[b_sender] 2\tping\t2\ta_sender",
            "[c_listener] 2\tping\t1\ta_sender",
            "[c_listener] 2\tping\t2\ta_sender",
            "[c_listener] 2\tping\t3\tb_sender",
        ]
    );
    // Delivered once.
    host.tick(&mut world, 0.1);
    assert_eq!(
        printed(&host).len(),
        received.len() + 1,
        "{:?}",
        printed(&host)
    );
}

#[test]
fn a_flood_of_events_arrives_whole_and_in_order_in_bounded_calls() {
    let mut host = host();
    host.load(source(
        "flood",
        "emit = ['tick_data']",
        "function on_tick() if world:tick() == 1 then for i = 1, 1000 do engine.emit('tick_data', { i = i, pad = string.rep('x', 200) }) end end end",
    ))
    .unwrap();
    host.load(source(
        "sink",
        "receive = ['tick_data']",
        "count, last, calls, seen = 0, 0, 0, {}\n\
         function on_event(name, data) count = count + 1; assert(data.i == last + 1); last = data.i end\n\
         function on_tick() if world:tick() == 2 then print(count, last) end end",
    ))
    .unwrap();
    let mut world = World::new();
    host.tick(&mut world, 0.1);
    let report = host.tick(&mut world, 0.1).clone();
    assert!(report.all_ran(), "{report:?}");
    assert_eq!(printed(&host), ["[sink] 1000\t1000"]);
}

#[test]
fn command_data_too_deep_to_be_an_event_is_refused_when_emitted() {
    let mut host = host();
    host.load(source(
        "deep",
        "emit = ['x']",
        "function on_tick() local t = {} for i = 1, 28 do t = { t } end print(pcall(engine.emit, 'x', t)) end",
    ))
    .unwrap();
    let mut world = World::new();
    let report = host.tick(&mut world, 0.1).clone();
    assert!(
        report.all_ran() && report.commands().is_empty(),
        "{report:?}"
    );
    assert_eq!(
        printed(&host),
        ["[deep] false\tengine.emit: command data may nest at most 24 levels"]
    );
}
