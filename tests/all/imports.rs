//! Import audit: the guest component may import only what is listed here.
//! A new import (a WASI interface pulled in by a dependency, say) fails this
//! test until it is reviewed and added, with the host's answer to it.

use std::collections::BTreeSet;

use moonbox::GUEST_COMPONENT;
use wasmtime::component::Component;

use crate::support::engine;

/// Every interface the guest imports, and what the host answers (see
/// `host/src/wasi.rs`, whose unit tests check the WASI answers). Rust's std
/// and wasi-libc pull in the WASI ones; Lua reaches none of them directly,
/// since it has no `os`, `io` or `package`. No socket interface appears.
const ALLOWED: &[(&str, &str)] = &[
    (
        "moonbox:sandbox/console@0.1.0",
        "the sandbox console, bounded",
    ),
    (
        "moonbox:sandbox/ecs@0.1.0",
        "the world API, permission-checked per call",
    ),
    (
        "moonbox:sandbox/engine@0.1.0",
        "engine functions and commands, grant-checked per call, paid in fuel",
    ),
    (
        "moonbox:sandbox/meter@0.1.0",
        "charges fuel for unwinding (Lua errors)",
    ),
    (
        "moonbox:sandbox/profiler@0.1.0",
        "Lua stacks for the fuel profiler; ignored unless the engine profiles, bounded per call",
    ),
    (
        "moonbox:sandbox/snapshot@0.1.0",
        "moves the instance's own memory in and out for snapshots; reached only by the save and restore exports, never by Lua",
    ),
    (
        "wasi:cli/environment@0.2.6",
        "no variables, no arguments, no working directory",
    ),
    ("wasi:cli/exit@0.2.6", "traps the instance"),
    (
        "wasi:cli/stderr@0.2.6",
        "a 4 KiB buffer the host reads for diagnostics",
    ),
    ("wasi:cli/stdin@0.2.6", "closed"),
    ("wasi:cli/stdout@0.2.6", "discarded"),
    ("wasi:cli/terminal-input@0.2.6", "no terminal"),
    ("wasi:cli/terminal-output@0.2.6", "no terminal"),
    ("wasi:cli/terminal-stderr@0.2.6", "no terminal"),
    ("wasi:cli/terminal-stdin@0.2.6", "no terminal"),
    ("wasi:cli/terminal-stdout@0.2.6", "no terminal"),
    ("wasi:clocks/monotonic-clock@0.2.6", "always 0"),
    ("wasi:clocks/wall-clock@0.2.6", "always the Unix epoch"),
    ("wasi:filesystem/preopens@0.2.6", "no directories"),
    (
        "wasi:filesystem/types@0.2.6",
        "unreachable without a directory",
    ),
    ("wasi:io/error@0.2.6", "errors of the streams above"),
    ("wasi:io/poll@0.2.6", "polls the streams above"),
    ("wasi:io/streams@0.2.6", "the streams above"),
    ("wasi:random/random@0.2.6", "seeded from the sandbox config"),
];

#[test]
fn the_guest_imports_only_the_allow_list() {
    let wasmtime = engine().wasmtime_engine();
    let component = Component::new(wasmtime, GUEST_COMPONENT).unwrap();
    let imports: BTreeSet<String> = component
        .component_type()
        .imports(wasmtime)
        .map(|(name, _)| name.to_string())
        .collect();
    let allowed: BTreeSet<String> = ALLOWED.iter().map(|(name, _)| name.to_string()).collect();
    let unexpected: Vec<&String> = imports.difference(&allowed).collect();
    assert!(
        unexpected.is_empty(),
        "imports outside the allow-list: {unexpected:?}"
    );
    // The guest still needs each allowed import, or the list is stale.
    let unused: Vec<&String> = allowed.difference(&imports).collect();
    assert!(unused.is_empty(), "allowed but not imported: {unused:?}");
}
