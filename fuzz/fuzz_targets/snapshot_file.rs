//! Arbitrary bytes as a snapshot, the way a shared save file arrives.
//!
//! The input is read twice: as a whole file (header checks), and as the
//! body of a file whose header and checksum are made right, so that the
//! fuzzer reaches the decoder and the restore behind the checksum. A body
//! that decodes is restored into the demo; whatever it holds, the host must
//! not panic: a restore is refused with an error, or it succeeds and the
//! next tick runs (a broken Lua heap only disables its mod). Then the host
//! is put back to where it started.
#![no_main]

use std::sync::{Arc, Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use moonbox::{Moonbox, Policy, SNAPSHOT_FORMAT_VERSION, ScriptEngine, Snapshot};
use sha2::{Digest, Sha256};

struct Demo {
    host: Moonbox,
    world: hecs::World,
    start: Snapshot,
}

static DEMO: OnceLock<Mutex<Demo>> = OnceLock::new();

fn demo() -> &'static Mutex<Demo> {
    DEMO.get_or_init(|| {
        let registry = Arc::new(moonbox::demo::registry().expect("registry"));
        let mut host = Moonbox::builder(Arc::clone(&registry))
            .policy(Policy::allow_all(&registry))
            .engine(ScriptEngine::new().expect("engine"))
            .build()
            .expect("host");
        for source in moonbox::demo::example_mods().expect("mods") {
            host.load(source).expect("a demo mod loads");
        }
        let mut world = moonbox::demo::world(0, 50);
        host.tick(&mut world, 1.0 / 60.0);
        let start = host.snapshot(&world).expect("snapshot");
        Mutex::new(Demo { host, world, start })
    })
}

/// `body` with a header and checksum that are right.
fn framed(body: &[u8]) -> Vec<u8> {
    let mut bytes = b"moonbox snapshot".to_vec();
    bytes.extend_from_slice(&SNAPSHOT_FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&(body.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&Sha256::digest(body));
    bytes.extend_from_slice(body);
    bytes
}

// The engine compiles the guest: in libFuzzer's initialisation, not in the
// first input, whose time -timeout bounds.
fuzz_target!(init: {
    demo();
}, |data: &[u8]| {
    let _ = Snapshot::from_bytes(data);
    let Ok(snapshot) = Snapshot::from_bytes(&framed(data)) else {
        return;
    };
    let mut guard = demo().lock().unwrap_or_else(|e| e.into_inner());
    let Demo { host, world, start } = &mut *guard;
    if host.restore(world, &snapshot).is_ok() {
        host.tick(world, 1.0 / 60.0);
        host.snapshot(world).expect("a restored simulation snapshots again");
    }
    host.restore(world, start).expect("the starting snapshot restores");
});
