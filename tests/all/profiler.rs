//! The fuel profiler (`EngineConfig::profile`, `--profile`): where fuel
//! went, per Lua stack, the same on every run, bounded whatever the script.

use std::path::Path;
use std::sync::OnceLock;

use moonbox::{
    EngineConfig, LimitKind, Limits, SandboxConfig, ScriptEngine, ScriptError, SnapshotError,
};

/// One profiling engine for the tests of this module.
fn profiling() -> &'static ScriptEngine {
    static ENGINE: OnceLock<ScriptEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        ScriptEngine::with_config(&EngineConfig {
            profile: true,
            ..EngineConfig::default()
        })
        .expect("the engine builds")
    })
}

fn sandbox(limits: Limits) -> moonbox::Sandbox {
    profiling()
        .sandbox(&SandboxConfig {
            limits,
            ..SandboxConfig::default()
        })
        .unwrap()
}

const HOT: &[u8] = br#"
local function leaf(n) local s = 0 for i = 1, n do s = s + i % 7 end return s end
local function cold(n) return leaf(n) end
function hot(n) local s = 0 for _ = 1, 20 do s = s + leaf(n) end return s end
function on_tick() print(hot(20000) + cold(1000)) end
"#;

#[test]
fn the_profile_accounts_every_unit_of_fuel_to_the_function_that_spent_it() {
    let mut sandbox = sandbox(Limits::default());
    sandbox.run("hot.lua", HOT).unwrap();
    assert!(sandbox.call("on_tick").unwrap());
    let profile = sandbox.profile().expect("the engine profiles");
    assert_eq!(profile.total(), sandbox.fuel_used());

    let functions = profile.functions();
    let find = |name: &str| {
        functions
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("{name} in {functions:#?}"))
    };
    let on_tick = find("on_tick");
    let hot = find("hot (hot.lua:4)");
    let leaf = find("leaf (hot.lua:2)");
    // The entry holds the whole call; `hot` nearly all of it, through
    // `leaf`, which spends it itself.
    assert_eq!(on_tick.inclusive, sandbox.last_fuel_used());
    assert!(
        hot.inclusive * 100 > on_tick.inclusive * 90,
        "{functions:#?}"
    );
    assert!(leaf.exclusive * 100 > hot.inclusive * 90, "{functions:#?}");
    assert!(hot.exclusive < leaf.exclusive / 10, "{functions:#?}");

    let folded = profile.folded("m");
    for line in folded.lines() {
        let (stack, fuel) = line.rsplit_once(' ').unwrap();
        assert!(stack.starts_with("m;"), "{line}");
        assert!(fuel.parse::<u64>().unwrap() > 0, "{line}");
    }
    assert!(
        folded.contains("m;on_tick;on_tick (hot.lua:5);hot (hot.lua:4);leaf (hot.lua:2) "),
        "{folded}"
    );
}

#[test]
fn the_same_run_gives_the_same_profile_and_an_unprofiled_engine_none() {
    let run = || {
        let mut sandbox = sandbox(Limits::default());
        sandbox.run("hot.lua", HOT).unwrap();
        sandbox.call("on_tick").unwrap();
        sandbox.profile().unwrap().folded("m")
    };
    assert_eq!(run(), run());

    let mut plain = crate::support::sandbox();
    plain.run("hot.lua", HOT).unwrap();
    assert!(plain.profile().is_none());
}

#[test]
fn a_script_stopped_for_fuel_leaves_a_profile_naming_the_runaway_function() {
    let mut sandbox = sandbox(crate::support::quick_limits());
    let error = sandbox
        .run(
            "runaway.lua",
            b"local function fine() return 1 end\n\
              local function spin() local x = 0 while true do x = x + fine() end end\n\
              spin()",
        )
        .unwrap_err();
    assert!(
        matches!(
            error,
            ScriptError::ResourceLimitExceeded {
                kind: LimitKind::Fuel,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(sandbox.is_poisoned());
    let profile = sandbox.profile().expect("kept after the trap");
    assert_eq!(profile.total(), sandbox.fuel_used());
    let functions = profile.functions();
    let hottest = functions
        .iter()
        .filter(|f| f.name != "runaway.lua")
        .max_by_key(|f| f.exclusive)
        .unwrap();
    assert_eq!(hottest.name, "spin (runaway.lua:2)", "{functions:#?}");
}

#[test]
fn hostile_names_and_endless_distinct_functions_stay_bounded_and_clean() {
    let mut sandbox = sandbox(Limits {
        fuel: 50_000_000_000,
        ..Limits::default()
    });
    // 9,000 distinct functions (more than a profile names), each with a
    // name and a chunk name that try to break the folded format and the
    // terminal, each run long enough to be sampled. `pcall` calls them, so
    // their names come from the globals holding them.
    sandbox
        .run(
            "names.lua",
            br#"
            for i = 1, 9000 do
              local name = "f;" .. i .. "\n\27[31m"
              local f = load("return function() local s = 0 for i = 1, 400 do s = s + i end end",
                             "=chunk;" .. i .. "\27]52;c;x\7")()
              _G[name] = f
              pcall(f)
              _G[name] = nil
            end
            "#,
        )
        .unwrap();
    let profile = sandbox.profile().unwrap();
    assert_eq!(profile.total(), sandbox.fuel_used());
    let folded = profile.folded("m");
    assert!(folded.lines().count() <= moonbox::MAX_STACKS + 1);
    assert!(
        folded.contains("[other functions]"),
        "the caps were reached"
    );
    for line in folded.lines() {
        assert!(!line.chars().any(char::is_control), "{line:?}");
        let (stack, _) = line.rsplit_once(' ').unwrap();
        for frame in stack.split(';') {
            assert!(frame.len() <= moonbox::MAX_LABEL_LEN, "{frame}");
        }
    }
    assert!(
        folded.contains(";f,17??[31m (chunk,17?]52,c,x?:1) "),
        "{folded}"
    );
    // The sandbox is as healthy as before.
    sandbox.run("after.lua", b"assert(1 + 1 == 2)").unwrap();
}

#[test]
fn tasks_and_coroutines_are_profiled() {
    let registry = std::sync::Arc::new(moonbox::ComponentRegistry::new());
    let mut host = moonbox::Moonbox::builder(std::sync::Arc::clone(&registry))
        .policy(moonbox::Policy::allow_all(&registry))
        .engine(profiling().clone())
        .build()
        .unwrap();
    let source = crate::support::inline_mod(
        "name = 'worker'\nversion = '1'",
        r#"
            local function chew(n) local s = 0 for i = 1, n do s = s + i end return s end
            local function in_task() for _ = 1, 5 do chew(50000) coroutine.yield() end end
            local function in_coroutine() chew(200000) end
            function on_load() task.spawn(in_task) end
            function on_tick() coroutine.wrap(in_coroutine)() end
            "#,
    );
    host.load(source).unwrap();
    let mut world = hecs::World::new();
    for _ in 0..5 {
        host.tick(&mut world, 1.0 / 60.0);
    }
    let loaded = host.manager().get("worker").unwrap();
    assert!(loaded.is_active(), "{:?}", loaded.status());
    let folded = loaded.profile().unwrap().folded("worker");
    // A task or a coroutine is its own stack; its function, unnamed by a
    // caller and held by no global, is named by its line.
    assert!(
        folded.contains("worker;[tasks];function (main.lua:3);chew (main.lua:2) "),
        "{folded}"
    );
    assert!(
        folded.contains("worker;on_tick;function (main.lua:4);chew (main.lua:2) "),
        "{folded}"
    );
}

#[test]
fn a_profiling_engine_neither_takes_nor_restores_snapshots() {
    let mut profiled = sandbox(Limits::default());
    assert!(matches!(profiled.snapshot(), Err(SnapshotError::Profiling)));
    let mut plain = crate::support::sandbox();
    let saved = plain.snapshot().unwrap();
    assert!(matches!(
        profiling().restore_sandbox(&SandboxConfig::default(), &saved),
        Err(SnapshotError::Profiling)
    ));
}

#[test]
fn the_demo_profile_is_byte_identical_across_processes_and_names_the_hottest_function() {
    let profile_in = |dir: &Path| {
        let out = crate::support::moonbox_in(dir, &["sim", "--profile", "demo.folded"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        let folded = std::fs::read(dir.join("demo.folded")).unwrap();
        let svg = std::fs::read(dir.join("demo.folded.svg")).unwrap();
        (stdout, folded, svg)
    };
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (stdout, folded, svg) = profile_in(a.path());
    let (_, folded_again, svg_again) = profile_in(b.path());
    assert!(folded == folded_again, "the folded profiles differ");
    assert!(svg == svg_again, "the flamegraphs differ");
    // And they are the ones docs/profiling.md and the README show.
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/profile");
    assert!(
        folded == std::fs::read(docs.join("demo.folded")).unwrap(),
        "docs/profile/demo.folded is stale: moonbox sim --profile docs/profile/demo.folded"
    );
    assert!(
        svg == std::fs::read(docs.join("demo.folded.svg")).unwrap(),
        "docs/profile/demo.folded.svg is stale: moonbox sim --profile docs/profile/demo.folded"
    );

    let folded = String::from_utf8(folded).unwrap();
    for name in ["hostile", "medic", "movement", "spawner"] {
        assert!(folded.contains(&format!("\n{name};")), "{name}: {folded}");
    }
    let svg = String::from_utf8(svg).unwrap();
    assert!(
        svg.starts_with("<?xml") && svg.contains("movement"),
        "{svg}"
    );
    // The summary names the hottest function: the iterator of movement's
    // query loop, which decodes and writes back every entity's values.
    let hottest = stdout
        .lines()
        .skip_while(|l| !l.starts_with("profile:"))
        .nth(2)
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(hottest.trim_start().starts_with("movement "), "{stdout}");
    assert!(hottest.ends_with(" for iterator [C]"), "{stdout}");
    assert!(
        folded.contains("\nmovement;on_tick;on_tick (main.lua:17);for iterator [C] "),
        "{folded}"
    );
}

#[test]
fn profile_cannot_be_combined_with_record_save_or_load() {
    let dir = tempfile::tempdir().unwrap();
    for other in ["--record", "--save", "--load"] {
        let out = crate::support::moonbox_in(dir.path(), &["sim", "--profile", "p", other, "x"]);
        assert_eq!(out.status.code(), Some(2), "{other}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains("cannot be used with"), "{stderr}");
    }
}

#[test]
fn run_writes_the_profile_and_keeps_stdout_for_the_script() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hot.lua"), [HOT, b"on_tick()"].concat()).unwrap();
    let out =
        crate::support::moonbox_in(dir.path(), &["run", "hot.lua", "--profile", "run.folded"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("leaf (hot.lua:2)"), "{stderr}");
    let folded = std::fs::read_to_string(dir.path().join("run.folded")).unwrap();
    assert!(folded.starts_with("hot.lua;hot.lua;"), "{folded}");
    assert!(dir.path().join("run.folded.svg").exists());
}
