//! Reload with state: the old version's `on_unload()` hands a value to the
//! new version's `on_reload(state)`, through the real sandbox.

use std::path::Path;
use std::sync::Arc;

use moonbox::demo::Health;
use moonbox::{Handover, LimitKind, LoadError, Moonbox, ScriptError, demo};

use crate::support;
use crate::world::{Fixture, fixture};

const MANIFEST: &str = "name = 'keeper'\nversion = '1'\n[permissions]\nread = ['Health']\nwrite = ['Health']\nscope = 'all'\n";

/// Keeps a count in a local, a list and a nested record, and hands them on.
const V1: &str = r#"
local count = 0
local seen = {}
function on_load() print('v1 fresh') end
function on_tick()
    count = count + 1
    seen[#seen + 1] = 'tick' .. count
end
function on_unload()
    return { count = count, seen = seen, pos = { x = 1.5, y = -2 }, flag = true }
end
"#;

/// Takes the state over and goes on counting; `on_load` must not run.
const V2: &str = r#"
local count
function on_load() print('v2 fresh') end
function on_reload(state)
    count = state.count
    print('v2 took over', state.count, table.concat(state.seen, ','),
          state.pos.x, state.pos.y, math.type(state.pos.y), state.flag)
end
function on_tick()
    count = count + 1
    print('v2 count', count)
end
"#;

fn write(dir: &Path, main: &str) {
    std::fs::write(dir.join("mod.toml"), MANIFEST).unwrap();
    std::fs::write(dir.join("main.lua"), main).unwrap();
}

/// A fixture with `keeper` loaded from a folder holding `main`.
fn keeper(main: &str) -> (Fixture, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), main);
    let mut f = fixture();
    f.manager.load_dir(dir.path()).unwrap();
    (f, dir)
}

fn reload(f: &mut Fixture) -> Result<Handover, LoadError> {
    f.system.reload(&mut f.manager, &mut f.world, "keeper")
}

#[test]
fn on_unload_hands_its_state_to_on_reload_of_the_new_version() {
    let (mut f, dir) = keeper(V1);
    for _ in 0..3 {
        f.tick();
    }
    let calls_before = f.manager.get("keeper").unwrap().stats().calls;
    write(dir.path(), V2);
    let handover = reload(&mut f).unwrap();
    let Handover::State { bytes } = handover else {
        panic!("no state handed over: {handover:?}");
    };
    assert!(bytes > 20, "{bytes}");
    f.tick();
    f.tick();
    assert_eq!(
        f.printed(),
        [
            "[keeper] v1 fresh",
            "[keeper] v2 took over\t3\ttick1,tick2,tick3\t1.5\t-2\tinteger\ttrue",
            "[keeper] v2 count\t4",
            "[keeper] v2 count\t5",
        ]
    );
    // The on_unload call counts in the mod's statistics, across the reload:
    // then on_reload and two on_ticks.
    let stats = f.manager.get("keeper").unwrap().stats();
    assert_eq!(stats.calls, calls_before + 1 + 3);
}

#[test]
fn without_on_reload_or_on_unload_the_new_version_starts_fresh() {
    // The new version has no on_reload: on_load runs, the state is dropped.
    let (mut f, dir) = keeper(V1);
    f.tick();
    write(dir.path(), "function on_load() print('v3 fresh') end");
    assert!(matches!(reload(&mut f).unwrap(), Handover::State { .. }));
    f.tick();
    assert_eq!(f.printed(), ["[keeper] v1 fresh", "[keeper] v3 fresh"]);

    // The old version has no on_unload: nothing to hand over.
    let (mut f, dir) = keeper("function on_load() print('plain') end");
    f.tick();
    write(
        dir.path(),
        V2.replace("count + 1", "(count or 0) + 1").as_str(),
    );
    assert_eq!(reload(&mut f).unwrap(), Handover::NoHandler);
    f.tick();
    assert_eq!(
        f.printed(),
        [
            "[keeper] plain",
            "[keeper] v2 fresh",
            "[keeper] v2 count\t1"
        ]
    );
}

#[test]
fn on_unload_runs_as_a_handler_whose_writes_commit() {
    let (mut f, dir) = keeper(&format!(
        "{V1}\nfunction on_unload() world:set({}, 'Health', {{ hp = 99, max = 99 }}) return 7 end",
        mover_bits()
    ));
    f.tick();
    write(dir.path(), "function on_reload(n) print('got', n) end");
    assert!(matches!(
        reload(&mut f).unwrap(),
        Handover::State { bytes: 1 }
    ));
    assert_eq!(f.world.get::<&Health>(f.mover).unwrap().hp, 99);
    f.tick();
    assert_eq!(f.printed().last().unwrap(), "[keeper] got\t7");
}

/// The handle of the fixture's `mover`: the same in every fixture (the first
/// entity of a new world), so a mod's source can name it before loading.
fn mover_bits() -> u64 {
    fixture().mover.to_bits().get()
}

/// Whether an error is the one a case expects.
type Expected = fn(&ScriptError) -> bool;

#[test]
fn a_failing_on_unload_leaves_the_world_and_the_new_version_starts_fresh() {
    let cases: [(&str, Expected); 3] = [
        (
            "function on_unload() world:set(MOVER, 'Health', { hp = 1, max = 1 }) error('no') end",
            |e| matches!(e, ScriptError::Runtime { message, .. } if message.contains("no")),
        ),
        (
            "function on_unload() return { f = print } end",
            |e| matches!(e, ScriptError::Runtime { message, .. } if message.contains("cannot be handed over")),
        ),
        (
            "function on_unload() world:set(MOVER, 'Health', { hp = 1, max = 1 }) while true do end end",
            |e| {
                matches!(
                    e,
                    ScriptError::ResourceLimitExceeded {
                        kind: LimitKind::Fuel,
                        ..
                    }
                )
            },
        ),
    ];
    for (unload, expected) in cases {
        let unload = unload.replace("MOVER", &mover_bits().to_string());
        let (mut f, dir) = keeper(&format!("{V1}\n{unload}"));
        f.tick();
        write(
            dir.path(),
            V2.replace("count + 1", "(count or 0) + 1").as_str(),
        );
        let handover = reload(&mut f).unwrap();
        let Handover::Failed { error } = &handover else {
            panic!("{unload}: {handover:?}");
        };
        assert!(expected(error), "{unload}: {error:?}");
        assert_eq!(f.world.get::<&Health>(f.mover).unwrap().hp, 5, "{unload}");
        let printed = f.printed();
        assert!(
            printed
                .last()
                .unwrap()
                .contains("(in on_unload); its new version starts without its state"),
            "{printed:?}"
        );
        f.tick();
        assert!(f.active("keeper"), "{unload}");
        assert_eq!(
            f.printed()[printed.len()..],
            ["[keeper] v2 fresh", "[keeper] v2 count\t1"],
            "{unload}"
        );
    }
}

#[test]
fn a_disabled_mod_hands_nothing_over_and_a_failed_reload_changes_nothing() {
    let (mut f, dir) = keeper(&format!("{V1}\nfunction on_tick() error('broken') end"));
    f.tick();
    assert!(!f.active("keeper"));
    write(dir.path(), V2);
    assert_eq!(reload(&mut f).unwrap(), Handover::NotActive);
    assert!(f.active("keeper"));

    // A new version that does not compile: the old one is untouched, and
    // its on_unload did not run (it would have printed).
    let (mut f, dir) = keeper(&format!(
        "{V1}\nfunction on_unload() print('unloading') return count end\nfunction on_tick() count = count + 1 print(count) end"
    ));
    f.tick();
    write(dir.path(), "function on_reload(");
    assert!(matches!(reload(&mut f), Err(LoadError::Script { .. })));
    f.tick();
    assert_eq!(
        f.printed(),
        ["[keeper] v1 fresh", "[keeper] 1", "[keeper] 2"]
    );
}

#[test]
fn a_snapshot_taken_between_reload_and_tick_keeps_the_state_for_on_reload() {
    let registry = Arc::new(demo::registry().unwrap());
    let mut host = support::host(&registry);
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), V1);
    host.load_dir(dir.path()).unwrap();
    let mut world = demo::world(1, 4);
    for _ in 0..2 {
        host.tick(&mut world, 0.1);
    }
    write(dir.path(), V2);
    assert!(matches!(
        host.reload(&mut world, "keeper").unwrap(),
        Handover::State { .. }
    ));
    let snapshot = host.snapshot(&world).unwrap();
    let lines = |host: &Moonbox| -> Vec<String> {
        host.console().lines().map(|l| l.text.clone()).collect()
    };
    host.tick(&mut world, 0.1);
    let first = lines(&host);
    let restored = moonbox::Snapshot::from_bytes(&snapshot.to_bytes()).unwrap();
    host.restore(&mut world, &restored).unwrap();
    host.tick(&mut world, 0.1);
    assert_eq!(lines(&host), first);
    assert_eq!(
        first[first.len() - 2..],
        [
            "[keeper] v2 took over\t2\ttick1,tick2\t1.5\t-2\tinteger\ttrue",
            "[keeper] v2 count\t3"
        ]
    );
}
