//! Sandbox snapshots: a restored sandbox behaves bit for bit like the one
//! it was taken from, taking one changes nothing, and a damaged or foreign
//! snapshot is refused without harming the host.

use moonbox::{LimitKind, SandboxConfig, SandboxSnapshot, ScriptError, SnapshotError};

use crate::support::{engine, printed};

/// A script that keeps state everywhere Lua can: globals, upvalues of
/// closures, a suspended coroutine, a table big enough to grow the memory.
const STATEFUL: &[u8] = br#"
count = 0
local secret = 10
local function make() local n = 0 return function() n = n + 1 secret = secret + n return n end end
bump = make()
gen = coroutine.wrap(function() local i = 0 while true do i = i + 1 coroutine.yield(i * i) end end)
big = {}
function step(k)
  count = count + 1
  for i = 1, k do big[#big + 1] = string.rep("x", i % 50) .. i end
  print(count, bump(), gen(), secret, #big, math.random(1000))
end
"#;

fn stateful() -> moonbox::Sandbox {
    let mut sandbox = engine().sandbox(&SandboxConfig::default()).unwrap();
    sandbox.run("stateful.lua", STATEFUL).unwrap();
    sandbox
}

/// Runs `step(k)` for each `k`, returning each call's fuel and print.
fn steps(sandbox: &mut moonbox::Sandbox, ks: &[u32]) -> Vec<(u64, String)> {
    ks.iter()
        .map(|k| {
            sandbox.call_with("step", &(k,)).unwrap();
            let line = printed(sandbox).last().cloned().unwrap();
            (sandbox.last_fuel_used(), line)
        })
        .collect()
}

#[test]
fn a_restored_sandbox_continues_exactly_as_the_original() {
    let mut original = stateful();
    steps(&mut original, &[10, 2000, 5]);
    let snapshot = original.snapshot().unwrap();
    let after = steps(&mut original, &[7, 30_000, 1]);

    let mut restored = engine()
        .restore_sandbox(&SandboxConfig::default(), &snapshot)
        .unwrap();
    assert_eq!(restored.fuel_used(), snapshot.fuel_used());
    assert_eq!(printed(&restored).len(), 3, "the console came back");
    assert_eq!(steps(&mut restored, &[7, 30_000, 1]), after);
    assert_eq!(restored.fuel_used(), original.fuel_used());
    assert_eq!(restored.memory_peak(), original.memory_peak());
    assert_eq!(
        restored.lua_memory().unwrap(),
        original.lua_memory().unwrap()
    );
    // The same snapshot restores any number of times.
    let mut again = engine()
        .restore_sandbox(&SandboxConfig::default(), &snapshot)
        .unwrap();
    assert_eq!(steps(&mut again, &[7, 30_000, 1]), after);
}

#[test]
fn a_sandbox_rolls_back_in_place_unless_its_memory_grew_past_the_snapshot() {
    let mut sandbox = stateful();
    steps(&mut sandbox, &[10, 20]);
    let saved = sandbox.snapshot().unwrap();
    let after = steps(&mut sandbox, &[7, 3, 1]);
    for _ in 0..3 {
        assert!(sandbox.restore_in_place(&saved).unwrap());
        assert_eq!(sandbox.fuel_used(), saved.fuel_used());
        assert_eq!(steps(&mut sandbox, &[7, 3, 1]), after);
    }
    // A big table grows the memory: the snapshot no longer fits in place,
    // and nothing changed.
    steps(&mut sandbox, &[50_000]);
    let fuel = sandbox.fuel_used();
    assert!(!sandbox.restore_in_place(&saved).unwrap());
    assert_eq!(sandbox.fuel_used(), fuel);
    let mut fresh = engine()
        .restore_sandbox(&SandboxConfig::default(), &saved)
        .unwrap();
    assert_eq!(steps(&mut fresh, &[7, 3, 1]), after);
}

#[test]
fn taking_a_snapshot_changes_nothing() {
    let mut plain = stateful();
    let mut watched = stateful();
    for k in [3, 500, 40_000, 2] {
        watched.snapshot().unwrap();
        assert_eq!(steps(&mut watched, &[k]), steps(&mut plain, &[k]));
    }
    assert_eq!(watched.fuel_used(), plain.fuel_used());
    // And two snapshots of the same state are the same bytes.
    assert_eq!(watched.snapshot().unwrap(), watched.snapshot().unwrap());
}

#[test]
fn a_snapshot_stores_what_differs_from_a_fresh_sandbox() {
    let mut small = stateful();
    let small = small.snapshot().unwrap();
    let mut big = stateful();
    steps(&mut big, &[50_000]);
    let big = big.snapshot().unwrap();
    assert!(small.memory_bytes() < 64 * 1024, "{}", small.memory_bytes());
    assert!(big.memory_bytes() > 1024 * 1024, "{}", big.memory_bytes());
    assert!(big.stored_bytes() < big.memory_bytes() as usize / 2);
}

#[test]
fn a_snapshot_restores_only_with_the_settings_it_was_taken_with() {
    let snapshot = stateful().snapshot().unwrap();
    let other = SandboxConfig {
        seed: 7,
        ..SandboxConfig::default()
    };
    let error = engine().restore_sandbox(&other, &snapshot).err().unwrap();
    assert!(
        matches!(error, SnapshotError::OtherConfig { .. }),
        "{error}"
    );
}

/// Edits a snapshot as JSON: how a crafted save file would change it.
fn edited(
    snapshot: &SandboxSnapshot,
    edit: impl FnOnce(&mut serde_json::Value),
) -> SandboxSnapshot {
    let mut value = serde_json::to_value(snapshot).unwrap();
    edit(&mut value);
    serde_json::from_value(value).unwrap()
}

#[test]
fn crafted_snapshots_are_refused_or_stay_inside_the_sandbox() {
    let snapshot = stateful().snapshot().unwrap();
    let config = SandboxConfig::default();
    let restore = |s: &SandboxSnapshot| engine().restore_sandbox(&config, s);

    let other_guest = edited(&snapshot, |v| {
        v["guest"][0] = (v["guest"][0].as_u64().unwrap() ^ 1).into()
    });
    assert!(matches!(
        restore(&other_guest),
        Err(SnapshotError::OtherGuest { .. })
    ));

    // A run into the shadow stack, a run past the memory, runs out of
    // order, a memory over the cap, bytes that do not decompress.
    let edits: [fn(&mut serde_json::Value); 6] = [
        |v| v["memory"]["Live"]["runs"][0][0] = 4096.into(),
        |v| v["memory"]["Live"]["runs"][0][0] = u32::MAX.into(),
        |v| {
            let runs = v["memory"]["Live"]["runs"].as_array_mut().unwrap();
            runs.reverse();
        },
        |v| v["memory"]["Live"]["pages"] = 100_000.into(),
        |v| v["memory"]["Live"]["compressed"] = serde_json::json!([1, 2, 3]),
        |v| v["memory"]["Live"]["state"] = 8.into(),
    ];
    for edit in edits {
        let crafted = edited(&snapshot, edit);
        let error = restore(&crafted).err().unwrap();
        assert!(matches!(error, SnapshotError::Corrupt { .. }), "{error}");
    }

    // Garbage in the right places: the Lua heap is broken, which only the
    // sandbox sees. Its next call fails (a trap or a Lua error), and the
    // host goes on.
    let garbage = edited(&snapshot, |v| {
        let Some(memory) = v["memory"]["Live"].as_object_mut() else {
            return;
        };
        let runs = memory["runs"].as_array().unwrap().clone();
        let total: u64 = runs.iter().map(|r| r[1].as_u64().unwrap()).sum();
        let noise: Vec<u8> = (0..total).map(|i| (i * 7919 % 251) as u8).collect();
        memory["compressed"] = serde_json::to_value(lz4_flex_compress(&noise)).unwrap();
    });
    if let Ok(mut broken) = restore(&garbage) {
        let _ = broken.call_with("step", &(1,));
    }
    let mut healthy = stateful();
    assert_eq!(steps(&mut healthy, &[3]).len(), 1);
}

/// LZ4 block compression, as the snapshot stores memory.
fn lz4_flex_compress(bytes: &[u8]) -> Vec<u8> {
    lz4_flex::block::compress(bytes)
}

#[test]
fn a_discarded_sandbox_restores_discarded() {
    let mut sandbox = engine()
        .sandbox(&SandboxConfig {
            limits: moonbox::Limits {
                fuel: 1_000_000,
                ..moonbox::Limits::default()
            },
            ..SandboxConfig::default()
        })
        .unwrap();
    sandbox
        .run(
            "spin.lua",
            b"print('before') function spin() while true do end end",
        )
        .unwrap();
    assert!(sandbox.call("spin").is_err());
    let snapshot = sandbox.snapshot().unwrap();
    assert!(snapshot.is_poisoned());
    let config = SandboxConfig {
        limits: moonbox::Limits {
            fuel: 1_000_000,
            ..moonbox::Limits::default()
        },
        ..SandboxConfig::default()
    };
    let mut restored = engine().restore_sandbox(&config, &snapshot).unwrap();
    assert_eq!(restored.poisoned_by(), Some(LimitKind::Fuel));
    assert_eq!(printed(&restored), ["before"]);
    assert!(matches!(
        restored.call("spin"),
        Err(ScriptError::SandboxPoisoned { .. })
    ));
}
