//! Mods from disk: manifests, files, `require`, bad input at load, the
//! bundled example mods and `moonbox sim` from outside.

use std::path::Path;
use std::process::Command;

use moonbox::{LoadError, ModSource};
use moonbox::{ModStatus, ScriptError, demo};
use serde_json::Value;

use crate::world::{fixture, source};

fn write(dir: &Path, path: &str, text: &str) {
    let path = dir.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn a_mod_folder_loads_with_its_files_and_require_stays_inside_it() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "mod.toml", "name = 'split'\nversion = '2.0'\n");
    write(
        dir.path(),
        "main.lua",
        "local util = require('lib.util')
         assert(require('lib.util') == util, 'modules load once')
         print(util.twice(21))
         print(pcall(require, 'os'))
         print(pcall(require, '../secret'))
         print(pcall(require, 'loop'))",
    );
    write(
        dir.path(),
        "lib/util.lua",
        "return { twice = function(n) return n * 2 end }",
    );
    write(dir.path(), "loop.lua", "return require('loop')");
    write(dir.path(), "notes.txt", "not lua: not loaded");
    let source = ModSource::from_dir(dir.path()).unwrap();
    assert_eq!(
        source.files.keys().collect::<Vec<_>>(),
        ["lib/util.lua", "loop.lua", "main.lua"]
    );
    let mut f = fixture();
    f.manager.load(source).unwrap();
    f.tick();
    let loaded = f.manager.get("split").unwrap();
    assert_eq!(loaded.version(), "2.0");
    // Top-level output goes to the mod's own console, drained at its first call.
    let lines = f.printed();
    assert_eq!(lines[0], "[split] 42");
    assert!(
        lines[1].contains("false") && lines[1].contains("not found"),
        "{lines:?}"
    );
    assert!(
        lines[2].contains("false") && lines[2].contains("not found"),
        "{lines:?}"
    );
    assert!(
        lines[3].contains("false") && lines[3].contains("circular"),
        "{lines:?}"
    );
}

#[test]
fn bad_manifests_are_clear_errors() {
    let cases: &[(&str, &str)] = &[
        ("version = '1'", "missing field `name`"),
        (
            "name = 'x'\nversion = '1'\ncolour = 'red'",
            "unknown field `colour`",
        ),
        (
            "name = 'bad name'\nversion = '1'",
            "must be 1 to 64 letters",
        ),
        ("name = 'x'\nversion = ''", "version must not be empty"),
        (
            "name = 'x'\nversion = '1'\nentry = '../main.lua'",
            "inside the mod's folder",
        ),
        (
            "name = 'x'\nversion = '1'\n[permissions]\nscope = 'everything'",
            "permissions.scope",
        ),
        (
            "name = 'x'\nversion = '1'\n[budget]\nfuel_per_tick = -5",
            "fuel_per_tick",
        ),
        ("name = = 'x'", "line 1"),
    ];
    for (manifest, expected) in cases {
        let err =
            ModSource::from_parts("here", manifest, [("main.lua".into(), Vec::new())]).unwrap_err();
        assert!(
            matches!(&err, LoadError::Manifest { origin, error } if origin == "here" && error.to_string().contains(expected)),
            "{manifest}: {err}"
        );
    }
}

#[test]
fn load_errors_name_the_mod_file_and_line_and_the_rest_keep_loading() {
    let root = tempfile::tempdir().unwrap();
    write(
        root.path(),
        "a_good/mod.toml",
        "name = 'good'\nversion = '1'\n",
    );
    write(root.path(), "a_good/main.lua", "function on_tick() end");
    write(
        root.path(),
        "b_syntax/mod.toml",
        "name = 'syntax'\nversion = '1'\n",
    );
    write(root.path(), "b_syntax/main.lua", "x = 1\n\nfunction (");
    write(
        root.path(),
        "c_missing/mod.toml",
        "name = 'missing'\nversion = '1'\nentry = 'start.lua'\n",
    );
    write(
        root.path(),
        "d_unknown/mod.toml",
        "name = 'unknown'\nversion = '1'\n[permissions]\nread = ['Mana']\n",
    );
    write(root.path(), "d_unknown/main.lua", "");
    write(
        root.path(),
        "e_runtime/mod.toml",
        "name = 'runtime'\nversion = '1'\n",
    );
    write(root.path(), "e_runtime/main.lua", "\nerror('nope')");
    write(
        root.path(),
        "f_dup/mod.toml",
        "name = 'good'\nversion = '2'\n",
    );
    write(root.path(), "f_dup/main.lua", "");

    let mut f = fixture();
    let results = f.manager.load_all(root.path()).unwrap();
    assert_eq!(results.len(), 6);
    assert_eq!(results[0], Ok("good".to_owned()));
    assert!(
        matches!(&results[1], Err(LoadError::Script { name, error: ScriptError::Syntax { script, line: Some(3), .. } }) if name == "syntax" && script == "main.lua"),
        "{:?}",
        results[1]
    );
    assert!(
        matches!(&results[2], Err(LoadError::MissingFile { name, file }) if name == "missing" && file == "start.lua")
    );
    assert!(
        matches!(&results[3], Err(LoadError::Rejected { name, message }) if name == "unknown" && message.contains("'Mana'"))
    );
    assert!(
        matches!(
            &results[4],
            Err(LoadError::Script {
                error: ScriptError::Runtime { line: Some(2), .. },
                ..
            })
        ),
        "{:?}",
        results[4]
    );
    assert!(matches!(&results[5], Err(LoadError::Duplicate { name }) if name == "good"));
    assert_eq!(f.manager.mods().count(), 1);
    assert!(f.manager.load_all(&root.path().join("nowhere")).is_err());
}

#[test]
fn reload_reads_the_folder_again_and_keeps_the_old_mod_if_the_new_one_fails() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "mod.toml", "name = 'live'\nversion = '1'\n");
    write(dir.path(), "main.lua", "function on_tick() print('v1') end");
    let mut f = fixture();
    f.manager.load_dir(dir.path()).unwrap();
    f.tick();
    write(dir.path(), "main.lua", "function on_tick() print('v2') end");
    f.manager.reload("live").unwrap();
    f.tick();
    write(dir.path(), "main.lua", "function on_tick( print('v3') end");
    assert!(f.manager.reload("live").is_err());
    f.tick();
    assert_eq!(f.printed(), ["[live] v1", "[live] v2", "[live] v2"]);
}

#[test]
fn the_bundled_hostile_mod_is_disabled_and_the_others_keep_running() {
    let registry = std::sync::Arc::new(demo::registry().unwrap());
    let mut manager = moonbox::ScriptManager::new(
        crate::support::engine().clone(),
        registry.clone(),
        moonbox::Policy::allow_all(&registry),
    );
    for source in demo::example_mods().unwrap() {
        manager.load(source).unwrap();
    }
    let mut world = demo::world(7, 50);
    let start: Vec<demo::Position> = world.query::<&demo::Position>().iter().copied().collect();
    let mut system = moonbox::ScriptSystem::new();
    for _ in 0..30 {
        system.tick(&mut manager, &mut world, 0.1);
    }
    let status = |name| manager.get(name).unwrap().status().clone();
    let ModStatus::Disabled { reason } = status("hostile") else {
        panic!("hostile is still active");
    };
    assert!(
        reason.contains("no write permission for component 'Position'"),
        "{reason}"
    );
    for name in ["medic", "movement", "spawner"] {
        assert_eq!(status(name), ModStatus::Active, "{name}");
    }
    // Nothing was teleported to the origin, and things did move.
    let now: Vec<demo::Position> = world.query::<&demo::Position>().iter().copied().collect();
    assert!(now.iter().all(|p| p.x != 0.0 || p.y != 0.0));
    assert_ne!(start[..], now[..start.len()]);
    // The spawner keeps at most `keep` (4) of its own critters.
    assert_eq!(world.len(), 50 + 1);
}

#[test]
fn the_example_mod_folders_load_from_disk_like_the_embedded_ones() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/mods");
    let mut f = fixture();
    let results = f.manager.load_all(&examples).unwrap();
    let names: Vec<_> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(names, ["hostile", "medic", "movement", "spawner"]);
    for (disk, embedded) in f.manager.mods().zip(demo::example_mods().unwrap()) {
        assert_eq!(disk.source().files, embedded.files);
        assert_eq!(disk.source().manifest, embedded.manifest);
    }
}

fn sim(args: &[&str]) -> (i32, Value) {
    let output = Command::new(env!("CARGO_BIN_EXE_moonbox"))
        .arg("sim")
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output.status.code().unwrap_or(-1), json)
}

#[test]
fn sim_runs_the_demo_and_reports_each_mod_and_a_stable_world_hash() {
    let (code, report) = sim(&["--ticks", "60"]);
    assert_eq!(code, 0);
    assert_eq!(report["ticks"], 60);
    let mods = report["mods"].as_array().unwrap();
    let by_name = |name: &str| mods.iter().find(|m| m["name"] == name).unwrap().clone();
    assert_eq!(by_name("hostile")["status"], "disabled");
    assert!(
        by_name("hostile")["reason"]
            .as_str()
            .unwrap()
            .contains("Position")
    );
    for name in ["medic", "movement", "spawner"] {
        assert_eq!(by_name(name)["status"], "active");
        assert!(by_name(name)["fuel_used"].as_u64().unwrap() > 0);
        assert!(by_name(name)["memory_peak"].as_u64().unwrap() > 0);
    }
    let hash = report["world_hash"].as_str().unwrap().to_owned();
    assert_eq!(hash.len(), 64);
    let (_, again) = sim(&["--ticks", "60"]);
    assert_eq!(again["world_hash"], hash.as_str());
    let (_, other_seed) = sim(&["--ticks", "60", "--seed", "1"]);
    assert_ne!(other_seed["world_hash"], hash.as_str());
}

#[test]
fn sim_takes_a_world_file_and_mod_folders_and_refuses_bad_worlds() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "world.json",
        r#"{"entities": [{"Position": {"x": 1, "y": 1}, "Velocity": {"x": 60, "y": 0}}]}"#,
    );
    write(
        dir.path(),
        "bad.json",
        r#"{"entities": [{"Position": {"x": "one"}}]}"#,
    );
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/mods/movement");
    let world = dir.path().join("world.json");
    let (code, report) = sim(&[
        examples.to_str().unwrap(),
        "--world",
        world.to_str().unwrap(),
        "--ticks",
        "2",
        "--dt",
        "0.5",
    ]);
    assert_eq!(code, 0);
    assert_eq!(report["entities"], 1);
    assert_eq!(report["mods"].as_array().unwrap().len(), 1);

    let bad = dir.path().join("bad.json");
    let output = Command::new(env!("CARGO_BIN_EXE_moonbox"))
        .args(["sim", "--world", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("entity #0") && stderr.contains("Position"),
        "{stderr}"
    );
}

#[test]
fn inline_sources_and_the_mod_seed_give_each_mod_its_own_random_stream() {
    let mut f = fixture();
    let lua = "function on_tick() print(math.random(1, 1000000)) end";
    f.manager.load(source("r1", "", lua)).unwrap();
    f.manager.load(source("r2", "", lua)).unwrap();
    f.tick();
    let lines = f.printed();
    let value = |l: &str| l.split(' ').nth(1).unwrap().to_owned();
    assert_ne!(value(&lines[0]), value(&lines[1]));
}

#[test]
fn statistics_add_up_across_reload_and_a_reloading_enable() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "mod.toml", "name = 'counted'\nversion = '1'\n");
    write(
        dir.path(),
        "main.lua",
        "function on_tick() local s = 0 for i = 1, 1000 do s = s + i end end",
    );
    let mut f = fixture();
    f.manager.load_dir(dir.path()).unwrap();
    f.tick();
    f.tick();
    let first = f.manager.get("counted").unwrap().stats();
    assert_eq!(first.calls, 3, "on_load and two on_tick");
    assert!(first.fuel_used > 0);
    f.manager.reload("counted").unwrap();
    let reloaded = f.manager.get("counted").unwrap();
    assert_eq!(reloaded.stats(), first, "a reload keeps what was used");
    assert_eq!(reloaded.incarnation_stats().calls, 0);
    f.tick();
    let after = f.manager.get("counted").unwrap();
    assert_eq!(after.stats().calls, first.calls + 2);
    assert_eq!(
        after.stats().fuel_used,
        first.fuel_used + after.incarnation_stats().fuel_used
    );

    // A trap discards the sandbox; enabling reloads it and keeps the totals.
    write(
        dir.path(),
        "main.lua",
        "function on_tick() while true do end end",
    );
    f.manager.reload("counted").unwrap();
    f.tick();
    let trapped = f.manager.get("counted").unwrap().stats();
    assert!(!f.active("counted"));
    f.manager.enable("counted").unwrap();
    assert_eq!(f.manager.get("counted").unwrap().stats(), trapped);
}

#[test]
fn fuel_per_call_is_the_budget_key_and_fuel_per_tick_still_works() {
    let load = |budget: &str| {
        ModSource::from_parts(
            "here",
            &format!("name = 'x'\nversion = '1'\n[budget]\n{budget}\n"),
            [("main.lua".into(), Vec::new())],
        )
    };
    let mut f = fixture();
    let new = load("fuel_per_call = 12345678").unwrap();
    assert!(new.manifest.deprecations().is_empty());
    f.manager.load(new).unwrap();
    assert_eq!(f.manager.get("x").unwrap().limits().fuel, 12_345_678);
    f.manager.unload("x").unwrap();

    let old = load("fuel_per_tick = 23456789").unwrap();
    assert_eq!(old.manifest.deprecations().len(), 1);
    f.manager.load(old).unwrap();
    assert_eq!(f.manager.get("x").unwrap().limits().fuel, 23_456_789);

    let both = load("fuel_per_call = 1\nfuel_per_tick = 2").unwrap_err();
    assert!(
        matches!(
            &both,
            LoadError::Manifest {
                error: moonbox::ManifestError::Invalid {
                    field: "budget.fuel_per_call",
                    ..
                },
                ..
            }
        ),
        "{both:?}"
    );
}

#[test]
fn a_huge_sparse_lua_file_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "mod.toml", "name = 'sparse'\nversion = '1'\n");
    write(dir.path(), "main.lua", "");
    // 3 GiB that take no disk: before, the loader read them whole.
    let file = std::fs::File::create(dir.path().join("big.lua")).unwrap();
    file.set_len(3 << 30).unwrap();
    let err = ModSource::from_dir(dir.path()).unwrap_err();
    assert!(
        matches!(&err, LoadError::Io { message, .. } if message.contains(&moonbox::MAX_SOURCE_BYTES.to_string())),
        "{err}"
    );
}

#[test]
fn an_oversized_manifest_is_refused_unread_and_long_lines_are_not_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let huge = format!(
        "name = 'x'\nversion = '1'\n{}",
        "#".repeat(moonbox::MAX_MANIFEST_BYTES)
    );
    write(dir.path(), "mod.toml", &huge);
    write(dir.path(), "main.lua", "");
    let err = ModSource::from_dir(dir.path()).unwrap_err();
    assert!(
        matches!(
            &err,
            LoadError::Manifest {
                error: moonbox::ManifestError::Unreadable { .. },
                ..
            }
        ),
        "{err}"
    );

    // A malformed line of 60 KiB is quoted as a short excerpt.
    let long = format!("name = 'x'\nversion = '1'\nbad = {}\n", "z".repeat(60_000));
    let err = ModSource::from_parts("here", &long, [("main.lua".into(), Vec::new())]).unwrap_err();
    let text = err.to_string();
    assert!(matches!(&err, LoadError::Manifest { .. }), "{err:?}");
    assert!(text.len() < 2048, "{} bytes of error", text.len());
}

#[cfg(unix)]
#[test]
fn a_manifest_that_is_a_symbolic_link_is_not_followed() {
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "secret.txt", "TOP SECRET first line\n");
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        dir.path().join("mod.toml"),
    )
    .unwrap();
    write(dir.path(), "main.lua", "");
    let err = ModSource::from_dir(dir.path()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("symbolic link"), "{text}");
    assert!(!text.contains("SECRET"), "{text}");
}
