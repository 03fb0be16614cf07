//! Simulation snapshots: save, load in a new process and continue equals
//! one run; rollback re-simulates identically; a snapshot that does not
//! fit (other mods, sources, seed, a damaged file) changes nothing.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use moonbox::{Moonbox, Policy, Snapshot, SnapshotError};
use serde_json::Value;

/// Two mods that keep state everywhere Lua can (globals, closures, a
/// suspended coroutine, a task spanning ticks, entities they spawn and
/// despawn) and talk through events.
fn stateful_mods() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, manifest: &str, lua: &str| {
        let folder = dir.path().join(name);
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("mod.toml"), manifest).unwrap();
        std::fs::write(folder.join("main.lua"), lua).unwrap();
    };
    write(
        "keeper",
        r#"name = "keeper"
version = "1"
[permissions]
read = ["Position"]
write = ["Position", "Health"]
spawn = true
despawn = true
emit = ["ping"]
"#,
        r#"
total = 0
local function counter() local n = 0 return function(k) n = n + k return n end end
local add = counter()
local squares = coroutine.create(function() local i = 0 while true do i = i + 1 coroutine.yield(i * i) end end)
local mine = {}
task.spawn(function()
  local acc = 0
  for i = 1, 1e9 do
    acc = (acc + i * 31) % 1000003
    if i % 5000 == 0 then coroutine.yield() end
  end
end)
function on_tick(dt)
  local t = world:tick()
  total = add(t % 7)
  local _, sq = coroutine.resume(squares)
  if t % 3 == 0 then
    mine[#mine + 1] = world:spawn{ Position = { x = t, y = sq % 1000 }, Health = { hp = t % 10 + 1, max = 10 } }
  end
  if #mine > 5 then world:despawn(table.remove(mine, math.random(#mine))) end
  if t % 7 == 0 then engine.emit("ping", { t = t, total = total }) end
  if t % 10 == 0 then print("keeper", t, total, sq, #mine, math.random(100)) end
end
"#,
    );
    write(
        "listener",
        r#"name = "listener"
version = "1"
[permissions]
read = ["Position"]
receive = ["ping"]
"#,
        r#"
local heard = {}
function on_event(name, data, from)
  heard[#heard + 1] = data.total
  if #heard % 4 == 0 then print("listener", name, from, data.t, #heard, heard[#heard - 1]) end
end
"#,
    );
    dir
}

/// `moonbox sim --json` with `args`; the report.
fn sim(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_moonbox"))
        .arg("sim")
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap()
}

/// What must be equal: ticks, world, every mod's fuel, memory and status,
/// the console.
fn outcome(report: &Value) -> Value {
    serde_json::json!({
        "ticks": report["ticks"],
        "entities": report["entities"],
        "world_hash": report["world_hash"],
        "mods": report["mods"],
        "console_tail": report["console_tail"],
    })
}

fn split_run_equals_one_run(mods: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("at-100.snapshot");
    let file = file.to_str().unwrap();
    let whole = sim(&[mods, &["--ticks", "200"]].concat());
    sim(&[mods, &["--ticks", "100", "--save", file]].concat());
    let continued = sim(&[mods, &["--load", file, "--ticks", "100"]].concat());
    assert_eq!(outcome(&continued), outcome(&whole));
}

#[test]
fn the_demo_saved_and_loaded_in_new_processes_equals_one_run() {
    split_run_equals_one_run(&[]);
}

#[test]
fn mods_with_state_in_globals_closures_coroutines_tasks_and_events_continue_exactly() {
    let mods = stateful_mods();
    let path = mods.path().to_str().unwrap();
    let whole = sim(&[path, "--ticks", "200"]);
    // The mods did run and keep state: a sanity check on the test itself.
    let console = whole["console_tail"].to_string();
    assert!(
        console.contains("keeper") && console.contains("listener"),
        "{console}"
    );
    assert!(
        whole["mods"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["status"] == "active"),
        "{whole}"
    );
    split_run_equals_one_run(&[path]);
}

/// The demo's host and world, after `ticks` ticks.
fn demo_host(seed: u64) -> (Moonbox, hecs::World) {
    let registry = Arc::new(moonbox::demo::registry().unwrap());
    let mut host = Moonbox::builder(Arc::clone(&registry))
        .policy(Policy::allow_all(&registry))
        .seed(seed)
        .engine(crate::support::engine().clone())
        .build()
        .unwrap();
    for source in moonbox::demo::example_mods().unwrap() {
        host.load(source).unwrap();
    }
    (
        host,
        moonbox::demo::world(seed, moonbox::demo::DEMO_ENTITIES),
    )
}

/// Runs `k` ticks; each tick's world hash, fuel per mod and commands.
fn run(host: &mut Moonbox, world: &mut hecs::World, k: usize) -> Vec<(String, Vec<u64>, usize)> {
    (0..k)
        .map(|_| {
            let commands = host.tick(world, 1.0 / 60.0).commands().len();
            let fuel = host.mods().map(|m| m.stats().fuel_used).collect();
            (
                moonbox::world_hash(world, host.registry()).unwrap(),
                fuel,
                commands,
            )
        })
        .collect()
}

#[test]
fn rollback_re_simulates_the_same_ticks() {
    let (mut host, mut world) = demo_host(3);
    run(&mut host, &mut world, 40);
    let saved = host.snapshot(&world).unwrap();
    let first = run(&mut host, &mut world, 25);
    host.restore(&mut world, &saved).unwrap();
    assert_eq!(host.tick_count(), 40);
    let second = run(&mut host, &mut world, 25);
    assert_eq!(first, second);
    // Through bytes, as a save file would go.
    let reread = Snapshot::from_bytes(&saved.to_bytes()).unwrap();
    assert_eq!(reread, saved);
    host.restore(&mut world, &reread).unwrap();
    assert_eq!(run(&mut host, &mut world, 25), first);
}

fn expect_refused(
    host: &mut Moonbox,
    world: &mut hecs::World,
    snapshot: &Snapshot,
) -> SnapshotError {
    let tick = host.tick_count();
    let hash = moonbox::world_hash(world, host.registry()).unwrap();
    let error = host.restore(world, snapshot).unwrap_err();
    assert_eq!(
        host.tick_count(),
        tick,
        "a refused restore changed the tick"
    );
    assert_eq!(moonbox::world_hash(world, host.registry()).unwrap(), hash);
    error
}

#[test]
fn a_snapshot_restores_only_into_the_same_mods_sources_and_seed() {
    let (mut host, mut world) = demo_host(0);
    run(&mut host, &mut world, 5);
    let saved = host.snapshot(&world).unwrap();

    let (mut other_seed, mut world2) = demo_host(1);
    let error = expect_refused(&mut other_seed, &mut world2, &saved);
    assert!(
        matches!(error, SnapshotError::OtherConfig { .. }),
        "{error}"
    );

    let (mut fewer, mut world3) = demo_host(0);
    fewer.unload("medic").unwrap();
    let error = expect_refused(&mut fewer, &mut world3, &saved);
    assert!(
        matches!(&error, SnapshotError::Mod { name, .. } if name == "medic"),
        "{error}"
    );

    let (mut changed, mut world4) = demo_host(0);
    let mut source = changed.get("medic").unwrap().source().clone();
    changed.unload("medic").unwrap();
    source
        .files
        .values_mut()
        .next()
        .unwrap()
        .extend_from_slice(b"\n-- edited\n");
    changed.load(source).unwrap();
    let error = expect_refused(&mut changed, &mut world4, &saved);
    assert!(
        matches!(&error, SnapshotError::Mod { name, message } if name == "medic" && message.contains("sources")),
        "{error}"
    );
    // The refused host still runs.
    run(&mut changed, &mut world4, 2);
}

#[test]
fn damaged_snapshot_files_are_refused_with_the_reason() {
    let (mut host, world) = demo_host(0);
    let bytes = host.snapshot(&world).unwrap().to_bytes();
    let check = |bytes: &[u8], expect: fn(&SnapshotError) -> bool| {
        let error = Snapshot::from_bytes(bytes).unwrap_err();
        assert!(expect(&error), "{error}");
    };
    check(b"", |e| matches!(e, SnapshotError::NotASnapshot));
    check(&bytes[..bytes.len() - 1], |e| {
        matches!(e, SnapshotError::Corrupt { .. })
    });
    let mut flipped = bytes.clone();
    *flipped.last_mut().unwrap() ^= 0x40;
    check(&flipped, |e| matches!(e, SnapshotError::Checksum));
    let mut newer = bytes.clone();
    newer[16] += 1;
    check(&newer, |e| {
        matches!(
            e,
            SnapshotError::Version {
                found: 2,
                supported: 1
            }
        )
    });

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("save.snapshot");
    std::fs::write(&path, &flipped).unwrap();
    let error = Snapshot::read(&path).unwrap_err();
    assert!(matches!(error, SnapshotError::Checksum), "{error}");
    let error = Snapshot::read(Path::new("/nonexistent/save")).unwrap_err();
    assert!(matches!(error, SnapshotError::Io { .. }), "{error}");
}

/// `moonbox replay --json FILE`: exit code and report.
fn replay(file: &Path) -> (Option<i32>, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_moonbox"))
        .args(["replay", "--json"])
        .arg(file)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let report = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (
        out.status.code(),
        report,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_replay_starts_from_an_embedded_or_a_referenced_snapshot() {
    let mods = stateful_mods();
    let path = mods.path().to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    sim(&[path, "--ticks", "60", "--save", &at("s.snapshot")]);
    let whole = sim(&[path, "--ticks", "90"]);
    for (replay_file, reference) in [("embedded.replay", false), ("referenced.replay", true)] {
        let mut args = vec![path, "--ticks", "30", "--load", &at("s.snapshot")]
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>();
        args.extend(["--record".to_owned(), at(replay_file)]);
        if reference {
            args.push("--reference-snapshot".to_owned());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // Recording from a snapshot changes nothing of the run.
        assert_eq!(outcome(&sim(&args)), outcome(&whole), "{replay_file}");
        let (code, report, stderr) = replay(Path::new(&at(replay_file)));
        assert_eq!(code, Some(0), "{replay_file}: {report} {stderr}");
        assert_eq!(report["start_tick"], 60);
        assert_eq!(report["ticks"], 90);
        assert_eq!(report["identical"], true);
    }
    let embedded = std::fs::read_to_string(at("embedded.replay")).unwrap();
    let referenced = std::fs::read_to_string(at("referenced.replay")).unwrap();
    assert!(embedded.contains("\"start\":{\"embedded\":{\"sha256\":"));
    assert!(referenced.contains("\"start\":{\"file\":{\"sha256\":"));
    assert!(referenced.contains("\"name\":\"s.snapshot\""));

    // An input edited after recording: the replay from the snapshot
    // diverges at the tick of the change, located in the world.
    let edited = embedded.replacen(
        "\"events\":[]",
        "\"events\":[{\"tick\":70,\"name\":\"ping\",\"data\":{\"t\":1,\"total\":5}}]",
        1,
    );
    assert_ne!(edited, embedded);
    std::fs::write(at("edited.replay"), edited).unwrap();
    let (code, report, stderr) = replay(Path::new(&at("edited.replay")));
    assert_eq!(code, Some(5), "{report} {stderr}");
    assert_eq!(report["first_divergence"]["tick"], 70, "{report}");
    assert_eq!(report["inputs_edited"], true);

    // The referenced snapshot is checked: another snapshot in its place,
    // or the replay file alone in another folder, is refused (exit 2).
    let other = tempfile::tempdir().unwrap();
    std::fs::copy(at("referenced.replay"), other.path().join("r.replay")).unwrap();
    let (code, _, stderr) = replay(&other.path().join("r.replay"));
    assert_eq!(code, Some(2));
    assert!(stderr.contains("replay start snapshot"), "{stderr}");
    sim(&[path, "--ticks", "61", "--save", &at("s.snapshot")]);
    let (code, _, stderr) = replay(Path::new(&at("referenced.replay")));
    assert_eq!(code, Some(2));
    assert!(stderr.contains("SHA-256"), "{stderr}");

    // A name edited into the inputs (line 2, outside the checksum) cannot
    // reach outside the replay file's folder.
    let crafted = referenced.replacen("\"name\":\"s.snapshot\"", "\"name\":\"../s.snapshot\"", 1);
    std::fs::write(at("crafted.replay"), crafted).unwrap();
    let (code, _, stderr) = replay(Path::new(&at("crafted.replay")));
    assert_eq!(code, Some(2));
    assert!(stderr.contains("plain file name"), "{stderr}");
}
