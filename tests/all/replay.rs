//! Deterministic replay: record, replay in this process and in another,
//! detect tampering at the right tick, reject corrupted files, and stay
//! identical for a mod that tries to observe nondeterminism.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use moonbox::{ComponentRegistry, demo};
use moonbox::{
    RecordedEvent, RecordedMod, ReplayError, ReplayFile, ReplayInputs as Inputs, Simulation,
    TickRecord, replay,
};
use serde_json::{Value, json};

use crate::support::engine;

fn registry() -> Arc<ComponentRegistry> {
    Arc::new(demo::registry().unwrap())
}

/// Runs `inputs` to the end and records every tick (specialised, as the
/// run says, when the tests' engine specialises: `MOONBOX_TEST_SPECIALISE`).
fn record(inputs: &Inputs) -> ReplayFile {
    let inputs = Inputs {
        specialised: engine().specialises(),
        ..inputs.clone()
    };
    let mut sim = Simulation::new(engine(), registry(), &inputs).unwrap();
    let mut file = ReplayFile::new(inputs);
    file.ticks.push(sim.start().unwrap());
    while !sim.is_done() {
        file.ticks.push(sim.step(true).unwrap());
    }
    file
}

fn demo_inputs(ticks: u64) -> Inputs {
    Inputs::demo(&registry(), 3, ticks, 0.05).unwrap()
}

/// A mod that tries every way we know to observe something outside its
/// inputs, and writes what it saw into the world, so any difference would
/// change the world hash.
const OBSERVER: &str = r#"
local seen = {}
local function note(v) seen[#seen + 1] = tostring(v) end
local collected = 0
function on_tick(dt)
  note(os and os.time and os.time())
  note(os and os.clock and os.clock())
  note(tostring({}))
  note(tostring(print))
  note(string.format("%p", {}))
  local mixed = { 1, 2, 3, x = 1, y = 2, [10] = 3, [2.5] = 4, [true] = 5 }
  for k in pairs(mixed) do note(k) end
  local set = {}
  for i = 1, 50 do set["k" .. i] = i end
  for k in pairs(set) do note(k) end
  note(collectgarbage("count"))
  setmetatable({}, { __gc = function() collected = collected + 1 end })
  for i = 1, 200 do local _ = { i } end
  note(collected)
  note(math.random())
  note(#seen)
  local digest = table.concat(seen, ",")
  world:spawn{ Critter = { kind = digest:sub(-2000) } }
  seen = {}
end
"#;

/// The manifest of a mod that may spawn entities with a `Critter`.
fn critter_manifest(name: &str) -> String {
    format!("name = '{name}'\nversion = '1'\n[permissions]\nwrite = ['Critter']\nspawn = true\n")
}

/// Writes a mod folder `name` (see [`critter_manifest`]) with `main.lua`.
fn mod_folder(root: &Path, name: &str, lua: &str) -> std::path::PathBuf {
    let dir = root.join(name);
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("mod.toml"), critter_manifest(name)).unwrap();
    std::fs::write(dir.join("main.lua"), lua).unwrap();
    dir
}

fn observer_inputs(ticks: u64) -> Inputs {
    let manifest = critter_manifest("observer");
    let mut inputs = Inputs::new(&registry(), &demo::world(1, 20), &[], 9, ticks, 0.1).unwrap();
    inputs.mods.push(RecordedMod {
        manifest,
        files: [("main.lua".to_owned(), OBSERVER.to_owned())].into(),
    });
    inputs
}

#[test]
fn record_then_replay_in_the_same_process_is_identical() {
    let file = record(&demo_inputs(40));
    let text = file.to_text();
    let read = ReplayFile::from_text(&text).unwrap();
    assert_eq!(read, file);
    let report = replay(engine(), &registry(), &read, None).unwrap();
    assert!(report.identical, "{report:?}");
    assert_eq!(report.ticks, 40);
    assert!(report.first_divergence.is_none());
    assert!(!report.inputs_edited);
    // Two recordings of the same run are the same bytes.
    assert_eq!(record(&demo_inputs(40)).to_text(), text);
}

#[test]
fn a_mod_observing_addresses_iteration_order_gc_and_time_replays_identically() {
    let file = record(&observer_inputs(15));
    assert!(file.ticks[0].disabled.is_empty(), "{:?}", file.ticks[0]);
    assert!(file.ticks.iter().skip(1).all(|t| t.fuel["observer"] > 0));
    let again = record(&observer_inputs(15));
    assert_eq!(again.to_text(), file.to_text());
    let report = replay(
        engine(),
        &registry(),
        &ReplayFile::from_text(&file.to_text()).unwrap(),
        None,
    )
    .unwrap();
    assert!(report.identical, "{report:?}");
}

/// The first tick whose records differ, computed by running both inputs.
fn first_differing_tick(a: &Inputs, b: &Inputs) -> u64 {
    let (ra, rb) = (record(a), record(b));
    ra.ticks
        .iter()
        .zip(&rb.ticks)
        .find(|(x, y)| x != y)
        .map(|(x, _): (&TickRecord, _)| x.tick)
        .expect("the edit changes something")
}

#[test]
fn an_edited_seed_is_detected_at_the_first_tick_it_changes() {
    let mut file = record(&demo_inputs(60));
    file.inputs.seed += 1;
    let expected = first_differing_tick(&file.recorded_inputs, &file.inputs);
    let read = ReplayFile::from_text(&file.to_text()).unwrap();
    assert!(read.inputs_edited());
    let report = replay(engine(), &registry(), &read, None).unwrap();
    assert!(!report.identical);
    let divergence = report.first_divergence.unwrap();
    assert_eq!(divergence.tick, expected);
    assert_eq!(report.ticks, expected);
}

#[test]
fn an_edited_event_is_detected_at_its_tick_down_to_the_field() {
    let manifest = "name = 'healer'\nversion = '1'\n[permissions]\nread = ['Health']\nwrite = ['Health']\nscope = 'all'\n";
    let lua = "function on_event(name, data)
                 for e, h in world:query('Health') do
                   world:set(e, 'Health', { hp = data.hp, max = h.max })
                   return
                 end
               end";
    let mut inputs = Inputs::new(&registry(), &demo::world(2, 10), &[], 0, 20, 0.1).unwrap();
    inputs.mods.push(RecordedMod {
        manifest: manifest.into(),
        files: [("main.lua".to_owned(), lua.to_owned())].into(),
    });
    inputs.events.push(RecordedEvent {
        tick: 12,
        name: "heal".into(),
        data: json!({ "hp": 7 }),
    });
    let mut file = record(&inputs);
    file.inputs.events[0].data = json!({ "hp": 8 });
    let report = replay(engine(), &registry(), &file, None).unwrap();
    let divergence = report.first_divergence.unwrap();
    assert_eq!(divergence.tick, 12);
    assert_eq!(divergence.component.as_deref(), Some("Health"));
    assert!(divergence.entity.is_some());
    assert!(
        divergence
            .detail
            .contains("Health.hp: recorded 7, replayed 8"),
        "{}",
        divergence.detail
    );
}

#[test]
fn corrupted_truncated_foreign_and_newer_files_are_refused() {
    let text = record(&demo_inputs(5)).to_text();
    // One recorded result changed: the checksum no longer matches.
    let corrupted = text.replacen("\"tick\":3,", "\"tick\":33,", 1);
    assert!(matches!(
        ReplayFile::from_text(&corrupted),
        Err(ReplayError::Corrupted { .. })
    ));
    let truncated: String = text.lines().take(6).map(|l| format!("{l}\n")).collect();
    assert!(matches!(
        ReplayFile::from_text(&truncated),
        Err(ReplayError::Corrupted { .. })
    ));
    let newer = text.replacen("\"version\":2", "\"version\":3", 1);
    assert!(matches!(
        ReplayFile::from_text(&newer),
        Err(ReplayError::NewerVersion { found: 3 })
    ));
    assert!(matches!(
        ReplayFile::from_text("hello\n"),
        Err(ReplayError::NotReplay { .. })
    ));
    assert!(matches!(
        ReplayFile::from_text(""),
        Err(ReplayError::NotReplay { .. })
    ));
}

fn moonbox(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_moonbox"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn cli_record_and_replay_in_separate_processes() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.replay");
    let b = dir.path().join("b.replay");
    let path = |p: &Path| p.to_str().unwrap().to_owned();
    let (code, _, _) = moonbox(&["sim", "--ticks", "80", "--record", &path(&a)]);
    assert_eq!(code, 0);
    let (code, _, _) = moonbox(&["sim", "--ticks", "80", "--record", &path(&b)]);
    assert_eq!(code, 0);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());

    let (code, stdout, _) = moonbox(&["replay", "--json", &path(&a)]);
    assert_eq!(code, 0, "{stdout}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["ticks"], 80);
    assert_eq!(report["identical"], true);
    assert_eq!(report["first_divergence"], Value::Null);

    // One input edited: the seed the mods' random streams come from.
    let text = std::fs::read_to_string(&a).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[1] = lines[1].replacen("\"seed\":0,", "\"seed\":5,", 1);
    let edited = dir.path().join("edited.replay");
    std::fs::write(&edited, lines.join("\n") + "\n").unwrap();
    let file = ReplayFile::from_text(&std::fs::read_to_string(&edited).unwrap()).unwrap();
    let expected = first_differing_tick(&file.recorded_inputs, &file.inputs);
    let (code, stdout, _) = moonbox(&["replay", "--json", &path(&edited)]);
    assert_eq!(code, 5, "{stdout}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["identical"], false);
    assert_eq!(report["first_divergence"]["tick"], expected);

    let (code, _, stderr) = moonbox(&["replay", &path(&dir.path().join("missing.replay"))]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read"), "{stderr}");
}

#[test]
fn cli_observer_mod_records_and_replays_identically_across_processes() {
    let dir = tempfile::tempdir().unwrap();
    let mod_dir = mod_folder(dir.path(), "observer", OBSERVER);
    let file = dir.path().join("o.replay");
    let (code, _, stderr) = moonbox(&[
        "sim",
        mod_dir.to_str().unwrap(),
        "--ticks",
        "20",
        "--record",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, _) = moonbox(&["replay", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("identical: 20 ticks"), "{stdout}");
}

#[test]
fn cli_events_are_injected_recorded_and_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let mod_dir = mod_folder(
        dir.path(),
        "listener",
        "function on_event(name, data) world:spawn{ Critter = { kind = name .. ':' .. data.kind } } end",
    );
    let events = dir.path().join("events.json");
    std::fs::write(
        &events,
        r#"[{"tick": 2, "name": "arrive", "data": {"kind": "owl"}},
            {"tick": 4, "name": "arrive", "data": {"kind": "fox"}}]"#,
    )
    .unwrap();
    let file = dir.path().join("e.replay");
    let run = |extra: &[&str]| {
        let mut args = vec!["sim", mod_dir.to_str().unwrap(), "--ticks", "5", "--json"];
        args.extend_from_slice(extra);
        moonbox(&args)
    };
    let (code, plain, _) = run(&[]);
    assert_eq!(code, 0);
    let (code, with_events, stderr) = run(&[
        "--events",
        events.to_str().unwrap(),
        "--record",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let entities = |out: &str| serde_json::from_str::<Value>(out).unwrap()["entities"].clone();
    assert_eq!(
        entities(&with_events),
        entities(&plain).as_u64().unwrap() + 2
    );
    let recorded = ReplayFile::from_text(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(recorded.inputs.events.len(), 2);
    assert_eq!(recorded.inputs.events[1].data, json!({"kind": "fox"}));
    let (code, stdout, _) = moonbox(&["replay", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}");

    std::fs::write(&events, "not json").unwrap();
    let (code, _, stderr) = run(&["--events", events.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("events.json"), "{stderr}");
}

/// A mod whose commands depend on math.random: each tick's commands are
/// recorded (count and hash) and a replay that emits others diverges there.
#[test]
fn commands_are_recorded_and_a_replay_that_emits_others_diverges() {
    let lua = "function on_tick() for i = 1, math.random(3) do engine.emit('play_sound', { n = math.random(100) }) end end";
    let mut inputs = Inputs::new(&registry(), &demo::world(1, 5), &[], 9, 20, 0.1).unwrap();
    inputs.mods.push(RecordedMod {
        manifest: "name = 'beeper'\nversion = '1'\n[permissions]\nemit = ['play_sound']\n".into(),
        files: [("main.lua".to_owned(), lua.to_owned())].into(),
    });
    let file = record(&inputs);
    assert!(
        file.ticks[1..]
            .iter()
            .all(|t| t.commands >= 1 && t.commands_hash.len() == 64)
    );
    let read = ReplayFile::from_text(&file.to_text()).unwrap();
    assert_eq!(read, file);
    assert!(
        replay(engine(), &registry(), &read, None)
            .unwrap()
            .identical
    );
    // Someone else's commands at tick 7: the replay names the tick.
    let mut forged = file.clone();
    forged.ticks[7].commands_hash = "0".repeat(64);
    let report = replay(engine(), &registry(), &forged, None).unwrap();
    let divergence = report.first_divergence.unwrap();
    assert_eq!(divergence.tick, 7);
    assert!(
        divergence.detail.starts_with("commands: recorded"),
        "{}",
        divergence.detail
    );
}

/// Tasks preempted on fuel and events between mods replay bit for bit.
#[test]
fn runs_with_tasks_and_events_replay_identically() {
    let worker = "function on_load() task.spawn(function()\n\
                    local acc = 0\n\
                    for i = 1, 10000 do acc = (acc * 33 + i + math.random(9)) % 65521 end\n\
                    engine.emit('result', { acc = acc, tick = world:tick() })\n\
                  end) end";
    let listener = "function on_event(name, data, from) world:spawn{ Critter = { kind = from .. ':' .. data.acc .. '@' .. data.tick } } end";
    let mut inputs = Inputs::new(&registry(), &demo::world(1, 5), &[], 9, 40, 0.1).unwrap();
    inputs.mods.push(RecordedMod {
        manifest: "name = 'worker'\nversion = '1'\n[permissions]\nemit = ['result']\n[budget]\nfuel_per_call = 1_000_000\n".into(),
        files: [("main.lua".to_owned(), worker.to_owned())].into(),
    });
    inputs.mods.push(RecordedMod {
        manifest: "name = 'listener'\nversion = '1'\n[permissions]\nreceive = ['result']\nwrite = ['Critter']\nspawn = true\n".into(),
        files: [("main.lua".to_owned(), listener.to_owned())].into(),
    });
    let file = record(&inputs);
    // The task spanned ticks, its command went out once, and the listener
    // turned it into an entity the tick after.
    let emitted: Vec<u64> = file
        .ticks
        .iter()
        .filter(|t| t.commands > 0)
        .map(|t| t.tick)
        .collect();
    let disabled: Vec<_> = file.ticks.iter().flat_map(|t| t.disabled.clone()).collect();
    assert_eq!(emitted.len(), 1, "{emitted:?} {disabled:?}");
    assert!(emitted[0] > 2, "{emitted:?}");
    assert_ne!(
        file.ticks[emitted[0] as usize].world_hash,
        file.ticks[emitted[0] as usize + 1].world_hash
    );
    let read = ReplayFile::from_text(&file.to_text()).unwrap();
    let report = replay(engine(), &registry(), &read, None).unwrap();
    assert!(report.identical, "{report:?}");
}
