//! The compiled-guest cache: an entry is loaded only if it is whole, ours
//! and made for this engine; anything else is compiled again, and an engine
//! always starts.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use moonbox::{CacheOutcome, EngineConfig, SandboxConfig, ScriptEngine};

fn engine_in(folder: &Path) -> ScriptEngine {
    engine_with(EngineConfig {
        cache: Some(folder.to_path_buf()),
        ..EngineConfig::default()
    })
}

fn engine_with(config: EngineConfig) -> ScriptEngine {
    let engine = ScriptEngine::with_config(&config).unwrap();
    // Whatever the cache did, the engine runs Lua.
    let mut sandbox = engine.sandbox(&SandboxConfig::default()).unwrap();
    sandbox.run("check.lua", b"print(6 * 7)").unwrap();
    let printed: Vec<_> = sandbox.console().lines().map(|l| l.text.clone()).collect();
    assert_eq!(printed, ["42"]);
    engine
}

/// The entry an engine's start wrote or loaded.
fn entry(engine: &ScriptEngine) -> PathBuf {
    match engine.cache_outcome() {
        CacheOutcome::Loaded { entry } | CacheOutcome::Compiled { entry, .. } => entry.clone(),
        other => panic!("no entry: {other:?}"),
    }
}

fn assert_stored_fresh(engine: &ScriptEngine) {
    assert!(
        matches!(
            engine.cache_outcome(),
            CacheOutcome::Compiled {
                rejected: None,
                not_stored: None,
                ..
            }
        ),
        "{:?}",
        engine.cache_outcome()
    );
}

/// Asserts the start compiled because the entry was rejected for `why`.
fn assert_rejected(engine: &ScriptEngine, why: &str) {
    match engine.cache_outcome() {
        CacheOutcome::Compiled {
            rejected: Some(reason),
            not_stored: None,
            ..
        } => assert!(reason.contains(why), "{reason}"),
        other => panic!("{other:?}"),
    }
}

fn assert_loaded(engine: &ScriptEngine) {
    assert!(
        matches!(engine.cache_outcome(), CacheOutcome::Loaded { .. }),
        "{:?}",
        engine.cache_outcome()
    );
}

#[test]
fn without_a_folder_the_cache_is_off() {
    assert_eq!(
        engine_with(EngineConfig::default()).cache_outcome(),
        &CacheOutcome::Off
    );
}

#[test]
fn a_second_engine_loads_what_the_first_stored() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("nested/cache");
    let first = engine_in(&folder);
    assert_stored_fresh(&first);
    let second = engine_in(&folder);
    assert_loaded(&second);
    assert_eq!(entry(&first), entry(&second));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&folder), 0o700, "a created folder is private");
        assert_eq!(mode(&entry(&first)), 0o600, "an entry is private");
    }
}

#[test]
fn a_corrupt_entry_is_compiled_again_and_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = entry(&engine_in(dir.path()));
    let mut bytes = fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    fs::write(&path, &bytes).unwrap();
    assert_rejected(&engine_in(dir.path()), "checksum does not match");
    assert_loaded(&engine_in(dir.path()));
}

#[test]
fn a_truncated_entry_is_compiled_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = entry(&engine_in(dir.path()));
    let bytes = fs::read(&path).unwrap();
    fs::write(&path, &bytes[..bytes.len() / 3]).unwrap();
    assert_rejected(&engine_in(dir.path()), "checksum does not match");
    fs::write(&path, &bytes[..20]).unwrap();
    assert_rejected(&engine_in(dir.path()), "not a Moonbox cache entry");
    fs::write(&path, b"").unwrap();
    assert_rejected(&engine_in(dir.path()), "not a Moonbox cache entry");
    assert_loaded(&engine_in(dir.path()));
}

#[test]
fn an_entry_made_for_another_configuration_is_never_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let plain = entry(&engine_in(dir.path()));
    // Epoch checks change the compiled code: another key, another entry.
    let epochs = EngineConfig {
        cache: Some(dir.path().to_path_buf()),
        wall_clock_backstop: true,
        ..EngineConfig::default()
    };
    let other = entry(&engine_with(epochs.clone()));
    assert_ne!(plain, other);
    // A whole, checksummed entry of the other configuration put under this
    // one's name: wasmtime's own check refuses it.
    fs::copy(&other, &plain).unwrap();
    assert_rejected(&engine_in(dir.path()), "wasmtime refused it");
    assert_loaded(&engine_in(dir.path()));
    assert_loaded(&engine_with(epochs));
}

#[test]
fn a_cache_that_cannot_be_written_still_starts() {
    let dir = tempfile::tempdir().unwrap();
    let path = entry(&engine_in(dir.path()));
    // The entry's name is taken by a folder: nothing can be stored there.
    fs::remove_file(&path).unwrap();
    fs::create_dir(&path).unwrap();
    match engine_in(dir.path()).cache_outcome() {
        CacheOutcome::Compiled {
            rejected: Some(rejected),
            not_stored: Some(not_stored),
            ..
        } => {
            assert!(rejected.contains("not a regular file"), "{rejected}");
            assert!(not_stored.contains("cannot write"), "{not_stored}");
        }
        other => panic!("{other:?}"),
    }
    // A read-only folder (which binds every user but root).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let readonly = tempfile::tempdir().unwrap();
        fs::set_permissions(readonly.path(), fs::Permissions::from_mode(0o500)).unwrap();
        let engine = engine_in(readonly.path());
        let root = ignores_permissions(readonly.path());
        match engine.cache_outcome() {
            CacheOutcome::Compiled {
                not_stored: Some(reason),
                ..
            } => assert!(!root && reason.contains("cannot write"), "{reason}"),
            CacheOutcome::Compiled {
                not_stored: None, ..
            } => assert!(root, "stored into a read-only folder"),
            other => panic!("{other:?}"),
        }
        fs::set_permissions(readonly.path(), fs::Permissions::from_mode(0o700)).unwrap();
    }
}

/// Whether this process ignores file permissions (root): it can create a
/// file in a folder of mode 0500.
#[cfg(unix)]
fn ignores_permissions(readonly: &Path) -> bool {
    let probe = readonly.join("probe");
    let root = fs::write(&probe, b"").is_ok();
    let _ = fs::remove_file(probe);
    root
}

#[cfg(unix)]
#[test]
fn a_folder_others_may_write_is_not_used_nor_a_linked_one_or_entry() {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared");
    fs::create_dir(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).unwrap();
    match engine_in(&shared).cache_outcome() {
        CacheOutcome::Unsafe { reason, .. } => {
            assert!(reason.contains("others may write"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fs::read_dir(&shared).unwrap().count(), 0, "nothing written");

    let private = dir.path().join("private");
    let path = entry(&engine_in(&private));
    let linked = dir.path().join("linked");
    symlink(&private, &linked).unwrap();
    match engine_in(&linked).cache_outcome() {
        CacheOutcome::Unsafe { reason, .. } => assert!(reason.contains("not a folder"), "{reason}"),
        other => panic!("{other:?}"),
    }

    // An entry that is a link to a valid entry elsewhere is not followed.
    let elsewhere = dir.path().join("elsewhere.cwasm");
    fs::rename(&path, &elsewhere).unwrap();
    symlink(&elsewhere, &path).unwrap();
    assert_rejected(&engine_in(&private), "not a regular file");
    assert_loaded(&engine_in(&private));

    // An entry others may write is not loaded.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o666)).unwrap();
    assert_rejected(&engine_in(&private), "others may write");
}

#[test]
fn engines_starting_at_once_all_end_with_a_valid_entry() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().to_path_buf();
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let folder = folder.clone();
            std::thread::spawn(move || engine_in(&folder).cache_outcome().clone())
        })
        .collect();
    for thread in threads {
        let outcome = thread.join().unwrap();
        assert!(
            matches!(
                outcome,
                CacheOutcome::Loaded { .. }
                    | CacheOutcome::Compiled {
                        not_stored: None,
                        ..
                    }
            ),
            "{outcome:?}"
        );
    }
    assert_loaded(&engine_in(&folder));
    // No temporary file is left behind.
    let names: Vec<_> = fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[test]
fn two_cli_processes_at_once_share_the_cache_and_no_cache_skips_it() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("hello.lua");
    fs::write(&script, "print('hi')").unwrap();
    let cache = dir.path().join("cache");
    let start = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_moonbox"))
            .args(extra)
            .arg("run")
            .arg(&script)
            .env("MOONBOX_CACHE", &cache)
            .output()
            .unwrap()
    };
    let skipped = start(&["--no-cache"]);
    assert_eq!(String::from_utf8_lossy(&skipped.stdout), "hi\n");
    assert!(!cache.exists(), "--no-cache stores nothing");
    let both = std::thread::scope(|scope| {
        let one = scope.spawn(|| start(&[]));
        let two = scope.spawn(|| start(&[]));
        [one.join().unwrap(), two.join().unwrap()]
    });
    for output in both {
        assert!(output.status.success(), "{output:?}");
        assert_eq!(String::from_utf8_lossy(&output.stdout), "hi\n");
        assert!(output.stderr.is_empty(), "{output:?}");
    }
    assert_loaded(&engine_in(&cache));
}
