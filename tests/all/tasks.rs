//! Work that spans ticks through the real sandbox: `task.spawn`, preempted
//! deterministically on fuel, each tick's slice its own transaction.

use std::sync::Arc;

use hecs::World;
use moonbox::demo::{self, Critter};
use moonbox::{ModSource, Moonbox, Outcome, Policy, ScriptError};

use crate::support::engine;

/// A long computation, then its result in the world.
const WORK: &str = r#"
local function work()
  local acc, t = 0, {}
  for i = 1, 100 do t[i] = 0 end
  for i = 1, 50000 do
    t[i % 100 + 1] = i
    acc = (acc * 31 + t[(i * 7) % 100 + 1]) % 1000000007
  end
  for e, p in world:query("Position") do acc = (acc + math.floor(p.x)) % 1000000007 end
  world:spawn{ Critter = { kind = "result " .. acc } }
  print("done at tick", world:tick())
end
"#;

fn host(max_task_ticks: u32) -> Moonbox {
    let registry = Arc::new(demo::registry().unwrap());
    Moonbox::builder(Arc::clone(&registry))
        .policy(Policy {
            max_task_ticks,
            ..Policy::allow_all(&registry)
        })
        .engine(engine().clone())
        .build()
        .unwrap()
}

fn load(host: &mut Moonbox, name: &str, fuel: u64, lua: &str) {
    let manifest = format!(
        "name = '{name}'\nversion = '1'\n[permissions]\nread = ['Position']\nwrite = ['Critter']\nspawn = true\nscope = 'all'\n[budget]\nfuel_per_call = {fuel}\n"
    );
    host.load(
        ModSource::from_parts(
            "test",
            &manifest,
            [("main.lua".into(), lua.as_bytes().to_vec())],
        )
        .unwrap(),
    )
    .unwrap();
}

fn results(world: &World) -> Vec<String> {
    world
        .query::<&Critter>()
        .iter()
        .filter(|c| c.kind.starts_with("result") || c.kind == "first" || c.kind == "second")
        .map(|c| c.kind.clone())
        .collect()
}

/// Runs `lua` in a fresh host over a fresh demo world: the results, what
/// it printed and its fuel.
fn run(fuel: u64, lua: &str, ticks: usize) -> (Vec<String>, Vec<String>, u64) {
    let mut host = host(100);
    load(&mut host, "worker", fuel, lua);
    let mut world = demo::world(5, 50);
    for _ in 0..ticks {
        let report = host.tick(&mut world, 0.1).clone();
        assert!(report.all_ran(), "{report:?}");
    }
    let printed = host.console().lines().map(|l| l.text.clone()).collect();
    (
        results(&world),
        printed,
        host.get("worker").unwrap().stats().fuel_used,
    )
}

#[test]
fn a_task_needing_many_ticks_of_budget_finishes_with_the_world_one_long_call_makes() {
    let task = format!("{WORK}\nfunction on_load() task.spawn(work) end");
    let (sliced, printed, fuel) = run(2_000_000, &task, 100);
    let whole = format!("{WORK}\nfunction on_load() work() end");
    let (reference, _, _) = run(1_000_000_000, &whole, 1);
    assert_eq!(reference.len(), 1);
    assert_eq!(sliced, reference, "{printed:?} {fuel}");
    // It needed several ticks of this budget, and said when it was done.
    let done: u64 = printed[0].rsplit('\t').next().unwrap().parse().unwrap();
    assert!((5..=100).contains(&done), "{printed:?} {fuel}");
    // The same run again: the same slices, the same fuel.
    assert_eq!(run(2_000_000, &task, 100), (sliced, printed, fuel));
}

#[test]
fn a_task_that_yields_does_a_slice_of_work_per_tick() {
    let lua = "n = 0\nfunction on_load() task.spawn(function(step) while true do n = n + step; coroutine.yield() end end, 2) end\n\
               function on_tick() print(world:tick(), n) end";
    let (_, printed, _) = run(10_000_000, lua, 3);
    // on_tick runs before the task in each tick.
    assert_eq!(printed, ["[worker] 1\t0", "[worker] 2\t2", "[worker] 3\t4"]);
}

#[test]
fn an_endless_task_is_ended_by_the_policy_and_the_others_run_on() {
    let mut host = host(5);
    load(
        &mut host,
        "endless",
        1_000_000,
        "function on_load() task.spawn(function() while true do end end) end",
    );
    load(&mut host, "steady", 1_000_000, "function on_tick() end");
    let mut world = World::new();
    let mut failed_at = None;
    for tick in 1..=10 {
        let report = host.tick(&mut world, 0.1).clone();
        assert_eq!(report.get("steady"), Some(&Outcome::Ran));
        if let Some(Outcome::Failed { error, disabled }) = report.get("endless") {
            assert!(*disabled);
            assert!(
                matches!(error, ScriptError::Runtime { message, .. } if message.contains("a task ran in 5 ticks without finishing")),
                "{error:?}"
            );
            failed_at.get_or_insert(tick);
        }
    }
    assert_eq!(failed_at, Some(6));
}

#[test]
fn a_task_slice_that_fails_rolls_back_only_its_own_writes() {
    let lua = "function on_load() task.spawn(function()\n\
                 world:spawn{ Critter = { kind = 'first' } }\n\
                 coroutine.yield()\n\
                 world:spawn{ Critter = { kind = 'second' } }\n\
                 error('task broke')\n\
               end) end";
    let mut host = host(100);
    load(&mut host, "worker", 10_000_000, lua);
    let mut world = World::new();
    assert!(host.tick(&mut world, 0.1).all_ran());
    let report = host.tick(&mut world, 0.1).clone();
    assert!(
        matches!(report.get("worker"), Some(Outcome::Failed { error: ScriptError::Runtime { message, .. }, .. }) if message.contains("task broke")),
        "{report:?}"
    );
    assert_eq!(results(&world), ["first"]);
}
